//! `chimera up` on embedded defaults (in-memory bus, SQLite): feed → node → gateway → fills in
//! one process, from a bad configuration (rejected with every field listed) to a settled run.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::fmt::Write as _;
use std::process::Command;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chimera-up-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 600 one-minute bars of a zig-zag that makes a 3/8 EMA cross trade several times.
fn write_bars(path: &std::path::Path) {
    write_zig_zag(path, 600);
}

/// `bars` one-minute bars of the zig-zag (an hour each way and back).
fn write_zig_zag(path: &std::path::Path, bars: i64) {
    let mut text = String::from("timestamp,open,high,low,close,volume\n");
    for i in 0..bars {
        let phase = i % 60;
        let close = 40_000
            + if phase < 30 {
                phase * 20
            } else {
                (60 - phase) * 20
            };
        let minute = i % 60;
        let hour = i / 60 % 24;
        let day = i / 1440 + 1;
        writeln!(
            text,
            "2022-01-{day:02} {hour:02}:{minute:02}:00,{close},{},{},{close},10",
            close + 5,
            close - 5
        )
        .unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let bars = dir.join("BTCUSDT.csv");
    write_bars(&bars);
    let text = format!(
        "[bus]\nkind = \"memory\"\n\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n\n\
         [node]\nid = \"node-1\"\nregister_portfolios = true\n\n[gateway]\nid = \"gateway-1\"\n\n\
         [feed]\nid = \"feed-1\"\nfiles = [\"BTCUSDT={}\"]\n\n\
         [[portfolios]]\nid = \"btc\"\nstrategy = \"ema-cross\"\nreporting_asset = \"USDT\"\n\n\
         [portfolios.params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n\n\
         [[portfolios.instruments]]\nsymbol = \"BTCUSDT\"\nkind = \"perp\"\nquote = \"USDT\"\n\
         tick_size = \"0.1\"\nlot_size = \"0.001\"\nmin_notional = \"5\"\nmaker_fee = \"0.0002\"\n\
         taker_fee = \"0.0005\"\nleverage = \"5\"\n\n[portfolios.balances]\nUSDT = \"100000\"\n{extra}",
        dir.join("state.db").display(),
        bars.display()
    );
    let path = dir.join("up.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Replaces `from` with `to` in the configuration file `config`.
fn edit(config: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(config).unwrap().replace(from, to);
    std::fs::write(config, text).unwrap();
}

/// `chimera up` with `flags` on `config`, which must fail: its standard error.
fn refused(config: &std::path::Path, flags: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_chimera"))
        .arg("up")
        .args(flags)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `command` to success and returns its standard output.
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

/// `chimera up --exit-when-idle` with `flags` on a fresh copy of the zig-zag configuration in
/// `temp_dir(name)`, with `node` added to its `[node]` section and `gateway` to its
/// `[gateway]` section: its standard output.
fn up_to_settled(name: &str, flags: &[&str], node: &str, gateway: &str) -> String {
    let dir = temp_dir(name);
    let config = config(&dir, "");
    for (section, settings) in [("id = \"node-1\"", node), ("id = \"gateway-1\"", gateway)] {
        if !settings.is_empty() {
            edit(&config, section, &format!("{section}\n{settings}"));
        }
    }
    succeed(
        Command::new(env!("CARGO_BIN_EXE_chimera"))
            .args(["up", "--exit-when-idle"])
            .args(flags)
            .arg("--config")
            .arg(&config),
    )
}

#[test]
fn up_runs_feed_node_and_gateway_to_settled_positions() {
    let stdout = up_to_settled("ok", &[], "", "");
    assert!(stdout.contains("database  sqlite://"), "{stdout}");
    assert!(
        stdout.contains("feed: published 600 market events"),
        "{stdout}"
    );
    let node_line = stdout.lines().find(|l| l.starts_with("node: btc")).unwrap();
    let gateway_line = stdout.lines().find(|l| l.starts_with("gateway:")).unwrap();
    let orders: u64 = node_line
        .split_whitespace()
        .rev()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        orders >= 4,
        "the zig-zag makes the cross trade: {node_line}"
    );
    assert!(
        gateway_line.contains(&format!("{orders} orders sent")),
        "every order reached the venue once: {gateway_line} / {node_line}"
    );
    assert!(
        stdout.contains(&format!("({orders} fills)")),
        "one fill per market order, recorded: {stdout}"
    );
}

/// In a replay the market data runs ahead of the node in event time, by as much as the
/// node's queue and the bus hold. The simulated venue's hold (how far behind its symbol's
/// newest data it keeps an event for the orders still to come) must not feed past a portfolio
/// that is still reading, or its next order fills at a later bar than it was decided on and the
/// run's fills depend on how fast each part happened to be. A hold of one minute gives the
/// fills of a hold that never ends (before the venue told a portfolio still reading from one
/// that had stopped, the first differed by hundreds of USDT of realised profit, run to run).
#[test]
fn up_fills_do_not_depend_on_how_far_the_venue_holds_data() {
    let position = |name: &str, hold_ms: u64| {
        let dir = temp_dir(name);
        let config = config(&dir, "");
        write_zig_zag(&dir.join("BTCUSDT.csv"), 6_000);
        edit(
            &config,
            "id = \"gateway-1\"",
            &format!("id = \"gateway-1\"\nsim_hold_ms = {hold_ms}"),
        );
        let stdout = succeed(
            Command::new(env!("CARGO_BIN_EXE_chimera"))
                .args(["up", "--exit-when-idle", "--config"])
                .arg(&config),
        );
        assert!(
            stdout.contains("feed: published 6000 market events"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("priced with market data newer"),
            "no order found the venue past its time: {stdout}"
        );
        stdout
            .lines()
            .find(|l| l.starts_with("btc: BTCUSDT qty"))
            .unwrap_or_else(|| panic!("a settled position: {stdout}"))
            .to_owned()
    };
    let unbounded = position("hold-forever", 100_000_000_000);
    assert!(unbounded.ends_with("(399 fills)"), "{unbounded}");
    for run in 0..2 {
        let minute = position(&format!("hold-minute-{run}"), 60_000);
        assert_eq!(minute, unbounded, "run {run}");
    }
}

/// Two portfolios on one symbol read the same bars at their own pace: the venue executes their
/// orders in the order of their stamps ([gateway] sim_lockstep, on by default), so each fills
/// exactly as when it runs alone. Executed as they arrived, most orders of the portfolio
/// reading behind found the venue moved past their time by the other's (6,500 of the reference
/// example's 8,952 orders), and fills changed from run to run.
#[test]
fn portfolios_sharing_a_symbol_fill_as_they_would_alone() {
    let second = "\n[[portfolios]]\nid = \"btc-slow\"\nstrategy = \"ema-cross\"\n\
                  reporting_asset = \"USDT\"\n\n[portfolios.params]\nfast = \"8\"\n\
                  slow = \"21\"\nqty = \"0.02\"\n\n[[portfolios.instruments]]\n\
                  symbol = \"BTCUSDT\"\nkind = \"perp\"\nquote = \"USDT\"\n\
                  tick_size = \"0.1\"\nlot_size = \"0.001\"\nmin_notional = \"5\"\n\
                  maker_fee = \"0.0002\"\ntaker_fee = \"0.0005\"\nleverage = \"5\"\n\n\
                  [portfolios.balances]\nUSDT = \"100000\"\n";
    // `keep`: which of the two portfolios the run has (both, or one alone).
    let run = |name: &str, keep: &[&str]| -> String {
        let dir = temp_dir(name);
        let config = config(&dir, second);
        write_zig_zag(&dir.join("BTCUSDT.csv"), 6_000);
        let text = std::fs::read_to_string(&config).unwrap();
        let (head, blocks) = text.split_at(text.find("[[portfolios]]").unwrap());
        let mut kept = head.replace(
            "id = \"gateway-1\"",
            "id = \"gateway-1\"\nsim_hold_ms = 60000",
        );
        for block in blocks.split_inclusive("\n[[portfolios]]") {
            let block = block.trim_end_matches("[[portfolios]]");
            let block = block.strip_prefix("[[portfolios]]").unwrap_or(block);
            let id = block.split('"').nth(1).unwrap();
            if keep.contains(&id) {
                kept.push_str("[[portfolios]]");
                kept.push_str(block);
            }
        }
        std::fs::write(&config, kept).unwrap();
        succeed(
            Command::new(env!("CARGO_BIN_EXE_chimera"))
                .args(["up", "--exit-when-idle", "--config"])
                .arg(&config),
        )
    };
    let position = |stdout: &str, id: &str| -> String {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id}: BTCUSDT qty")))
            .unwrap_or_else(|| panic!("{id}'s position: {stdout}"))
            .to_owned()
    };
    let both = run("shared", &["btc", "btc-slow"]);
    assert!(
        !both.contains("priced with market data newer"),
        "no order found the venue past its time: {both}"
    );
    for id in ["btc", "btc-slow"] {
        let alone = run(&format!("alone-{id}"), &[id]);
        assert_eq!(position(&both, id), position(&alone, id), "{both}");
    }
}

/// A `chimera up` killed mid-replay (SIGKILL: nothing is checkpointed on the way out) and
/// started again ends exactly where a run never stopped ends. Its in-memory bus died with it,
/// and with it orders and fills between the gateway's checkpoint and the node's, so the replay
/// starts over from the first event: the gateway executes every order again, in the same
/// order and with the same ids, and the records it had written absorb the repeat (the same
/// orders, fills and positions, none twice). Before, the new bus numbered from 0 again and the
/// node skipped every event below its checkpoint's offset: the run ended with no trade at all.
#[test]
fn up_killed_mid_replay_and_started_again_ends_as_a_run_never_stopped() {
    use std::io::{BufRead, Read};
    // What the run settled on: the gateway's counts and the position, read from the records.
    let settled = |stdout: &str| -> Vec<String> {
        let lines: Vec<String> = stdout
            .lines()
            .filter(|l| l.starts_with("gateway:") || l.starts_with("btc: BTCUSDT qty"))
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        lines
    };
    let zig_zag = |name: &str, speed: u32| {
        let dir = temp_dir(name);
        let config = config(&dir, "");
        write_zig_zag(&dir.join("BTCUSDT.csv"), 2_000);
        edit(
            &config,
            "id = \"feed-1\"",
            &format!("id = \"feed-1\"\nspeed = {speed}"),
        );
        config
    };
    let up = |config: &std::path::Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chimera"));
        command
            .args(["up", "--exit-when-idle", "--config"])
            .arg(config);
        command
    };
    let never_stopped = settled(&succeed(&mut up(&zig_zag("never-stopped", 0))));

    // A thousand bars a second: two seconds of replay, killed after about one.
    let config = zig_zag("killed", 60_000);
    let mut child = up(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    while !first.contains("stop      Ctrl-C") {
        assert!(stdout.read_line(&mut first).unwrap() > 0, "{first}");
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    child.kill().unwrap();
    child.wait().unwrap();
    stdout.read_to_string(&mut first).unwrap();
    assert!(
        !first.contains("feed: published"),
        "killed mid-replay: {first}"
    );

    let again = succeed(&mut up(&config));
    assert!(again.contains("the replay starts over"), "{again}");
    assert_eq!(settled(&again), never_stopped, "{again}");
}

/// The CPU time (user and system) `chimera up` with `flags` has used 2 s after it started
/// (the replay takes a fraction of that), then stops it with SIGTERM.
fn cpu_seconds_over_two_seconds(flags: &[&str]) -> f64 {
    let dir = temp_dir(&format!("cpu{}", flags.len()));
    let config = config(&dir, "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chimera"))
        .arg("up")
        .args(flags)
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|t| t.parse::<u64>().unwrap())
        .sum();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    #[allow(clippy::cast_precision_loss, reason = "a few hundred ticks")]
    let seconds = ticks as f64 / 100.0;
    seconds
}

/// `--busy-poll` keeps the one thread awake between events and changes nothing else: the same
/// orders and positions; it is refused where there is no one thread to keep awake.
#[test]
fn up_busy_polling_settles_the_same_positions() {
    let summary = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .filter(|l| l.starts_with("node: ") || l.starts_with("gateway: "))
            .map(str::to_owned)
            .collect()
    };
    let parked = up_to_settled("parked", &[], "", "");
    let busy = up_to_settled("busy", &["--busy-poll"], "", "");
    assert_eq!(summary(&busy), summary(&parked), "{busy}");
    assert!(!summary(&busy).is_empty(), "{busy}");
    assert!(!parked.contains("rehearsed"), "{parked}");

    // Rehearsing at every idle moment (`--busy-poll` does it every 250 µs in the gateway and
    // every millisecond in the node) changes nothing either: the venue runs copies of its
    // last order on copies of what it touches, the portfolio its last orders on a copy of
    // its engine.
    let rehearsing = up_to_settled(
        "rehearsing",
        &[],
        "rehearse_us = 10",
        "sim_rehearse_us = 10",
    );
    assert_eq!(summary(&rehearsing), summary(&parked), "{rehearsing}");
    let count = |prefix: &str| -> u64 {
        rehearsing
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(count("the gateway rehearsed ") > 0, "{rehearsing}");
    assert!(
        count("the portfolios rehearsed their orders ") > 0,
        "{rehearsing}"
    );

    // Left running once the bars are done, a busy-polling process keeps using the CPU.
    let parked = cpu_seconds_over_two_seconds(&[]);
    let busy = cpu_seconds_over_two_seconds(&["--busy-poll"]);
    assert!(
        busy > 0.4 && busy > 3.0 * parked,
        "busy-polling {busy:.2} s of CPU, parked {parked:.2} s"
    );

    let dir = temp_dir("busy-redis");
    let config = config(&dir, "");
    edit(
        &config,
        "kind = \"memory\"",
        "kind = \"redis\"\nurl = \"redis://127.0.0.1:1\"",
    );
    let stderr = refused(&config, &["--busy-poll"]);
    assert!(
        stderr.contains("--busy-poll keeps one thread awake: it needs the in-memory bus"),
        "{stderr}"
    );
}

#[test]
fn up_rejects_a_bad_configuration_listing_every_field() {
    let dir = temp_dir("bad");
    let config = config(&dir, "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("kind = \"memory\"", "kind = \"carrier-pigeon\"")
        .replace(
            "id = \"node-1\"",
            "id = \"\"\nprogress_ms = 70000\nrehearse_us = 0",
        )
        .replace(
            "id = \"gateway-1\"",
            "id = \"gateway-1\"\ncheckpoint_ms = 61000\nsim_rehearse_us = 5",
        );
    std::fs::write(&config, text).unwrap();
    let stderr = refused(&config, &[]);
    assert!(
        stderr.contains(
            "bus: unknown variant `carrier-pigeon`, expected one of `kafka`, `redis`, `memory`"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("node.id"), "{stderr}");
    assert!(
        stderr.contains("node.progress_ms: 70000 (must be ≤ 10000)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("node.rehearse_us: 0 (must be 10 to 1000000)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("gateway.checkpoint_ms: 61000 (must be ≤ 60000)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("gateway.sim_rehearse_us: 5 (must be 10 to 1000000)"),
        "{stderr}"
    );
}

/// `--processes` runs `chimera node | gateway | feed` as children over a bus that crosses processes
/// (Redis Streams here), to the same settled positions; the memory bus is refused.
#[test]
fn up_with_processes_runs_the_runtime_binaries() {
    let dir = temp_dir("processes");
    let config = config(&dir, "");
    let refused = Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args(["up", "--processes", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("bus kind to kafka or redis"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let Ok(redis_url) = std::env::var("CHIMERA_REDIS_URL") else {
        println!("skipped the run: CHIMERA_REDIS_URL is not set (scripts/test.sh starts Redis)");
        return;
    };
    let stdout = succeed(
        Command::new(env!("CARGO_BIN_EXE_chimera"))
            .args(["up", "--processes", "--exit-when-idle", "--config"])
            .arg(&config)
            .env("CHIMERA__BUS__KIND", "redis")
            .env("CHIMERA__BUS__URL", &redis_url)
            .env(
                "CHIMERA__BUS__TOPIC_PREFIX",
                format!("up.processes.{}.", std::process::id()),
            ),
    );
    for component in ["gateway", "node", "feed"] {
        assert!(
            stdout.contains(&format!("  {component:<9} pid ")),
            "{component} ran as a child: {stdout}"
        );
    }
    let position = stdout
        .lines()
        .find(|l| l.starts_with("btc: BTCUSDT qty"))
        .unwrap_or_else(|| panic!("a settled position: {stdout}"));
    let fills: u64 = position
        .rsplit('(')
        .next()
        .and_then(|t| t.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(fills >= 4, "the zig-zag makes the cross trade: {position}");
}
