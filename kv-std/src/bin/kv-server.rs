//! `kv-server`: parses flags, starts logging, and runs the server until SIGINT or SIGTERM.

use kv_std::config::{Args, ArgsError, Config};
use kv_std::server::Server;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::process::ExitCode;

fn main() -> ExitCode {
    let (args, ignored) = match Args::parse_with_file(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(ArgsError::Flags(e)) => e.exit(),
        Err(e) => {
            eprintln!("kv-server: {e}");
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::new()
        .filter_level(args.log_level)
        .parse_env("RUST_LOG")
        .format_timestamp_millis()
        .init();
    for line in ignored {
        log::warn!("configuration file: kv has no such setting, line ignored: {line}");
    }
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kv-server: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = config.addr;
    let server = match Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot start on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.shutdown_handle();
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            log::info!("received signal {signal}");
            stop.shutdown();
        }
    });
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}
