//! `chimera ctl` against a running `chimera node` process over Redis Streams: a pause is
//! answered by the node (the command prints who applied it); a migrate with no scheduler
//! running fails after the timeout saying what is missing; a reload of a portfolio nobody runs
//! likewise. The node runs with no market data: commands need none.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(dir: &std::path::Path, redis_url: &str) -> std::path::PathBuf {
    let text = format!(
        "[bus]\nkind = \"redis\"\nurl = \"{redis_url}\"\ntopic_prefix = \"ctl.{pid}.\"\n\n\
         [database]\nurl = \"sqlite://{db}?mode=rwc\"\n\n\
         [node]\nid = \"node-1\"\nregister_portfolios = true\nheartbeat_ms = 200\n\n\
         [[portfolios]]\nid = \"btc\"\nstrategy = \"ema-cross\"\n\n\
         [portfolios.params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n\n\
         [[portfolios.instruments]]\nsymbol = \"BTCUSDT\"\nkind = \"perp\"\nquote = \"USDT\"\n\
         tick_size = \"0.1\"\nlot_size = \"0.001\"\nmin_notional = \"5\"\nmaker_fee = \"0.0002\"\n\
         taker_fee = \"0.0005\"\nleverage = \"5\"\n\n[portfolios.balances]\nUSDT = \"100000\"\n",
        pid = std::process::id(),
        db = dir.join("state.db").display(),
    );
    let path = dir.join("ctl.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn ctl(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args(["ctl", "--timeout-secs", "3", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ctl_waits_for_the_acknowledgement_and_says_when_none_comes() {
    let Ok(redis_url) = std::env::var("CHIMERA_REDIS_URL") else {
        println!("skipped: CHIMERA_REDIS_URL is not set (scripts/test.sh starts Redis)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("chimera-ctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(&dir, &redis_url);
    let _node = Killed(
        Command::new(env!("CARGO_BIN_EXE_chimera"))
            .args(["node", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("node.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    // Commands are answered once the node runs the portfolio.
    let started = Instant::now();
    while !std::fs::read_to_string(dir.join("node.err"))
        .unwrap_or_default()
        .contains("started (epoch")
    {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the node did not start: {}",
            std::fs::read_to_string(dir.join("node.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (ok, stdout, stderr) = loop {
        let attempt = ctl(&config, &["pause", "btc", "--reason", "maintenance"]);
        if attempt.0 || started.elapsed() > Duration::from_mins(1) {
            break attempt;
        }
    };
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("btc: applied by node-1 ("),
        "who applied it, how fast: {stdout}"
    );

    let (ok, _, stderr) = ctl(&config, &["migrate", "btc", "node-2"]);
    assert!(!ok);
    assert!(
        stderr.contains("0 of 1 acknowledgement(s) within 3 s") && stderr.contains("scheduler"),
        "{stderr}"
    );
    let (ok, _, stderr) = ctl(&config, &["health", "btc", "purple"]);
    assert!(!ok);
    assert!(
        stderr.contains("expected GREEN, YELLOW, ORANGE or RED"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctl_kill_engages_lists_and_releases_switches_and_lists_every_bad_argument() {
    let Ok(redis_url) = std::env::var("CHIMERA_REDIS_URL") else {
        println!("skipped: CHIMERA_REDIS_URL is not set (scripts/test.sh starts Redis)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("chimera-ctl-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(&dir, &redis_url);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[state]\nkind = \"redis\"\nurl = \"{redis_url}\"\n"),
    )
    .unwrap();
    let (ok, _, err) = ctl(
        &config,
        &[
            "kill", "engage", "--mode", "panic", "--scope", "desk:x", "--reason", " ",
        ],
    );
    assert!(!ok);
    for field in ["mode \"panic\"", "scope \"desk:x\"", "reason"] {
        assert!(err.contains(field), "names {field}: {err}");
    }
    let (ok, out, err) = ctl(
        &config,
        &[
            "kill",
            "engage",
            "--id",
            "k1",
            "--mode",
            "flatten",
            "--scope",
            "symbol:BTCUSDT",
            "--reason",
            "exchange incident",
            "--ttl-secs",
            "600",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("k1 engaged: flatten over symbol BTCUSDT"),
        "{out}"
    );
    let (ok, out, _) = ctl(&config, &["kill", "list"]);
    assert!(
        ok && out.contains("k1: flatten over symbol BTCUSDT") && out.contains("s left"),
        "{out}"
    );
    let (ok, out, _) = ctl(&config, &["kill", "release", "k1"]);
    assert!(ok && out.contains("released"), "{out}");
    let (ok, _, err) = ctl(&config, &["kill", "release", "k1"]);
    assert!(!ok && err.contains("no kill switch \"k1\""), "{err}");
    let (ok, out, _) = ctl(&config, &["kill", "list"]);
    assert!(ok && out.contains("no kill switch in force"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
