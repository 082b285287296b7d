//! `chimera up` with the feed and the gateway on the fake Binance (spot and USD-M): the feed
//! streams the replayed captures (local book, quotes, trades, marks), a scripted portfolio
//! trades through the gateway's Binance connector, and at the end the positions Chimera
//! recorded equal the positions in the fake's account.
//!
//! Needs `CHIMERA_REFERENCE_DATA` (the captures the fake replays); skips without it.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_fake_binance::{Fake, FakeConfig, FakeProduct};
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use rust_decimal::Decimal;
use std::path::PathBuf;
use std::process::Command;

const KEY: &str = "upkey0000000000000000000000000000000000000000";
const SECRET: &str = "upsecret00000000000000000000000000000000000000";

fn capture(relative: &str) -> Option<PathBuf> {
    let Some(root) = std::env::var_os("CHIMERA_REFERENCE_DATA") else {
        println!("skipped: CHIMERA_REFERENCE_DATA is not set (the captures the fake replays)");
        return None;
    };
    let path = PathBuf::from(root).join("binance").join(relative);
    path.is_file().then_some(path)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("chimera-up-binance-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(dir: &std::path::Path, product: &str, base: &str, orders: &str) -> PathBuf {
    let ws = base.replacen("http", "ws", 1);
    let kind = if product == "spot" { "spot" } else { "perp" };
    let endpoints = format!(
        "product = \"{product}\", environment = \"custom\", rest_url = \"{base}\", \
         stream_url = \"{ws}\", ws_api_url = \"{ws}/ws-api/v3\""
    );
    let text = format!(
        "[bus]\nkind = \"memory\"\n\n[database]\nurl = \"sqlite://{db}?mode=rwc\"\n\n\
         [node]\nid = \"node-1\"\nregister_portfolios = true\n\n\
         [gateway]\nid = \"gateway-1\"\n\
         venue = {{ kind = \"binance\", {endpoints}, accounts = [{{ portfolios = [\"btc\"], \
         api_key_env = \"FAKE_BINANCE_KEY\", secret_env = \"FAKE_BINANCE_SECRET\" }}] }}\n\n\
         [feed]\nid = \"feed-1\"\nduration_ms = 9000\n\
         source = {{ kind = \"binance\", {endpoints}, symbols = [\"BTCUSDT\"] }}\n\n\
         [[portfolios]]\nid = \"btc\"\nstrategy = \"scripted\"\nreporting_asset = \"USDT\"\n\n\
         [portfolios.params]\norders = \"{orders}\"\nsymbol = \"BTCUSDT\"\n\n\
         [[portfolios.instruments]]\nsymbol = \"BTCUSDT\"\nkind = \"{kind}\"\nquote = \"USDT\"\n\
         tick_size = \"0.01\"\nlot_size = \"0.001\"\nmin_notional = \"5\"\nmaker_fee = \"0.0002\"\n\
         taker_fee = \"0.0005\"\nleverage = \"1\"\n\n[portfolios.balances]\nUSDT = \"100000\"\n",
        db = dir.join("state.db").display(),
    );
    let path = dir.join("up.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A fake of `product` replaying `file`, on a runtime of its own: the runtime (keep it), the
/// fake, its address and its server.
fn start_fake(
    product: FakeProduct,
    file: PathBuf,
) -> (
    tokio::runtime::Runtime,
    std::sync::Arc<Fake>,
    String,
    impl Sized,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut fake_config = FakeConfig::new(product).with_hmac_account(
        KEY,
        SECRET,
        &[("USDT", Decimal::from(100_000))],
    );
    fake_config.captures = vec![file];
    fake_config.replay_speed = 1.0;
    let (fake, base, server) = runtime.block_on(Fake::start(fake_config)).unwrap();
    (runtime, fake, base, server)
}

/// `s` seconds from now, as the scripted strategy reads its orders' times.
fn seconds_from_now(s: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp(i64::try_from(now).unwrap() + s * 1_000).to_rfc3339()
}

/// `chimera up --exit-when-idle` on `config`, to success: its standard output.
fn up_to_the_end(config: &std::path::Path) -> String {
    let out = up(config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

fn up(config: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chimera"));
    command
        .args(["up", "--exit-when-idle", "--config"])
        .arg(config)
        .env("FAKE_BINANCE_KEY", KEY)
        .env("FAKE_BINANCE_SECRET", SECRET);
    command
}

/// The BTCUSDT quantity `chimera up` printed, and the fake's.
fn positions(stdout: &str, fake: &Fake) -> (Decimal, Decimal) {
    let recorded = stdout
        .lines()
        .find(|l| l.starts_with("btc: BTCUSDT qty "))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap_or_else(|| panic!("no position printed:\n{stdout}"))
        .parse::<Decimal>()
        .unwrap();
    let ex = fake.exchange();
    let theirs = ex
        .books(0)
        .and_then(|b| b.positions.get(&Symbol::new("BTCUSDT")))
        .map_or(Decimal::ZERO, |p| p.qty.get());
    (recorded, theirs)
}

/// Runs `chimera up` against a fake of `product` replaying `file`; returns the recorded
/// BTCUSDT quantity and the fake's.
fn up_on_the_fake(product: FakeProduct, file: PathBuf) -> (Decimal, Decimal, String) {
    let (_runtime, fake, base, _server) = start_fake(product, file);
    let name = match product {
        FakeProduct::Spot => "spot",
        FakeProduct::Usdm => "usdm",
    };
    let orders = format!(
        "{}:buy:0.010,{}:buy:0.005,{}:sell:0.003",
        seconds_from_now(3),
        seconds_from_now(4),
        seconds_from_now(5)
    );
    let dir = temp_dir(name);
    let stdout = up_to_the_end(&config(&dir, name, &base, &orders));
    let (recorded, theirs) = positions(&stdout, &fake);
    println!("{stdout}");
    (recorded, theirs, stdout)
}

/// `chimera up` on a live source (the fake's streams), killed (SIGKILL) between its
/// portfolio's orders and started again. Its in-memory bus ended with it: the new one numbers
/// its messages above the last one's, so the restored node reads the new run's events (the
/// last order is decided on them), and the node sends its open orders again, whose commands or
/// reports may have died with the bus. Every order reaches the exchange once: the recorded
/// position is the three orders' sum, and equals the fake's. Before, the new bus numbered from
/// 0 again and the node skipped the new run's first events as applied.
#[test]
fn up_on_a_live_source_killed_and_started_again_trades_every_order_once() {
    let Some(file) = capture("usdm/btcusdt_20240808.gz") else {
        return;
    };
    let (_runtime, fake, base, _server) = start_fake(FakeProduct::Usdm, file);
    let orders = format!(
        "{}:buy:0.010,{}:buy:0.005,{}:sell:0.003",
        seconds_from_now(3),
        seconds_from_now(4),
        seconds_from_now(9)
    );
    let dir = temp_dir("usdm-killed");
    let config = config(&dir, "usdm", &base, &orders);
    let mut first = up(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    first.kill().unwrap();
    first.wait().unwrap();
    let stdout = up_to_the_end(&config);
    let (recorded, theirs) = positions(&stdout, &fake);
    assert_eq!(
        recorded,
        Decimal::new(12, 3),
        "0.010 + 0.005 − 0.003, each once:\n{stdout}"
    );
    assert_eq!(
        recorded, theirs,
        "recorded position equals the fake's account"
    );
}

#[test]
fn up_trades_usdm_on_the_fake_binance_to_the_fakes_position() {
    let Some(file) = capture("usdm/btcusdt_20240808.gz") else {
        return;
    };
    let (ours, theirs, stdout) = up_on_the_fake(FakeProduct::Usdm, file);
    assert_eq!(
        ours,
        Decimal::new(12, 3),
        "0.010 + 0.005 − 0.003:\n{stdout}"
    );
    assert_eq!(ours, theirs, "recorded position equals the fake's account");
    assert!(stdout.contains("gateway (Binance)"), "{stdout}");
    assert!(stdout.contains("3 orders sent"), "{stdout}");
}

#[test]
fn up_trades_spot_on_the_fake_binance_to_the_fakes_position() {
    let Some(file) = capture("spot/btcusdt_20240808.gz") else {
        return;
    };
    let (ours, theirs, stdout) = up_on_the_fake(FakeProduct::Spot, file);
    assert_eq!(
        ours,
        Decimal::new(12, 3),
        "0.010 + 0.005 − 0.003:\n{stdout}"
    );
    assert_eq!(ours, theirs, "recorded position equals the fake's account");
}

/// `chimera record` from the fake (USD-M, two symbols) writes a capture the replay reader
/// reads back: a snapshot per symbol naming its symbol, diffs that chain from it, marks;
/// and a second fake replays the recording as its market.
#[test]
fn record_writes_a_capture_that_replays() {
    let (Some(btc), Some(eth)) = (
        capture("usdm/btcusdt_20240808.gz"),
        capture("usdm/ethusdt_20240808.gz"),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut fake_config = FakeConfig::new(FakeProduct::Usdm);
    fake_config.captures = vec![btc, eth];
    fake_config.replay_speed = 5.0;
    let (_fake, base, _server) = runtime.block_on(Fake::start(fake_config)).unwrap();
    let dir = temp_dir("record");
    let out_file = dir.join("usdm_recorded.gz");
    let out = Command::new(env!("CARGO_BIN_EXE_chimera"))
        .args(["record", "--product", "usdm", "--environment", "custom"])
        .args([
            "--rest-url",
            &base,
            "--stream-url",
            &base.replacen("http", "ws", 1),
        ])
        .args([
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--duration-secs",
            "3",
            "--out",
        ])
        .arg(&out_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("recorded "), "{stdout}");

    let reader = chimera_replay::open_market_data(&out_file, None, &Symbol::new("X")).unwrap();
    let mut books: std::collections::BTreeMap<String, chimera_kernel::event::OrderBook> =
        std::collections::BTreeMap::new();
    let (mut snapshots, mut deltas, mut marks) = (0, 0, 0);
    for event in reader {
        match event.unwrap() {
            chimera_kernel::event::MarketEvent::BookSnapshot(s) => {
                snapshots += 1;
                let book = books.entry(s.symbol.as_str().to_owned()).or_default();
                book.apply_snapshot(&s).unwrap();
            }
            chimera_kernel::event::MarketEvent::BookDelta(d) => {
                deltas += 1;
                let book = books.entry(d.symbol.as_str().to_owned()).or_default();
                book.apply_delta(&d).unwrap();
            }
            chimera_kernel::event::MarketEvent::MarkPrice(_) => marks += 1,
            _ => {}
        }
    }
    assert_eq!(snapshots, 2, "one snapshot per symbol");
    assert!(deltas > 50 && marks >= 2, "{deltas} deltas, {marks} marks");
    for (symbol, book) in &books {
        assert!(
            book.is_synced(),
            "{symbol}: the recorded diffs chain from the snapshot"
        );
    }
    assert_eq!(books.len(), 2);

    let mut replay_config = FakeConfig::new(FakeProduct::Usdm);
    replay_config.captures = vec![out_file];
    replay_config.replay_speed = 0.0;
    let (replayed, _, _server2) = runtime.block_on(Fake::start(replay_config)).unwrap();
    runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_secs(1)).await });
    for symbol in ["BTCUSDT", "ETHUSDT"] {
        assert!(
            replayed.market().book(symbol).is_some(),
            "{symbol} replayed"
        );
    }
}

/// `chimera transfer`: a wallet transfer from the command line, recorded, idempotent by id,
/// limits enforced with a clear refusal.
#[test]
fn transfer_moves_money_once_per_id() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut fake_config = FakeConfig::new(FakeProduct::Usdm).with_hmac_account(
        KEY,
        SECRET,
        &[("USDT", Decimal::from(100))],
    );
    fake_config.accounts[0].other_wallet = vec![("USDT".into(), Decimal::from(1_000))];
    let (fake, base, _server) = runtime.block_on(Fake::start(fake_config)).unwrap();
    let dir = temp_dir("transfer");
    let ws = base.replacen("http", "ws", 1);
    let config = dir.join("transfer.toml");
    std::fs::write(
        &config,
        format!(
            "[bus]\nkind = \"memory\"\n\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n\n\
             [gateway]\nid = \"g\"\n\
             venue = {{ kind = \"binance\", product = \"usdm\", environment = \"custom\", \
             rest_url = \"{base}\", stream_url = \"{ws}\", accounts = [{{ portfolios = [\"p\"], \
             api_key_env = \"FAKE_BINANCE_KEY\", secret_env = \"FAKE_BINANCE_SECRET\" }}], \
             transfers = {{ directions = [\"spot_to_usdm\"], max_amount = {{ USDT = \"100\" }} }} }}\n",
            dir.join("t.db").display()
        ),
    )
    .unwrap();
    let transfer = |id: &str, amount: &str| {
        Command::new(env!("CARGO_BIN_EXE_chimera"))
            .args(["transfer", "--config"])
            .arg(&config)
            .args([
                "--id",
                id,
                "--direction",
                "spot_to_usdm",
                "--asset",
                "usdt",
                "--amount",
                amount,
            ])
            .env("FAKE_BINANCE_KEY", KEY)
            .env("FAKE_BINANCE_SECRET", SECRET)
            .output()
            .unwrap()
    };
    for _ in 0..2 {
        let out = transfer("ops-1", "60");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("transfer ops-1: spot_to_usdm 60 USDT (account-0) — confirmed"),
            "{stdout}"
        );
        assert!(
            stdout.contains("sent") && stdout.contains("answered"),
            "history printed: {stdout}"
        );
    }
    assert_eq!(fake.exchange().transfers.len(), 1, "once per id");
    let over = transfer("ops-2", "150");
    let stderr = String::from_utf8_lossy(&over.stderr);
    assert!(!over.status.success());
    assert!(stderr.contains("over the limit of 100"), "{stderr}");
}
