//! The live architecture end to end on real services (Kafka-protocol broker or Redis Streams,
//! PostgreSQL): feed → node (3 portfolios) → gateway (simulated venue) → feedback → node. The
//! positions recorded in PostgreSQL must equal an in-process backtest of the same bars, with
//! malformed messages thrown in, and across SIGKILLs of the node and the gateway.
#![allow(clippy::unwrap_used, reason = "tests")]
#![allow(
    clippy::duration_suboptimal_units,
    reason = "timeouts read best in seconds"
)]

mod support;

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_messages::{encode, ControlCommand, Envelope, MessageType};
use chimera_ports::{AuditKind, AuditRepository, EventBus, PortfolioRepository, PortfolioStatus};
use std::time::Duration;
use support::*;

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
static FEED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| binary("chimera-feed"));

/// The topics Chimera's runtimes consume (`system.events` and `alerts` are for the outside).
const CONSUMED: [&str; 5] = [
    "market.data",
    "orders.submission",
    "orders.feedback",
    "control.commands",
    "schedule.updates",
];

/// Gateway, node and feed running against one setup.
struct Pipeline {
    gateway: Proc,
    node: Proc,
    feed: Proc,
    /// Where the processes write their output.
    dir: std::path::PathBuf,
}

impl Pipeline {
    fn start(setup: &Setup) -> Self {
        Self {
            gateway: spawn(&GATEWAY, setup, "gateway"),
            node: spawn(&NODE, setup, "node"),
            feed: spawn(&FEED, setup, "feed"),
            dir: setup.dir.clone(),
        }
    }

    /// Waits until the database holds the backtest's fills and the feed has finished.
    async fn settle(&mut self, store: &chimera_sql::SqlStore, expected: &Expected) {
        let fills = expected
            .iter()
            .map(|(k, (_, f, _))| (k.clone(), *f))
            .collect();
        wait_settled(store, &fills, Duration::from_secs(240)).await;
        assert!(self.feed.wait().unwrap().success(), "feed finished");
    }

    /// Stops node and gateway with SIGTERM, then compares the positions with the backtest.
    async fn stop_and_check(mut self, store: &chimera_sql::SqlStore, expected: &Expected) {
        terminate(&mut self.node);
        terminate(&mut self.gateway);
        // What each gateway process counted (`priced-late` names orders the venue had been fed
        // past: the first suspect when a fill differs from the backtest's).
        for name in ["gateway", "gateway-2"] {
            if let Ok(out) = std::fs::read_to_string(self.dir.join(format!("{name}.out"))) {
                println!("{name}: {}", out.trim());
            }
        }
        assert_matches_backtest(store, expected).await;
    }
}

async fn control(bus: &dyn EventBus, setup: &Setup, command: &ControlCommand) {
    let envelope = Envelope::new(
        MessageType::ControlCommand,
        format!("test:{}", serde_json::to_string(command).unwrap()),
        Timestamp(0),
        "test",
        command.key(),
        command,
    );
    bus.publish(
        &format!("{}control.commands", setup.prefix),
        command.key(),
        &encode(&envelope),
    )
    .await
    .unwrap();
}

