//! `cargo bench --bench loadgen -- WORKLOAD [options]`: understudy's load
//! generator (see benches/loadgen/mod.rs and benches/run.sh).

#[path = "loadgen/mod.rs"]
mod loadgen;

use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str =
    "loadgen WORKLOAD [options]; workloads: handshake query prepared big idle startup storm soak";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut o = getopts::Options::new();
    o.optopt("", "host", "server host", "HOST");
    o.optopt("", "port", "server port", "PORT");
    o.optopt("", "user", "user", "USER");
    o.optopt("", "password", "password", "PW");
    o.optopt("", "conns", "connections", "N");
    o.optopt("", "secs", "seconds", "S");
    o.optopt("", "sql", "query", "SQL");
    o.optopt("", "server-pid", "server pid (idle)", "PID");
    o.optopt("", "label", "label in the JSON", "TEXT");
    o.optopt("", "server-cmd", "server command line (startup)", "CMD");
    o.optflag(
        "",
        "no-deprecate-eof",
        "do not ask for CLIENT_DEPRECATE_EOF",
    );
    o.optopt("", "total", "storm: connections in all", "N");
    o.optopt("", "in-flight", "soak: logins in flight while opening", "N");
    o.optopt("", "timeout", "storm/soak: login timeout, seconds", "S");
    o.optopt("", "warmup", "soak: warm-up seconds", "S");
    o.optopt("", "sample", "soak: seconds between RSS samples", "S");
    o.optopt("", "churn", "soak: handshake-churn connections", "N");
    o.optopt("", "query-conns", "soak: query-load connections", "N");
    o.optopt("", "stuck", "soak: clients that never read", "N");
    o.optopt("", "multi", "soak: statements in one multi-statement", "N");
    o.optopt(
        "",
        "check-sql",
        "soak: final check statement (default COM_PING)",
        "SQL",
    );
    o.optopt("", "max-packet", "soak: the server's --max-packet", "BYTES");
    o.optopt(
        "",
        "tls",
        "log in over TLS: full (every login a full handshake) or resume (tickets)",
        "full|resume",
    );
    o.optopt(
        "",
        "ssl-ca",
        "TLS: CA certificates (PEM) to verify the server with",
        "FILE",
    );
    o.optopt(
        "",
        "tls-name",
        "TLS: the name to verify (default localhost)",
        "NAME",
    );
    o.optopt(
        "",
        "tls-version",
        "TLS: 1.2 for TLS 1.2 only (default 1.3 or 1.2)",
        "1.2",
    );
    o.optflag("", "compress", "big: ask for CLIENT_COMPRESS (zlib)");
    o.optopt("", "probe-timeout", "soak: seconds a probe waits", "S");
    let m = match o.parse(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}\n{}", o.usage(USAGE));
            return ExitCode::from(2);
        }
    };
    let Some(workload) = m.free.first().cloned() else {
        eprintln!("{}", o.usage(USAGE));
        return ExitCode::from(2);
    };
    let host = m.opt_str("host").unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = m
        .opt_str("port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(4040);
    let Some(addr) = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        eprintln!("bad address");
        return ExitCode::from(2);
    };
    // Storms and soaks hold thousands of sockets: the soft descriptor limit
    // goes up to the hard one for every workload (harmless for the others).
    let nofile = loadgen::raise_nofile();
    let num = |name: &str, default: f64| -> f64 {
        m.opt_str(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let tls = match m.opt_str("tls").as_deref() {
        None => None,
        Some(mode @ ("full" | "resume")) => {
            let Some(ca) = m.opt_str("ssl-ca") else {
                eprintln!("--tls needs --ssl-ca FILE");
                return ExitCode::from(2);
            };
            let name = m.opt_str("tls-name").unwrap_or_else(|| "localhost".into());
            let tls12 = m.opt_str("tls-version").as_deref() == Some("1.2");
            match loadgen::TlsClient::new(&ca, &name, mode == "resume", tls12) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("--tls: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        Some(other) => {
            eprintln!("--tls {other}: expected full or resume");
            return ExitCode::from(2);
        }
    };
    let t = loadgen::Target {
        addr,
        user: m.opt_str("user").unwrap_or_else(|| "u".into()),
        password: m.opt_str("password").unwrap_or_else(|| "p".into()),
        deprecate_eof: !m.opt_present("no-deprecate-eof"),
        tls,
        compress: m.opt_present("compress"),
    };
    let conns: usize = m.opt_str("conns").and_then(|v| v.parse().ok()).unwrap_or(1);
    let secs: f64 = m
        .opt_str("secs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let sql = m.opt_str("sql").unwrap_or_else(|| "SELECT 1".into());
    let label = m.opt_str("label").unwrap_or_default();
    let lbl = ("label", label.clone());
    // The server's own CPU time over the run (utime + stime), when its pid is
    // known: CPU per operation is a capacity figure that does not depend on
    // which side of a two-core machine saturates first.
    let server_pid: Option<u32> = m.opt_str("server-pid").and_then(|v| v.parse().ok());
    let cpu_before = server_pid.and_then(loadgen::cpu_secs);
    let line = match workload.as_str() {
        "handshake" => loadgen::handshake(&t, conns, secs)
            .json("handshake", &[lbl, ("conns", conns.to_string())]),
        "query" => loadgen::query(&t, conns, secs, &sql).json(
            "query",
            &[
                lbl,
                ("conns", conns.to_string()),
                ("sql", sql.replace('"', "'")),
            ],
        ),
        "prepared" => loadgen::prepared(&t, conns, secs, &sql).json(
            "prepared",
            &[
                lbl,
                ("conns", conns.to_string()),
                ("sql", sql.replace('"', "'")),
            ],
        ),
        "big" => loadgen::big(&t, &sql, secs.max(60.0))
            .json("big", &[lbl, ("sql", sql.replace('"', "'"))]),
        "idle" => {
            let pid: u32 = m
                .opt_str("server-pid")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let (mut out, before, after, opened) = loadgen::idle(&t, conns, pid);
            let per = if opened > 0 {
                (after.saturating_sub(before)) as f64 / opened as f64
            } else {
                0.0
            };
            out.json(
                "idle",
                &[
                    lbl,
                    ("conns", conns.to_string()),
                    ("opened", opened.to_string()),
                    ("rss_before", before.to_string()),
                    ("rss_after", after.to_string()),
                    ("bytes_per_conn", format!("{per:.0}")),
                ],
            )
        }
        "storm" => {
            let total = num("total", 10_000.0) as usize;
            let timeout = Duration::from_secs_f64(num("timeout", 10.0));
            let (mut out, held) = loadgen::storm(&t, total, conns, timeout);
            held.quit_all();
            let failed = (total as u64).saturating_sub(out.ops);
            out.json(
                "storm",
                &[
                    lbl,
                    ("total", total.to_string()),
                    ("in_flight", conns.to_string()),
                    ("failed", failed.to_string()),
                    ("establish_secs", format!("{:.3}", out.secs)),
                    ("nofile", nofile.to_string()),
                ],
            )
        }
        "soak" => {
            let cfg = loadgen::soak::Config {
                target: t.clone(),
                server_pid: server_pid.unwrap_or(0),
                held: conns,
                in_flight: num("in-flight", 500.0) as usize,
                login_timeout: Duration::from_secs_f64(num("timeout", 10.0)),
                secs,
                warmup: num("warmup", 60.0),
                sample: num("sample", 10.0),
                churn: num("churn", 50.0) as usize,
                query_conns: num("query-conns", 50.0) as usize,
                sql: sql.clone(),
                multi: num("multi", 0.0) as usize,
                stuck: num("stuck", 8.0) as usize,
                check_sql: m.opt_str("check-sql").filter(|s| !s.is_empty()),
                max_packet: num("max-packet", (64 << 20) as f64) as usize,
                probe_timeout: Duration::from_secs_f64(num("probe-timeout", 15.0)),
            };
            let r = loadgen::soak::soak(&cfg);
            eprintln!("{}", r.summary(&label));
            println!("{}", r.json(&label));
            return if r.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
        "startup" => {
            // exec the server command (after --), poll-login until it answers
            let Some(cmd) = m.opt_str("server-cmd") else {
                eprintln!("startup needs --server-cmd");
                return ExitCode::from(2);
            };
            let (mut out, rss, ms) = loadgen::startup(&t, &cmd);
            out.json(
                "startup",
                &[
                    lbl,
                    ("startup_ms", format!("{ms:.2}")),
                    ("idle_rss", rss.to_string()),
                ],
            )
        }
        other => {
            eprintln!("unknown workload {other}");
            return ExitCode::from(2);
        }
    };
    let line = match (server_pid, cpu_before) {
        (Some(pid), Some(before)) if workload != "idle" => {
            let used = loadgen::cpu_secs(pid).unwrap_or(before) - before;
            let ops: f64 = line
                .split("\"ops\":")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            let per = if ops > 0.0 { used * 1e6 / ops } else { 0.0 };
            format!(
                "{},\"server_cpu_s\":{used:.3},\"server_cpu_us_per_op\":{per:.2}}}",
                &line[..line.len() - 1]
            )
        }
        _ => line,
    };
    println!("{line}");
    ExitCode::SUCCESS
}
