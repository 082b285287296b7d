//! `chimera` end to end: the binary, real files, real reports.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chimera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args(args)
        .output()
        .expect("run chimera")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chimera-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn reference_bars() -> Option<PathBuf> {
    let dir = std::env::var_os("CHIMERA_REFERENCE_DATA").map(PathBuf::from);
    match dir.map(|d| d.join("bars/btc-perp-20211231-20220201_1m.csv")) {
        Some(path) if path.is_file() => Some(path),
        _ => {
            println!("skipped: CHIMERA_REFERENCE_DATA does not point at the reference data");
            None
        }
    }
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

/// `chimera backtest` with ema-cross over `data`, plus `extra` arguments; must succeed.
fn ema_backtest(data: &Path, params: [&str; 3], extra: &[&str]) -> Output {
    let mut args = vec![
        "backtest",
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        "ema-cross",
    ];
    for param in &params {
        args.extend(["--param", param]);
    }
    args.extend(extra);
    let out = chimera(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn backtest_on_reference_bars_writes_a_complete_report() {
    let Some(data) = reference_bars() else { return };
    let dir = temp_dir("ref");
    ema_backtest(
        &data,
        ["fast=10", "slow=20", "qty=0.1"],
        &["--report", dir.to_str().unwrap()],
    );
    let s = summary(&dir);
    for key in [
        "final_equity",
        "realized_pnl",
        "fees",
        "funding",
        "max_drawdown",
    ] {
        let text = s[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is a string"));
        text.parse::<f64>()
            .unwrap_or_else(|_| panic!("{key} = {text} is a number"));
    }
    assert_eq!(s["events"], 45_031);
    let fills = s["fills"].as_u64().unwrap();
    assert!(fills > 100 && s["orders"].as_u64().unwrap() >= fills);
    assert_eq!(
        lines(&dir.join("fills.csv")) as u64,
        fills + 1,
        "one row per fill plus header"
    );
    assert_eq!(
        lines(&dir.join("equity.csv")),
        45_031 + 1,
        "one equity point per one-minute bar"
    );
    let svg = std::fs::read_to_string(dir.join("equity.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("polyline"),
        "chart drawn"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("ema-cross") && html.contains("fills.csv") && html.contains("<svg"));
    // Exact accounting: final equity = initial + realized − fees + funding + unrealized.
    let d = |k: &str| {
        s["portfolios"][0][k]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let rebuilt =
        d("initial_equity") + d("realized_pnl") - d("fees") + d("funding") + d("unrealized_pnl");
    assert!(
        (rebuilt - d("final_equity")).abs() < 1e-6,
        "{rebuilt} vs {}",
        d("final_equity")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn backtest_is_deterministic() {
    let Some(data) = reference_bars() else { return };
    let run = |name: &str| {
        let dir = temp_dir(name);
        let extra = [
            "--latency-ms",
            "30000",
            "--bar-fill",
            "next-open",
            "--report",
            dir.to_str().unwrap(),
        ];
        ema_backtest(&data, ["fast=5", "slow=50", "qty=0.2"], &extra);
        let fills = std::fs::read(dir.join("fills.csv")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        fills
    };
    assert_eq!(run("det-a"), run("det-b"));
}

#[test]
fn scripted_backtest_replays_a_trade_list_on_spot() {
    let dir = temp_dir("scripted");
    let data = dir.join("bars.csv");
    let mut csv = String::from("timestamp,open,high,low,close,volume\n");
    for minute in 0..10 {
        let price = 100 + minute;
        let _ = writeln!(
            csv,
            "2024-01-01 00:{minute:02}:00.000000,{price},{price},{price},{price},1"
        );
    }
    std::fs::write(&data, csv).unwrap();
    let report = dir.join("report");
    let out = chimera(&[
        "backtest",
        "--data",
        data.to_str().unwrap(),
        "--symbol",
        "ETHUSDT",
        "--market",
        "spot",
        "--taker-fee",
        "0",
        "--quote-balance",
        "1000",
        "--strategy",
        "scripted",
        "--param",
        "orders=2024-01-01T00:02:00Z:BUY:2,2024-01-01T00:07:30Z:SELL:2",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&report);
    assert_eq!(s["fills"], 2);
    // bought 2 at 102, sold 2 at the first bar at/after 00:07:30, i.e. 00:08 at 108
    assert_eq!(s["realized_pnl"], "12");
    assert_eq!(s["final_equity"], "1012");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_arguments_are_all_listed() {
    let out = chimera(&[
        "backtest",
        "--data",
        "/nonexistent.csv",
        "--market",
        "options",
        "--taker-fee",
        "2",
        "--strategy",
        "ema-cross",
        "--param",
        "fast=x",
        "--param",
        "nonsense",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "--market options",
        "--taker-fee 2",
        "fast=x",
        "--param nonsense",
        "missing param `slow`",
    ] {
        assert!(err.contains(needle), "`{needle}` not in:\n{err}");
    }
}

#[test]
fn unreadable_data_is_a_clear_error() {
    let out = chimera(&[
        "backtest",
        "--data",
        "/nonexistent/bars.csv",
        "--strategy",
        "ema-cross",
        "--param",
        "fast=1",
        "--param",
        "slow=2",
        "--param",
        "qty=1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/bars.csv"));
}

#[test]
fn demo_runs_without_inputs_and_writes_a_report() {
    let dir = temp_dir("demo");
    let out = chimera(&["demo", "--out", dir.to_str().unwrap(), "--minutes", "2000"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 undecodable"), "{stdout}");
    let s = summary(&dir);
    let portfolios = s["portfolios"].as_array().unwrap();
    assert_eq!(portfolios.len(), 4);
    assert!(
        portfolios.iter().all(|p| p["fills"].as_u64().unwrap() > 0),
        "every portfolio traded: {s}"
    );
    for file in ["fills.csv", "equity.csv", "equity.svg", "report.html"] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let again = temp_dir("demo-again");
    let out = chimera(&[
        "demo",
        "--out",
        again.to_str().unwrap(),
        "--minutes",
        "2000",
    ]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(dir.join("fills.csv")).unwrap(),
        std::fs::read(again.join("fills.csv")).unwrap(),
        "seeded demo is reproducible"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&again).unwrap();
}