async fn wait_status(store: &chimera_sql::SqlStore, id: &PortfolioId, want: PortfolioStatus) {
    for _ in 0..300 {
        let record = store.get_portfolio(id).await.unwrap().unwrap();
        if record.status == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("portfolio {id} never became {want:?}");
}

/// Control commands reach the running node: pause (recorded as the portfolio's status),
/// cancel-all on a portfolio with nothing working (no order sent), resume.
async fn pause_and_resume(bus: &dyn EventBus, setup: &Setup, store: &chimera_sql::SqlStore) {
    let id = PortfolioId::new("p1-btcusdt");
    let some = Some(id.clone());
    control(
        bus,
        setup,
        &ControlCommand::Pause {
            portfolio_id: some.clone(),
            reason: "end-to-end test".into(),
        },
    )
    .await;
    wait_status(store, &id, PortfolioStatus::Paused).await;
    control(
        bus,
        setup,
        &ControlCommand::CancelAll { portfolio_id: None },
    )
    .await;
    control(bus, setup, &ControlCommand::Resume { portfolio_id: some }).await;
    wait_status(store, &id, PortfolioStatus::Active).await;
}

/// Garbage on every consumed topic, before anything runs.
async fn publish_garbage(bus: &dyn EventBus, setup: &Setup) {
    for topic in CONSUMED {
        bus.publish(&format!("{}{topic}", setup.prefix), "BTCUSDT", b"{not json")
            .await
            .unwrap();
    }
}

/// Every consumed topic's garbage was dead-lettered, with its topic named.
async fn assert_dead_lettered(store: &chimera_sql::SqlStore, setup: &Setup) {
    let dead = store.recent(AuditKind::DeadLetter, 100).await.unwrap();
    let topics: std::collections::BTreeSet<String> = dead
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["topic"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for topic in CONSUMED {
        assert!(
            topics.contains(&format!("{}{topic}", setup.prefix)),
            "{topic} dead-lettered: {topics:?}"
        );
    }
    println!("dead letters: {}", dead.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_run_matches_backtest_and_dead_letters_malformed_messages() {
    let Some(services) = services() else { return };
    let setup = setup("clean", &services).await;
    let expected = backtest(&setup.dir);
    let bus = chimera_kafka::KafkaEventBus::connect(&chimera_kafka::KafkaConfig::new(
        services.brokers.clone(),
    ))
    .unwrap();
    publish_garbage(&bus, &setup).await;

    let mut run = Pipeline::start(&setup);
    let store = store(&setup).await;
    run.settle(&store, &expected).await;
    pause_and_resume(&bus, &setup, &store).await;
    run.stop_and_check(&store, &expected).await;
    assert_dead_lettered(&store, &setup).await;
    let (without,): (i64,) = sqlx::query_as("SELECT count(*) FROM fills WHERE sent_at IS NULL")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(without, 0, "every fill records when its order was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_gateway_survive_sigkill_without_losing_or_duplicating() {
    let Some(services) = services() else { return };
    kill_and_restart(&setup("kill", &services).await).await;
}

/// The crash test with two portfolios on one symbol (the gateway's simulated venue holds an
/// order until the other portfolio has promised its time): each still ends as in the
/// backtest, so no held command was lost or executed twice across the kills. `progress_ms = 0`:
/// a promise per batch, so an order waits for the other portfolio's engine, not for a timer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portfolios_sharing_a_symbol_survive_sigkill_over_redis_streams() {
    let Some(services) = services() else { return };
    let Some(redis_url) = services.redis_url.clone() else {
        println!("skipped: CHIMERA_REDIS_URL must be set (scripts/test.sh starts Redis)");
        return;
    };
    let specs = shared_symbol_specs();
    let setup = setup_with(
        "shared_kill",
        &services,
        Bus::RedisStreams,
        specs,
        "progress_ms = 0\n",
    )
    .await;
    kill_and_restart(&setup).await;
    remove_keys(&redis_url, &setup.prefix).await.unwrap();
}

/// The same crash test over Redis Streams: unacknowledged entries of the per-symbol streams are
/// claimed by the restarted processes, stream partitions keep their numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_gateway_survive_sigkill_over_redis_streams() {
    let Some(services) = services() else { return };
    let Some(redis_url) = services.redis_url.clone() else {
        println!("skipped: CHIMERA_REDIS_URL must be set (scripts/test.sh starts Redis)");
        return;
    };
    let setup = setup_on("redis_kill", &services, Bus::RedisStreams).await;
    kill_and_restart(&setup).await;
    assert_design_stream_layout(&redis_url, &setup.prefix, &[]).await;
}

/// Rows in `table`.
async fn count_rows(store: &chimera_sql::SqlStore, table: &str) -> i64 {
    let row: (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap();
    row.0
}

/// Waits until at least `n` fills are recorded, failing with `what` after `limit`.
async fn wait_for_fills(store: &chimera_sql::SqlStore, n: i64, limit: Duration, what: &str) {
    let started = std::time::Instant::now();
    while count_rows(store, "fills").await < n {
        assert!(started.elapsed() < limit, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No order beyond one per backtest fill (market orders fill once): nothing was duplicated.
async fn assert_no_order_duplicated(store: &chimera_sql::SqlStore, expected: &Expected) {
    let expected_orders: u64 = expected.values().map(|(_, f, _)| f).sum();
    assert_eq!(
        count_rows(store, "orders").await as u64,
        expected_orders,
        "one order per intent, none duplicated (market orders fill once)"
    );
}

/// Runs the pipeline, SIGKILLs the node once some fills exist and the gateway a little later,
/// restarts both: the positions equal the backtest, and no order is duplicated.
async fn kill_and_restart(setup: &Setup) {
    let expected = backtest_of(&setup.dir, &setup.specs);
    let mut run = Pipeline::start(setup);
    let store = store(setup).await;
    // Kill the node once some fills exist, then the gateway a little later.
    wait_for_fills(&store, 20, Duration::from_secs(120), "no fills yet").await;
    sigkill(&mut run.node);
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.node = spawn(&NODE, setup, "node-2");
    let restarted = "no progress after the node restart";
    wait_for_fills(&store, 60, Duration::from_secs(180), restarted).await;
    sigkill(&mut run.gateway);
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.gateway = spawn(&GATEWAY, setup, "gateway-2");

    run.settle(&store, &expected).await;
    run.stop_and_check(&store, &expected).await;
    assert_no_order_duplicated(&store, &expected).await;
}

/// The same pipeline over the Redis Streams bus (the small-deployment option), in the design's
/// stream layout: positions equal the backtest, malformed messages are dead-lettered, control
/// commands arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_run_over_redis_streams_matches_backtest() {
    let Some(services) = services() else { return };
    let Some(redis_url) = services.redis_url.clone() else {
        println!("skipped: CHIMERA_REDIS_URL must be set (scripts/test.sh starts Redis)");
        return;
    };
    let setup = setup_on("redis", &services, Bus::RedisStreams).await;
    let expected = backtest(&setup.dir);
    let config = chimera_live::config::load(
        std::slice::from_ref(&setup.config),
        [],
        Some(&chimera_kernel::strategy::StrategyRegistry::builtin()),
    )
    .unwrap();
    let bus = chimera_live::connect_bus(&config, "test", false)
        .await
        .unwrap();
    publish_garbage(bus.as_ref(), &setup).await;

    let mut run = Pipeline::start(&setup);
    let store = store(&setup).await;
    run.settle(&store, &expected).await;
    pause_and_resume(bus.as_ref(), &setup, &store).await;
    run.stop_and_check(&store, &expected).await;
    assert_dead_lettered(&store, &setup).await;
    let also = ["ctl:{commands}", "sched:{updates}", "ops:{dead_letters}"];
    assert_design_stream_layout(&redis_url, &setup.prefix, &also).await;
}

/// The messages went to the design's streams (`mkt:events:{perp}:<SYMBOL>`, `ord:{results}`,
/// ..., and the streams in `also`), none to the fallback `stream:<topic>`; then the test's keys
/// are removed.
async fn assert_design_stream_layout(redis_url: &str, prefix: &str, also: &[&str]) {
    let client = redis::Client::open(redis_url).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let mut streams: Vec<String> = SYMBOLS
        .iter()
        .map(|(symbol, _)| format!("mkt:events:{{perp}}:{symbol}"))
        .collect();
    streams.extend(["ord:{intents}", "ord:{results}", "sys:{events}"].map(String::from));
    streams.extend(also.iter().map(|s| (*s).to_owned()));
    for stream in &streams {
        let len: u64 = redis::cmd("XLEN")
            .arg(format!("{prefix}{stream}"))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(len > 0, "{prefix}{stream} holds the messages ({len})");
    }
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| !k.starts_with(&format!("{prefix}stream:"))),
        "no topic fell back to its default stream: {keys:?}"
    );
    remove_keys(redis_url, prefix).await.unwrap();
}

/// With shared state (`[state]` on Redis), a second process started for the same node waits
/// for the portfolio leases instead of trading alongside the first; when the first is killed,
/// the second takes over within a lease time and the run ends as the backtest, with no order
/// duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_waits_for_the_leases_and_takes_over() {
    let Some(services) = services() else { return };
    let Some(redis_url) = services.redis_url.clone() else {
        println!("skipped: CHIMERA_REDIS_URL must be set (scripts/test.sh starts Redis)");
        return;
    };
    let setup = setup("lease", &services).await;
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let state = format!("\n[state]\nkind = \"redis\"\nurl = \"{redis_url}\"\nlease_ms = 1500\n");
    std::fs::write(&setup.config, text + &state).unwrap();
    let expected = backtest(&setup.dir);
    let mut run = Pipeline::start(&setup);
    let store = store(&setup).await;
    wait_for_fills(&store, 20, Duration::from_secs(120), "no fills yet").await;
    let started = std::time::Instant::now();
    let second = spawn(&NODE, &setup, "node-second");
    let log = setup.dir.join("node-second.err");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    while !read_log().contains("portfolio_leased_elsewhere") {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the second node never reported waiting: {}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let started_portfolios =
        |log: &str| log.lines().filter(|l| l.contains("started (epoch")).count();
    assert_eq!(
        started_portfolios(&read_log()),
        0,
        "the second node runs nothing while the first holds the leases: {}",
        read_log()
    );
    sigkill(&mut run.node);
    run.node = second;
    run.settle(&store, &expected).await;
    assert_eq!(
        started_portfolios(&read_log()),
        3,
        "the second node started the three portfolios: {}",
        read_log()
    );
    let took_over = read_log()
        .lines()
        .find(|l| l.contains("started (epoch"))
        .map_or_else(
            || panic!("the second node took over: {}", read_log()),
            |l| serde_json::from_str::<serde_json::Value>(l).unwrap(),
        );
    assert_eq!(took_over["level"], "INFO", "{took_over}");
    assert!(took_over["component"].is_string(), "{took_over}");
    let waited = read_log()
        .lines()
        .find(|l| l.contains("portfolio_leased_elsewhere"))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .unwrap();
    assert!(
        waited["portfolio"].is_string() && waited["code"] == "portfolio_leased_elsewhere",
        "alerts carry their portfolio and code: {waited}"
    );
    run.stop_and_check(&store, &expected).await;
    assert_no_order_duplicated(&store, &expected).await;
}
