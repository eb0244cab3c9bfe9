//! The `understudy` command: parse the command line, set up logging and signals, run.

use std::process::ExitCode;
use understudy::config::{Command, Config};

fn main() -> ExitCode {
    // First, before anything large is allocated: buffers of 128 KiB and more
    // get mappings of their own, returned when freed, so that the server's RSS
    // follows what is in use (see understudy::server::alloc; issue 8's soak).
    let pinned = understudy::server::alloc::pin_mmap_threshold();
    // rustls warns about what clients send (PHP's mysqlnd names 127.0.0.1
    // in SNI, "Illegal SNI extension: ignoring IP address"): a line per
    // connection, which a client could use to flood the log. Quiet unless
    // RUST_LOG asks for it.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,rustls=error"),
    )
    .init();
    if !pinned {
        log::debug!("malloc's mmap threshold not pinned (not glibc, or refused)");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match Config::from_args(&args) {
        Ok(Command::Run(c)) => *c,
        Ok(Command::Help(u)) => {
            print!("{u}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("understudy {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(u) => {
            eprintln!("understudy: {}\n\n{}", u.message, u.usage);
            return ExitCode::from(2);
        }
    };
    let result = understudy::run(config, |addr, control| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    for sig in signals.forever() {
                        if sig == SIGHUP {
                            control.reload();
                        } else {
                            control.shutdown();
                        }
                    }
                });
            }
            Err(e) => log::warn!("cannot install signal handlers: {e}"),
        }
        // Only now: whoever waits for this line may signal at once, and a
        // signal before the handlers were installed would kill the process.
        eprintln!("understudy: listening on {addr}");
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("understudy: {e}");
            ExitCode::FAILURE
        }
    }
}
