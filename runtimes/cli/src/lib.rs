//! # chimera-cli
//!
//! The `chimera` command as a library, so a user's crate can ship its own `chimera` with its
//! own strategies registered beside the built-in ones, without editing Chimera:
//!
//! ```no_run
//! use chimera_kernel::strategy::StrategyRegistry;
//!
//! fn main() -> std::process::ExitCode {
//!     let mut strategies = StrategyRegistry::builtin();
//!     // strategies.register("my-strategy", my_crate::build_my_strategy);
//!     chimera_cli::run(&strategies)
//! }
//! ```
//!
//! That binary has every subcommand — `backtest`, `demo`, `up` (also with `--processes`, which
//! starts the binary itself as `node`, `gateway` and `feed`), and the three runtime processes
//! — all building strategies from the registry it was given.

/// `println!` that returns an error instead of panicking when stdout is gone (e.g. `| head`).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

/// `print!("{}", text)` with the same contract as [`say!`].
#[macro_export]
macro_rules! say_raw {
    ($text:expr) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), "{}", $text)?
    }};
}

mod args;
mod backtest;
mod ctl;
mod ctl_kill;
mod demo;
mod features;
mod process;
mod record;
mod report;
mod table;
mod transfer;
mod up;

use chimera_kernel::strategy::StrategyRegistry;
use clap::Parser;

/// Parses the command line, runs the command with `strategies`, prints any error with its
/// causes on stderr, and returns the exit code.
///
/// The long-running commands (`up`, `node`, `gateway`, `feed`) first restart the process with
/// a cap on the allocator's arenas ([`chimera_live::memory::cap_malloc_arenas`]): call
/// `run` before starting threads of your own.
pub fn run(strategies: &StrategyRegistry) -> std::process::ExitCode {
    let cli = args::Cli::parse();
    if matches!(
        cli.command,
        args::Command::Up(_)
            | args::Command::Node(_)
            | args::Command::Gateway(_)
            | args::Command::Feed(_)
    ) {
        chimera_live::memory::cap_malloc_arenas();
    }
    let result = match cli.command {
        args::Command::Backtest(a) => backtest::run(&a, strategies),
        args::Command::Demo(a) => demo::run(&a),
        args::Command::Features(a) => features::run(&a),
        args::Command::Up(a) => up::run(&a, strategies),
        args::Command::Node(a) => process::node(&a, strategies),
        args::Command::Gateway(a) => process::gateway(&a),
        args::Command::Feed(a) => process::feed(&a),
        args::Command::Ctl(a) => ctl::run(&a),
        args::Command::Record(a) => record::run(&a),
        args::Command::Transfer(a) => transfer::run(&a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether the failure is only that the reader of our output went away.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
