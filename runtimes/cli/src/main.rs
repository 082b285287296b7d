//! `chimera`: run a backtest over a market-data file, or the self-contained demo.

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
mod demo;
mod report;
mod table;
mod up;
mod up_processes;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Backtest(a) => backtest::run(&a),
        args::Command::Demo(a) => demo::run(&a),
        args::Command::Up(a) => up::run(&a),
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
