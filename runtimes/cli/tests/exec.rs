//! `chimera backtest --exec`: the strategy's market orders worked by execution algorithms on
//! a Binance L2 capture, one run per algorithm, compared.

use std::path::PathBuf;
use std::process::{Command, Output};

fn chimera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args(args)
        .output()
        .expect("run chimera")
}

fn capture() -> Option<PathBuf> {
    let dir = std::env::var_os("CHIMERA_REFERENCE_DATA").map(PathBuf::from);
    match dir.map(|d| d.join("binance/usdm/btcusdt_20240808.gz")) {
        Some(path) if path.is_file() => Some(path),
        _ => {
            println!("skipped: CHIMERA_REFERENCE_DATA does not point at the reference data");
            None
        }
    }
}

const ORDERS: &str = "orders=2024-08-08T23:55:00Z:buy:1,2024-08-08T23:56:30Z:sell:1,2024-08-08T23:57:30Z:sell:1,2024-08-08T23:58:40Z:buy:1";

#[test]
fn several_algorithms_are_run_and_compared_on_l2_data() {
    let Some(data) = capture() else { return };
    let dir = std::env::temp_dir().join(format!("chimera-cli-exec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = chimera(&[
        "backtest",
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        "scripted",
        "--param",
        ORDERS,
        "--exec",
        "market",
        "--exec",
        "maker-taker",
        "--exec",
        "twap",
        "--exec-param",
        "horizon_secs=60",
        "--exec-param",
        "interval_secs=10",
        "--exec-param",
        "deadline_secs=20",
        "--report",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("slippage (bp)"), "{stdout}");
    let comparison = std::fs::read_to_string(dir.join("comparison.csv")).unwrap();
    let rows: Vec<Vec<&str>> = comparison
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3, "{comparison}");
    for row in &rows {
        assert_eq!(row[1], "4", "four parents: {row:?}");
        assert_eq!(row[2], "4", "all completed: {row:?}");
        assert_eq!(row[3], "4", "four lots filled: {row:?}");
    }
    let maker_share = |algo: &str| rows.iter().find(|r| r[0] == algo).unwrap()[4].to_owned();
    assert_eq!(maker_share("market"), "0.0%");
    assert_ne!(
        maker_share("maker-taker"),
        "0.0%",
        "the passive algorithm earns maker fills"
    );
    let fees = |algo: &str| -> f64 {
        rows.iter().find(|r| r[0] == algo).unwrap()[6]
            .parse()
            .unwrap()
    };
    assert!(fees("maker-taker") < fees("market"), "maker fees are lower");
    let twap = std::fs::read_to_string(dir.join("twap/executions.csv")).unwrap();
    assert_eq!(twap.lines().count(), 5, "{twap}");
    assert!(twap
        .lines()
        .skip(1)
        .all(|l| l.contains(",twap,") && l.contains("completed")));
    assert!(std::fs::read_to_string(dir.join("twap/report.html"))
        .unwrap()
        .contains("<h2>Execution</h2>"));
    assert!(dir.join("comparison.html").is_file());
    // Every fill carries its transaction costs: the market at send and the slippage against it.
    let fills = std::fs::read_to_string(dir.join("twap/fills.csv")).unwrap();
    let header: Vec<&str> = fills.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (mid, slippage, ask1) = (
        column("mid_at_send"),
        column("slippage_bps"),
        column("ask1"),
    );
    for row in fills.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{row}");
        assert!(
            !cells[mid].is_empty() && !cells[slippage].is_empty() && !cells[ask1].is_empty(),
            "{row}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_execution_settings_are_all_listed() {
    let out = chimera(&[
        "backtest",
        "--data",
        "/nonexistent.gz",
        "--strategy",
        "scripted",
        "--param",
        ORDERS,
        "--exec",
        "twap",
        "--exec",
        "vwap",
        "--exec-param",
        "interval_secs=0",
        "--exec-param",
        "speed=3",
        "--queue",
        "fifo",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "--exec vwap: unknown execution algorithm",
        "interval = 0 ms: must be > 0",
        "--exec-param speed: no --exec algorithm takes it",
        "--queue fifo",
    ] {
        assert!(err.contains(needle), "`{needle}` not in:\n{err}");
    }
}
