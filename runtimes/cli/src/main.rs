//! `chimera`: run a backtest over a market-data file, or the self-contained demo.

mod args;
mod backtest;
mod demo;
mod report;
mod table;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Backtest(a) => backtest::run(&a),
        args::Command::Demo(a) => demo::run(&a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
