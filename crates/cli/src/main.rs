//! The `piratenldap` binary: a thin shell that parses the command line, sets up logging and
//! maps errors to exit codes (0 success, 1 an error the user can fix, 2 usage).

mod args;
mod commands;
mod context;
mod files;
mod log_limit;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// mimalloc instead of glibc malloc: the directory view is many small strings rebuilt on every
/// change, and glibc's per-thread arenas kept several old views' worth of memory (measured:
/// 800 MB RSS after ten rebuilds at 30 000 members, see docs/performance.md). The choice and
/// its one tuning call live in `piratenldap-allocator`.
#[global_allocator]
static ALLOCATOR: piratenldap_allocator::Allocator = piratenldap_allocator::ALLOCATOR;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    // ldap3_proto logs every malformed PDU and unknown control itself, as a client dictates
    // (one message could write thousands of lines): off by default; the connection logs one
    // debug line when it closes on a PDU that does not decode.
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("PIRATENLDAP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    if let Ok(quiet) = "ldap3_proto=off".parse() {
        filter = filter.add_directive(quiet);
    }
    let rate_limit = log_limit::RateLimit::default();
    // PIRATENLDAP_LOG_FORMAT=json: one JSON object per line (for Loki, journald's JSON
    // shippers and the like); anything else: text.
    let json = std::env::var("PIRATENLDAP_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let (text, json) = if json {
        (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_writer(log_limit::BoundedStderr),
            ),
        )
    } else {
        (
            Some(tracing_subscriber::fmt::layer().with_writer(log_limit::BoundedStderr)),
            None,
        )
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(rate_limit.clone())
        .with(text)
        .with(json)
        .init();
    rate_limit.report_in_background();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
