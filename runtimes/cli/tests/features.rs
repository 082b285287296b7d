//! `chimera features`: CSV of the kernel's features over a data file, on TA-Lib's reference
//! series (bars) and a Binance capture (bars built from trades, book features), and every bad
//! feature name refused at once.

use std::path::PathBuf;
use std::process::{Command, Output};

fn chimera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args(args)
        .output()
        .expect("run chimera")
}

fn reference(path: &str) -> Option<String> {
    let dir = std::env::var_os("CHIMERA_REFERENCE_DATA").map(PathBuf::from);
    match dir.map(|d| d.join(path)) {
        Some(p) if p.is_file() => Some(p.to_string_lossy().into_owned()),
        _ => {
            println!("skipped: CHIMERA_REFERENCE_DATA does not point at the reference data");
            None
        }
    }
}

fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let i = header.iter().position(|h| *h == name).expect("column");
    lines
        .map(|l| l.split(',').nth(i).unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn talib_series_gives_talib_atr_with_empty_cells_while_warming_up() {
    let Some(data) = reference("reference/talib_daily_ref_252.csv") else {
        return;
    };
    let out = chimera(&[
        "features",
        "--data",
        &data,
        "-f",
        "atr:14",
        "-f",
        "tr",
        "-f",
        "rv:20",
        "--bar-secs",
        "86400",
        "--periods-per-year",
        "252",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).expect("utf-8");
    assert!(csv.starts_with("timestamp,atr:14,tr,rv:20\n2000-01-03T00:00:00.000Z,,,\n"));
    let atr = column(&csv, "atr:14");
    assert_eq!(atr.len(), 252, "a row per bar");
    assert!(atr[..14].iter().all(String::is_empty));
    assert!(
        atr[14].starts_with("3.578"),
        "TA-Lib's first ATR(14): {}",
        atr[14]
    );
    assert!(
        column(&csv, "tr")[1].starts_with("3.53"),
        "TA-Lib's first true range"
    );
    assert!(column(&csv, "rv:20")[20].parse::<f64>().is_ok());
}

#[test]
fn a_binance_capture_gives_minute_rows_with_book_and_trade_features() {
    let Some(data) = reference("binance/usdm/btcusdt_20240808.gz") else {
        return;
    };
    let out = chimera(&[
        "features",
        "--data",
        &data,
        "-f",
        "mid",
        "-f",
        "spread_bps",
        "-f",
        "depth:10",
        "-f",
        "imbalance:100",
        "-f",
        "vwap:100",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).expect("utf-8");
    let mids: Vec<f64> = column(&csv, "mid")
        .iter()
        .map(|m| m.parse().expect("mid"))
        .collect();
    assert!(mids.len() >= 5, "a row per completed minute: {csv}");
    assert!(
        mids.iter().all(|m| (50_000.0..80_000.0).contains(m)),
        "{mids:?}"
    );
    for name in ["spread_bps", "depth:10", "imbalance:100", "vwap:100"] {
        assert!(
            column(&csv, name).iter().all(|v| v.parse::<f64>().is_ok()),
            "{name} has a value on every row of an L2 capture"
        );
    }
}

#[test]
fn every_bad_feature_is_listed_at_once() {
    let out = chimera(&[
        "features",
        "--data",
        "nowhere.csv",
        "-f",
        "atr",
        "-f",
        "rsi:14",
        "-f",
        "rv:0",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for bad in ["`atr`", "`rsi:14`", "`rv:0`"] {
        assert!(err.contains(bad), "{bad} missing from: {err}");
    }
}
