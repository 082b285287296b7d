//! The comparison with NautilusTrader 1.221, measured in the same run: `chimera backtest` (the
//! whole process, with its report) and NautilusTrader's `engine.run()` alone on the same bars
//! and strategy, taken in turn so both see the same machine, then compared by medians. Both
//! must also end with the same fills and the same final balance to the last digit.
//!
//! Opt-in (NautilusTrader takes seconds per run): `CHIMERA_BENCH_NAUTILUS=1`. The virtual
//! environment lives outside the repository (`CHIMERA_BENCH_NAUTILUS_VENV`, default
//! `~/.cache/chimera/nautilus-1.221`) and is created with `pip install nautilus_trader==1.221.0`
//! when missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const VERSION: &str = "1.221.0";

/// Instrument settings matching NautilusTrader's `TestInstrumentProvider.btcusdt_perp_binance()`.
pub(crate) const SAME_INSTRUMENT: [&str; 4] = ["--taker-fee", "0.00018", "--tick-size", "0.1"];

fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("CHIMERA_BENCH_NAUTILUS_VENV") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/chimera/nautilus-1.221")
}

fn ensure_installed(venv: &Path) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args([
            "-c",
            "import nautilus_trader, sys; sys.exit(nautilus_trader.__version__ != '1.221.0')",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return Ok(python);
    }
    println!(
        "installing NautilusTrader {VERSION} into {} (a few minutes, once)",
        venv.display()
    );
    let run = |cmd: &mut Command| match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{cmd:?} exited with {s}")),
        Err(e) => Err(format!("{cmd:?}: {e}")),
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "-q",
        &format!("nautilus_trader=={VERSION}"),
    ]))?;
    Ok(python)
}

/// What one NautilusTrader run printed.
struct NautilusRun {
    seconds: f64,
    fills: u64,
    final_balance: String,
}

fn nautilus_once(python: &Path, bars: &Path) -> Result<NautilusRun, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/nautilus/ema_cross.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(bars)
        .arg("1")
        .output()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("NautilusTrader's output: {e}"))?;
    Ok(NautilusRun {
        seconds: json["seconds"][0].as_f64().ok_or("no seconds")?,
        fills: json["fills"].as_u64().ok_or("no fills")?,
        final_balance: json["final_balance"]
            .as_str()
            .ok_or("no balance")?
            .to_owned(),
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs the comparison when asked to; `chimera_once` runs the whole `chimera backtest` with
/// [`SAME_INSTRUMENT`] and returns its wall time and its `summary.json`.
pub(crate) fn compare(bars: &Path, chimera_once: &dyn Fn() -> (Duration, serde_json::Value)) {
    if std::env::var_os("CHIMERA_BENCH_NAUTILUS").is_none() {
        println!("NautilusTrader comparison skipped: set CHIMERA_BENCH_NAUTILUS=1 to run it");
        return;
    }
    let python = match ensure_installed(&venv()) {
        Ok(python) => python,
        Err(e) => {
            println!("NautilusTrader comparison skipped: could not install it: {e}");
            return;
        }
    };
    let rounds: usize = std::env::var("CHIMERA_BENCH_NAUTILUS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut last = None;
    let started = Instant::now();
    for round in 1..=rounds {
        // Five of ours per one of theirs: ours is short enough for one noisy moment to matter.
        for _ in 0..5 {
            let (took, summary) = chimera_once();
            ours.push(took.as_secs_f64());
            last = Some(summary);
        }
        match nautilus_once(&python, bars) {
            Ok(run) => {
                println!(
                    "  round {round}/{rounds}: NautilusTrader engine.run() {:.2} s",
                    run.seconds
                );
                theirs.push(run.seconds);
                let summary = last.as_ref().expect("ran chimera");
                let ours_fills = summary["fills"].as_u64().unwrap_or(0);
                let ours_final = summary["final_equity"].as_str().unwrap_or("?");
                let same_balance = ours_final.parse::<rust_decimal::Decimal>().ok()
                    == run.final_balance.parse::<rust_decimal::Decimal>().ok();
                assert!(
                    ours_fills == run.fills && same_balance,
                    "the two engines disagree: chimera {ours_fills} fills, final {ours_final}; \
                     NautilusTrader {} fills, final {}",
                    run.fills,
                    run.final_balance
                );
            }
            Err(e) => {
                println!("NautilusTrader comparison stopped: {e}");
                return;
            }
        }
    }
    let (ours, theirs) = (median(ours), median(theirs));
    let summary = last.expect("ran chimera");
    println!(
        "vs NautilusTrader {VERSION} (runs taken in turn, {:.0} s): chimera backtest with report \
         median {:.1} ms, NautilusTrader engine.run() alone median {:.2} s: {:.0}x",
        started.elapsed().as_secs_f64(),
        ours * 1e3,
        theirs,
        theirs / ours
    );
    println!(
        "  same outcome: {} fills, final balance {} USDT in both",
        summary["fills"],
        summary["final_equity"].as_str().unwrap_or("?")
    );
}
