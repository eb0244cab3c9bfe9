//! The bounds every path over client input and script output is held to, in
//! one place: one thread serves every connection, so one client's worst case is
//! everybody's latency and memory.
//!
//! What grows with the client's input (statement text, packets) is bounded by
//! `--max-packet`; what a single command may make the server produce or wait
//! for is bounded here.

use std::time::{Duration, Instant};

/// Longest delay any source may ask for (a script's `proxy.response.delay`, a
/// rule's `delay_ms`). A day is far beyond any test's patience, and it keeps
/// every deadline far from `Instant`'s overflow whatever a script returns.
pub const MAX_DELAY: Duration = Duration::from_secs(86_400);

/// Longest wait the loop computes from configuration (timeouts): ten years is
/// "never" for a server, and keeps `now + wait` representable.
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Largest packet accepted before login. A real client's handshake response
/// with connection attributes is a few hundred bytes (MySQL caps the
/// attributes at 64 KiB); anything larger is not a client logging in, and is
/// refused as soon as its header arrives instead of being buffered until the
/// handshake timeout.
pub const MAX_PRELOGIN_PACKET: usize = 64 * 1024;

/// Most bytes one command's answer may take when it cannot be produced in
/// pieces (a script's resultset or RAW packets): past it the answer is replaced
/// by an ERR. The default of `Config::max_answer`. Big enough for the 1M-row benchmark answer (about 20 MB) many
/// times over; small enough that a script returning absurd values (a 16 MB
/// string in every cell of a million rows) cannot exhaust memory.
/// Answers that can be resumed (multi-statement lists) are not bound by it:
/// they pause at the write high-water mark instead.
pub const MAX_ANSWER: usize = 1 << 30;

/// `now + d`, with `d` capped at [`MAX_WAIT`]: never overflows, whatever the
/// configuration or a script asked for.
pub fn deadline(now: Instant, d: Duration) -> Instant {
    // invariant: MAX_WAIT after any Instant the loop can see is representable
    // (Instant counts from boot); checked anyway, falling back to the cap.
    now.checked_add(d.min(MAX_WAIT))
        .or_else(|| now.checked_add(MAX_DELAY))
        .unwrap_or(now)
}

/// A delay from any source, capped at [`MAX_DELAY`].
pub fn cap_delay(d: Duration) -> Duration {
    d.min(MAX_DELAY)
}

/// Seconds from a script or a rule (any float, possibly absurd) as a capped
/// delay: NaN and negatives are no delay.
pub fn delay_from_secs(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).map_or(MAX_DELAY, cap_delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_never_overflow() {
        let now = Instant::now();
        assert_eq!(deadline(now, Duration::MAX), now + MAX_WAIT);
        assert_eq!(
            deadline(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(delay_from_secs(1e300), MAX_DELAY);
        assert_eq!(delay_from_secs(f64::INFINITY), MAX_DELAY);
        assert_eq!(delay_from_secs(f64::NAN), Duration::ZERO);
        assert_eq!(delay_from_secs(-5.0), Duration::ZERO);
        assert_eq!(delay_from_secs(0.25), Duration::from_millis(250));
        assert_eq!(cap_delay(Duration::from_secs(u64::MAX)), MAX_DELAY);
    }
}
