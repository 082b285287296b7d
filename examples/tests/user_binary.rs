//! A user's own binary (`chimera-breakout`, this crate's `src/bin`) runs the user's strategy
//! from one configuration file (`examples/breakout/up.toml`) under `backtest --config`, `up`
//! (one process, in-memory bus) and `up --processes` (its own `node`, `gateway` and `feed` as
//! children over Redis Streams), without any change to Chimera; stock `chimera` refuses the
//! unknown strategy by name. The reference bars come from `CHIMERA_REFERENCE_DATA`.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

const BARS: &str = "bars/btc-perp-20211231-20220201_1m.csv";

fn config_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("breakout/up.toml")
}

fn reference_bars() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CHIMERA_REFERENCE_DATA") else {
        println!("skipped: CHIMERA_REFERENCE_DATA is not set");
        return None;
    };
    let bars = PathBuf::from(dir).join(BARS);
    if !bars.is_file() {
        println!("skipped: {} is missing", bars.display());
        return None;
    }
    Some(bars)
}

/// `chimera-breakout` with the configuration file, a fresh database and the reference bars.
fn breakout(name: &str, bars: &Path) -> Command {
    let dir = std::env::temp_dir().join(format!("chimera-breakout-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_chimera-breakout"));
    command
        .env(
            "CHIMERA__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", dir.join("state.db").display()),
        )
        .env(
            "CHIMERA__FEED__FILES",
            format!("[\"BTCUSDT={}\"]", bars.display()),
        );
    command
}

fn succeed(command: &mut Command) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The fills of the backtest table's `btc-breakout-60` row (its last column).
fn backtest_fills(stdout: &str) -> u64 {
    let row = stdout
        .lines()
        .find(|l| l.starts_with("btc-breakout-60"))
        .unwrap_or_else(|| panic!("a row for the portfolio: {stdout}"));
    row.split_whitespace().last().unwrap().parse().unwrap()
}

/// The fills of the `up` position line: `btc-breakout-60: BTCUSDT qty … (N fills)`.
fn settled_fills(stdout: &str) -> (String, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("btc-breakout-60: BTCUSDT qty"))
        .unwrap_or_else(|| panic!("a settled position: {stdout}"));
    let fills = line
        .rsplit('(')
        .next()
        .and_then(|t| t.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    (line.to_owned(), fills)
}

#[test]
fn the_users_strategy_runs_under_backtest_up_and_its_own_node() {
    let Some(bars) = reference_bars() else { return };
    let refused = Command::new(env!("CARGO_BIN_EXE_chimera-breakout"))
        .args(["backtest", "--strategy", "nope", "--data"])
        .arg(&bars)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("available: breakout, ema-cross"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let backtest = succeed(
        breakout("backtest", &bars)
            .args(["backtest", "--config"])
            .arg(config_file())
            .arg("--data")
            .arg(&bars),
    );
    let backtested = backtest_fills(&backtest);
    assert!(backtested > 100, "the breakout trades: {backtest}");

    let up = succeed(
        breakout("up", &bars)
            .args(["up", "--exit-when-idle", "--config"])
            .arg(config_file()),
    );
    let (position, live) = settled_fills(&up);
    // The same orders, except the backtest's last: the strategy closes its open position when
    // the backtest stops, while `up` leaves it to the portfolio's next run.
    assert!(!position.contains("qty 0 "), "{position}");
    assert_eq!(live + 1, backtested, "{position}\n{backtest}");

    let Ok(redis_url) = std::env::var("CHIMERA_REDIS_URL") else {
        println!(
            "skipped --processes: CHIMERA_REDIS_URL is not set (scripts/test.sh starts Redis)"
        );
        return;
    };
    let processes = succeed(
        breakout("processes", &bars)
            .args(["up", "--processes", "--exit-when-idle", "--config"])
            .arg(config_file())
            .env("CHIMERA__BUS__KIND", "redis")
            .env("CHIMERA__BUS__URL", &redis_url)
            .env(
                "CHIMERA__BUS__TOPIC_PREFIX",
                format!("breakout.processes.{}.", std::process::id()),
            ),
    );
    assert!(processes.contains("  node      pid "), "{processes}");
    assert_eq!(settled_fills(&processes).1, live, "{processes}");
}

#[test]
fn stock_chimera_does_not_know_the_users_strategy() {
    let Some(bars) = reference_bars() else { return };
    let chimera = Path::new(env!("CARGO_BIN_EXE_chimera-breakout")).with_file_name("chimera");
    if !chimera.is_file() {
        println!("skipped: {} is not built", chimera.display());
        return;
    }
    let out = Command::new(chimera)
        .args(["backtest", "--config"])
        .arg(config_file())
        .arg("--data")
        .arg(&bars)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown strategy `breakout`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
