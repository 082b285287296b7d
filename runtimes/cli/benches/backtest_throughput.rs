//! Whole-process backtest benchmark: `cargo bench -p chimera-cli --bench backtest_throughput`.
//!
//! Runs `chimera backtest` (parse + kernel + simulated venue + full report) over the 45k-bar
//! reference file repeatedly and prints wall time (min / median / p90), bars per second and peak
//! RSS (via GNU `time` when installed). Also times the reader alone on each Binance capture and
//! the demo, and, with `CHIMERA_BENCH_NAUTILUS=1`, compares with NautilusTrader 1.221 in the
//! same run (see `nautilus/compare.rs`). `CHIMERA_BENCH_CHIMERA=<path>` times another build of
//! `chimera` instead of this one's (a profile-guided build, say). Skips with a message when
//! `CHIMERA_REFERENCE_DATA` is unset.

#[path = "nautilus/compare.rs"]
mod nautilus;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 30;
const BARS: f64 = 45_031.0;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let Some(data) = std::env::var_os("CHIMERA_REFERENCE_DATA").map(PathBuf::from) else {
        println!("skipped: set CHIMERA_REFERENCE_DATA to the reference data folder");
        return;
    };
    let bars = data.join("bars/btc-perp-20211231-20220201_1m.csv");
    // Another build of `chimera` (say, `./scripts/pgo.sh`'s) in place of this one's.
    let exe = std::env::var("CHIMERA_BENCH_CHIMERA")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_chimera").to_owned());
    let exe = exe.as_str();
    println!("chimera: {exe}");
    let report = std::env::temp_dir().join(format!("chimera-bench-{}", std::process::id()));
    let args = |report: &PathBuf| {
        vec![
            "backtest".to_owned(),
            "--data".into(),
            bars.display().to_string(),
            "--strategy".into(),
            "ema-cross".into(),
            "--param".into(),
            "fast=10".into(),
            "--param".into(),
            "slow=20".into(),
            "--param".into(),
            "qty=0.1".into(),
            // The instrument NautilusTrader's side of the comparison trades.
            nautilus::SAME_INSTRUMENT[0].into(),
            nautilus::SAME_INSTRUMENT[1].into(),
            nautilus::SAME_INSTRUMENT[2].into(),
            nautilus::SAME_INSTRUMENT[3].into(),
            "--report".into(),
            report.display().to_string(),
        ]
    };
    // One whole run, timed, with the summary it wrote.
    let chimera_once = || {
        let _ = std::fs::remove_dir_all(&report);
        let started = Instant::now();
        let out = Command::new(exe)
            .args(args(&report))
            .output()
            .expect("run chimera");
        let elapsed = started.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = std::fs::read(report.join("summary.json")).expect("summary.json");
        (elapsed, serde_json::from_slice(&summary).expect("summary"))
    };
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..=RUNS {
        let (elapsed, _) = chimera_once();
        if run > 0 {
            times.push(elapsed); // run 0 warms the page cache
        }
    }
    times.sort();
    let median = percentile(&times, 0.5);
    println!("backtest ema-cross 10/20 over {BARS} one-minute bars, whole process incl. report, {RUNS} runs:");
    println!(
        "  wall min {:.1} ms, median {:.1} ms, p90 {:.1} ms",
        ms(times[0]),
        ms(median),
        ms(percentile(&times, 0.9))
    );
    println!(
        "  throughput {:.0} bars/s (median)",
        BARS / median.as_secs_f64()
    );
    match Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(exe)
        .args(args(&report))
        .output()
    {
        Ok(out) if out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let kb = stderr.lines().last().unwrap_or("?");
            println!("  peak RSS {kb} KB");
        }
        _ => println!("  peak RSS: GNU time not installed (apt-get install time)"),
    }
    nautilus::compare(&bars, &chimera_once);
    let _ = std::fs::remove_dir_all(&report);

    let demo = std::env::temp_dir().join(format!("chimera-bench-demo-{}", std::process::id()));
    let started = Instant::now();
    let out = Command::new(exe)
        .args(["demo", "--out"])
        .arg(&demo)
        .output()
        .expect("run demo");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events = stdout
        .lines()
        .find(|l| l.contains("events through the bus"))
        .unwrap_or("")
        .to_owned();
    println!("demo (4 portfolios, 3 symbols, 30 days of 1m bars through the in-memory bus): {:.0} ms; {events}", ms(started.elapsed()));
    let _ = std::fs::remove_dir_all(&demo);
}
