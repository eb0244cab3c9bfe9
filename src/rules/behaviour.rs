//! What a rule does around its answer: a delay drawn from a distribution, a
//! fault, a probability, all drawn from one seeded generator so that a run
//! can be repeated (`--seed`).

use crate::limits;
use std::time::Duration;

/// SplitMix64: a small, fast generator of well-mixed 64-bit values. Not for
/// secrets: it only decides which rule fires and how long a delay is, and
/// must give the same sequence for the same `--seed`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// How long a rule holds its answer back.
#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    /// This many milliseconds.
    Fixed(f64),
    /// Uniform between the two, in milliseconds.
    Uniform(f64, f64),
    /// Log-normal around a median, in milliseconds.
    LogNormal {
        /// The median.
        median_ms: f64,
        /// The spread of the logarithm.
        sigma: f64,
    },
}

/// Largest `sigma` of a log-normal delay: e^(10·3) is already 10^13 times
/// the median; beyond that the draws are all the cap.
pub const MAX_SIGMA: f64 = 10.0;

impl Delay {
    /// Checks the numbers (finite, not negative, in order).
    pub fn check(&self) -> Result<(), String> {
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        match *self {
            Delay::Fixed(ms) if ok(ms) => Ok(()),
            Delay::Uniform(a, b) if ok(a) && ok(b) && a <= b => Ok(()),
            Delay::LogNormal { median_ms, sigma }
                if ok(median_ms) && ok(sigma) && sigma <= MAX_SIGMA =>
            {
                Ok(())
            }
            Delay::Fixed(_) => Err("delay_ms must be a number of milliseconds, 0 or more".into()),
            Delay::Uniform(..) => {
                Err("delay_ms uniform needs [low, high] with 0 <= low <= high".into())
            }
            Delay::LogNormal { .. } => Err(format!(
                "delay_ms lognormal needs median_ms >= 0 and 0 <= sigma <= {MAX_SIGMA}"
            )),
        }
    }

    /// One draw, capped at `limits::MAX_DELAY`.
    pub fn draw(&self, rng: &mut Rng) -> Duration {
        let ms = match *self {
            Delay::Fixed(ms) => ms,
            Delay::Uniform(a, b) => a + rng.unit() * (b - a),
            Delay::LogNormal { median_ms, sigma } => median_ms * (sigma * rng.normal()).exp(),
        };
        limits::delay_from_secs(ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_draws() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(43).next_u64(), xs[0]);
    }

    #[test]
    fn delays_stay_in_range() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let d = Delay::Uniform(50.0, 150.0).draw(&mut r);
            assert!((50..=150).contains(&d.as_millis()), "{d:?}");
        }
        let mut draws: Vec<u128> = (0..1001)
            .map(|_| {
                Delay::LogNormal {
                    median_ms: 80.0,
                    sigma: 0.4,
                }
                .draw(&mut r)
                .as_millis()
            })
            .collect();
        draws.sort();
        assert!((70..=90).contains(&draws[500]), "median {}", draws[500]);
        // absurd numbers are capped, never a panic
        let huge = Delay::LogNormal {
            median_ms: 1e300,
            sigma: 10.0,
        };
        assert!(huge.draw(&mut r) <= limits::MAX_DELAY);
        assert!(Delay::Fixed(f64::NAN).check().is_err());
        assert!(Delay::Uniform(5.0, 1.0).check().is_err());
    }
}
