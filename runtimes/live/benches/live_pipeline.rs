//! Live pipeline figures on loopback services, with the real `chimera-node` and
//! `chimera-gateway` binaries (`cargo bench -p chimera-live --bench live_pipeline`):
//!
//! 1. node throughput and memory: 5 portfolios (one symbol each), 100k bars already on the bus;
//!    time from node start until every portfolio has applied its last bar; peak RSS (`VmHWM`).
//! 2. latency: node and gateway running, bars published at a steady rate; tick-to-order is
//!    "market event published → its order intent seen on `orders.submission`", order-to-fill is
//!    "intent seen → its fill seen on `orders.feedback`" (both observed by this process).
//!
//! Needs `CHIMERA_KAFKA_BROKERS` and `CHIMERA_DATABASE_URL` (PostgreSQL), as `scripts/test.sh`
//! sets them; `CHIMERA_BENCH_EVENTS` (default 100000) and `CHIMERA_BENCH_RATE` (events/s,
//! default 2000) tune it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench")]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "figures"
)]

use chimera_kernel::engine::Command;
use chimera_kernel::event::ExecutionReport;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_messages::{decode, encode, Envelope, MessageType};
use chimera_ports::{CheckpointRepository, EventBus};
use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SYMBOLS: [&str; 5] = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"];
/// A runtime binary of this build (built first if need be).
fn binary(name: &str) -> String {
    chimera_live::runtime_binary(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
}

static NODE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| binary("chimera-node"));
static GATEWAY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| binary("chimera-gateway"));

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` bars per symbol, interleaved in time, as encoded envelopes keyed by symbol.
fn bars(per_symbol: u64) -> Vec<(String, i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut cents = [4_000_000_i64; 5];
    for i in 0..per_symbol as i64 {
        for (s, symbol) in SYMBOLS.iter().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            cents[s] += (state % 4001) as i64 - 2000;
            let event = chimera_kernel::testing::bar(symbol, i, Decimal::new(cents[s], 2));
            let ts = event.ts().0;
            let envelope = Envelope::new(
                MessageType::MarketEvent,
                format!("{symbol}:{ts}"),
                Timestamp(ts),
                "bench",
                *symbol,
                &event,
            );
            out.push(((*symbol).to_owned(), ts, encode(&envelope)));
        }
    }
    out
}

fn config(dir: &std::path::Path, brokers: &str, prefix: &str, db: &str) -> std::path::PathBuf {
    let mut text = format!(
        "[bus]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopic_prefix = \"{prefix}\"\n\n\
         [bus.extra]\n\"batch.num.messages\" = \"1\"\n\"fetch.wait.max.ms\" = \"5\"\n\n\
         [database]\nurl = \"{db}\"\nmax_connections = 16\n\n\
         [node]\nid = \"node-1\"\nqueue_capacity = 4096\nregister_portfolios = true\n\n\
         [gateway]\nid = \"gateway-1\"\n\n"
    );
    for symbol in SYMBOLS {
        let spec = PortfolioSpec {
            id: format!("bench-{}", symbol.to_lowercase()),
            strategy: "ema-cross".into(),
            params: [("fast", "20"), ("slow", "60"), ("qty", "0.01")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            reporting_asset: "USDT".into(),
            instruments: vec![InstrumentSpec::perp_with_defaults(symbol, "5")],
            balances: [("USDT".to_owned(), "1000000".to_owned())]
                .into_iter()
                .collect(),
            exec: None,
            risk: chimera_kernel::risk::RiskLimits::default(),
            decision: chimera_live::decision_spec::DecisionSpec::default(),
            manage: chimera_kernel::position_manager::ManagerConfig::default(),
        };
        let body = toml::to_string(&spec)
            .unwrap()
            .replace("[[instruments]]", "[[portfolios.instruments]]")
            .replace("[params]", "[portfolios.params]")
            .replace("[balances]", "[portfolios.balances]");
        text.push_str("[[portfolios]]\n");
        text.push_str(&body);
        text.push('\n');
    }
    let path = dir.join(format!("{}.toml", prefix.trim_end_matches('.')));
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(binary: &str, config: &std::path::Path, dir: &std::path::Path, log: &str) -> Child {
    std::process::Command::new(binary)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.out"))).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.err"))).unwrap(),
        ))
        .spawn()
        .unwrap()
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn stop(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

async fn store(db: &str) -> chimera_sql::SqlStore {
    let mut config = chimera_sql::SqlConfig::new(db);
    config.max_connections = 4;
    chimera_sql::SqlStore::connect(&config).await.unwrap()
}

/// Waits until every bench portfolio's checkpoint has applied the bar stamped `last_ts`.
async fn wait_applied(db: &chimera_sql::SqlStore, last_ts: i64, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut done = 0;
        for symbol in SYMBOLS {
            let id = PortfolioId::new(format!("bench-{}", symbol.to_lowercase()));
            if let Some(cp) = db.load_checkpoint(&id).await.unwrap() {
                let state: serde_json::Value = serde_json::from_str(&cp.state).unwrap();
                if state["last_bar"][symbol].as_i64() == Some(last_ts) {
                    done += 1;
                }
            }
        }
        if done == SYMBOLS.len() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (Ok(brokers), Ok(admin)) = (
        std::env::var("CHIMERA_KAFKA_BROKERS"),
        std::env::var("CHIMERA_DATABASE_URL"),
    ) else {
        println!("skipped: set CHIMERA_KAFKA_BROKERS and CHIMERA_DATABASE_URL (scripts/test.sh starts both)");
        return;
    };
    let events = env_u64("CHIMERA_BENCH_EVENTS", 100_000);
    let rate = env_u64("CHIMERA_BENCH_RATE", 2_000).max(1);
    let per_symbol = events / SYMBOLS.len() as u64;
    let dir = std::env::temp_dir().join(format!("chimera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let data = bars(per_symbol);
    let last_ts = data.last().unwrap().1;
    let mut kafka = chimera_kafka::KafkaConfig::new(brokers.clone());
    kafka.exclusive = true;
    // The publisher batches normally (the node and gateway, which resume mid-stream after a
    // crash, publish one-record batches as the config says): tansu's in-memory store slows down
    // with the number of record batches a topic holds, and 100k one-record batches at 2k/s
    // saturate it on 2 cores, which would measure the broker rather than the pipeline.
    // The broker holds a fetch until this long when no data is there: latency, not throughput.
    kafka.extra.insert("fetch.wait.max.ms".into(), "5".into());
    let bus: Arc<dyn EventBus> = Arc::new(chimera_kafka::KafkaEventBus::connect(&kafka).unwrap());

    // 1. Throughput and memory.
    let prefix = format!("bench.tp{run}.");
    let db = chimera_sql::recreate_postgres_database(&admin, "chimera_bench_tp")
        .await
        .unwrap();
    let cfg = config(&dir, &brokers, &prefix, &db);
    let messages: Vec<(String, Vec<u8>)> = data
        .iter()
        .map(|(k, _, p)| (k.clone(), p.clone()))
        .collect();
    for chunk in messages.chunks(2_000) {
        bus.publish_batch(&format!("{prefix}market.data"), chunk)
            .await
            .unwrap();
    }
    let store_tp = store(&db).await;
    let started = Instant::now();
    let mut node = spawn(&NODE, &cfg, &dir, "tp-node");
    let finished = wait_applied(&store_tp, last_ts, Duration::from_mins(10)).await;
    let elapsed = started.elapsed();
    let rss = peak_rss_kib(node.id());
    stop(&mut node);
    assert!(
        finished,
        "the node applied every bar (logs in {})",
        dir.display()
    );
    println!(
        "node throughput: {} market events routed to 5 portfolios in {:.2} s = {:.0} events/s (from process start, incl. restore and consumer start-up)",
        data.len(),
        elapsed.as_secs_f64(),
        data.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "node peak RSS with 5 portfolios: {:.1} MiB",
        rss.unwrap_or(0) as f64 / 1024.0
    );

    // 2. Latency at a steady rate.
    let prefix = format!("bench.lat{run}.");
    let db = chimera_sql::recreate_postgres_database(&admin, "chimera_bench_lat")
        .await
        .unwrap();
    let cfg = config(&dir, &brokers, &prefix, &db);
    let mut gateway = spawn(&GATEWAY, &cfg, &dir, "lat-gateway");
    let mut node = spawn(&NODE, &cfg, &dir, "lat-node");
    let mut intents = bus
        .subscribe(
            &format!("{prefix}orders.submission"),
            &format!("{prefix}bench.intents"),
        )
        .await
        .unwrap();
    let mut feedback = bus
        .subscribe(
            &format!("{prefix}orders.feedback"),
            &format!("{prefix}bench.feedback"),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // node and gateway start-up
    let published: Arc<std::sync::Mutex<HashMap<(String, i64), Instant>>> = Arc::default();
    let mut publisher = Some({
        let bus = Arc::clone(&bus);
        let published = Arc::clone(&published);
        let topic = format!("{prefix}market.data");
        tokio::spawn(async move {
            let chunk = 50_usize;
            let period = Duration::from_secs_f64(chunk as f64 / rate as f64);
            let start = Instant::now();
            for (n, batch) in data.chunks(chunk).enumerate() {
                if let Some(wait) = (period * n as u32).checked_sub(start.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                let now = Instant::now();
                {
                    let mut map = published.lock().unwrap();
                    for (symbol, ts, _) in batch {
                        map.insert((symbol.clone(), *ts), now);
                    }
                }
                let messages: Vec<(String, Vec<u8>)> = batch
                    .iter()
                    .map(|(k, _, p)| (k.clone(), p.clone()))
                    .collect();
                bus.publish_batch(&topic, &messages).await.unwrap();
            }
            start.elapsed()
        })
    });
    let mut tick_to_order = Vec::new();
    let mut order_to_fill = Vec::new();
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let mut last_activity = Instant::now();
    let mut publish_time = None;
    loop {
        let mut idle = true;
        while let Ok(Some(d)) = intents.poll(Duration::from_millis(1)).await {
            idle = false;
            if let Ok(env) = decode::<Command>(&d.payload, MessageType::OrderCommand) {
                if let Command::Submit(intent) = env.payload {
                    let now = Instant::now();
                    let key = (intent.symbol.as_str().to_owned(), intent.created_at.0);
                    if let Some(at) = published.lock().unwrap().get(&key) {
                        tick_to_order.push(now.duration_since(*at).as_secs_f64() * 1e3);
                    }
                    seen.entry(intent.client_order_id.as_str().to_owned())
                        .or_insert(now);
                }
            }
        }
        while let Ok(Some(d)) = feedback.poll(Duration::from_millis(1)).await {
            idle = false;
            if let Ok(env) = decode::<ExecutionReport>(&d.payload, MessageType::ExecutionReport) {
                if env.payload.fill().is_some() {
                    if let Some(at) = seen.remove(env.payload.client_order_id.as_str()) {
                        order_to_fill.push(at.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
        }
        if !idle {
            last_activity = Instant::now();
        }
        if publisher
            .as_ref()
            .is_some_and(tokio::task::JoinHandle::is_finished)
        {
            if let Some(handle) = publisher.take() {
                publish_time = Some(handle.await.unwrap());
            }
            last_activity = Instant::now();
        }
        if publish_time.is_some() && last_activity.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    stop(&mut node);
    stop(&mut gateway);
    tick_to_order.sort_by(f64::total_cmp);
    order_to_fill.sort_by(f64::total_cmp);
    println!(
        "published {} events at {rate}/s in {:.1} s; {} intents, {} fills observed",
        events,
        publish_time.unwrap().as_secs_f64(),
        tick_to_order.len(),
        order_to_fill.len()
    );
    println!(
        "tick-to-order (event published → intent on orders.submission): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&tick_to_order, 0.5),
        percentile(&tick_to_order, 0.99),
        tick_to_order.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "order-to-fill (intent seen → fill on orders.feedback): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&order_to_fill, 0.5),
        percentile(&order_to_fill, 0.99),
        order_to_fill.last().copied().unwrap_or(f64::NAN)
    );
}
