//! Live pipeline figures on loopback services, with the real `chimera-node` and
//! `chimera-gateway` binaries (`cargo bench -p chimera-live --bench live_pipeline`), on each bus
//! the environment names (Kafka: `CHIMERA_KAFKA_BROKERS`, Redis Streams: `CHIMERA_REDIS_URL`),
//! storing in PostgreSQL (`CHIMERA_DATABASE_URL`); then in one process as `chimera up` runs on
//! its embedded defaults: node and gateway as tasks of this process on the in-memory bus,
//! storing in SQLite, no server needed. `CHIMERA_BENCH_BUS=kafka|redis|memory` picks one:
//!
//! 1. the floor: the bus's own publish → poll hop, through the same adapter and settings;
//! 2. node throughput and memory: 5 portfolios (one symbol each), the bars already on the bus;
//!    time from node start until every portfolio has applied its last bar; peak RSS (`VmHWM`);
//! 3. latency: node and gateway running, bars published at a steady rate; tick-to-order is
//!    "market event published → its order intent seen on `orders.submission`", order-to-fill is
//!    "intent seen → its fill seen on `orders.feedback`" (both observed by this process, so
//!    each crosses two hops of the floor, measured again right before this phase when phase 2
//!    ran: the broker that served the backlog is not the fresh one of phase 1); the node's RSS
//!    is sampled every second and its slope reported, so a long run
//!    (`CHIMERA_BENCH_LATENCY_EVENTS`) is the memory soak.
//!
//! In process, right before the latency phase, it also measures the machine's own floor for a
//! path of that length ([`machine`]): what the machine alone adds at p99 to 30 µs of work.
//!
//! `CHIMERA_BENCH_EVENTS` (throughput bars, default 100000; 0 skips the phase),
//! `CHIMERA_BENCH_LATENCY_EVENTS` (default 20000), `CHIMERA_BENCH_FLOOR_EVENTS` (hops per
//! floor, default 2000) and `CHIMERA_BENCH_RATE` (events/s; default
//! 2000 on Redis, 400 on Kafka, under the development broker's producer ceiling) tune it;
//! `CHIMERA_BENCH_SOAK_MINUTES=30` is the memory soak (the latency phase for that long at the
//! rate, no throughput phase: read the RSS slope); `CHIMERA_BENCH_BINARIES=<dir>` runs another
//! build's `chimera-node` and `chimera-gateway`; `CHIMERA_BENCH_FLOOR_DURING_RUN=1` also
//! measures the floor's hop during a networked latency phase (the broker under load);
//! `CHIMERA_BENCH_BUSY_POLL=1` keeps the in-process runtime's thread awake between events, as
//! `chimera up --busy-poll` does, the simulated venue rehearsing its last order every 250 µs
//! and each portfolio its last orders every millisecond (`CHIMERA_BENCH_REHEARSE=0`: neither;
//! `=1`: both, also when parked; `=node` or `=gateway`: that one alone);
//! `CHIMERA_BENCH_TIMELINE=1` traces the in-process runtime's thread over the latency phase ([`timeline`], a build with `--cfg tokio_unstable`). After
//! each phase the runtimes' own hop histograms are scraped from their `/metrics` and printed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench")]

mod floor;
mod hops;
mod latency;
mod machine;
mod observe;
mod pacing;
#[path = "../../tests/support/redis_keys.rs"]
mod redis_keys;
mod running;
mod setup;
mod stamped;
mod timeline;

use pacing::Pacing;
use running::{Component, Running};
use setup::{Bus, Figures, Setup, SYMBOLS};
use std::time::{Duration, Instant};

static NODE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| setup::binary("chimera-node"));
static GATEWAY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| setup::binary("chimera-gateway"));

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one bus measured, for the summary.
struct Outcome {
    bus: &'static str,
    /// The first hop floor, on a fresh broker.
    floor: Figures,
    /// The hop floor right before the latency phase, which that phase is held against.
    latency_floor: Figures,
    throughput: Throughput,
    /// `None` when `CHIMERA_BENCH_LATENCY_EVENTS=0` (throughput alone).
    latency: Option<latency::Latency>,
    /// In process: the machine's own floor for a path of that length ([`machine`]).
    machine: Option<machine::MachineFloor>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // In process the runtimes log here (`CHIMERA_LOG`, warnings by default), as in `chimera up`.
    if std::env::var_os("CHIMERA_LOG").is_none() {
        std::env::set_var("CHIMERA_LOG", "warn");
    }
    chimera_live::logging::init().unwrap();
    observe::set_observer();
    let admin = std::env::var("CHIMERA_DATABASE_URL").ok();
    let mut buses = Bus::from_env();
    if admin.is_none() && buses.iter().any(|b| !matches!(b, Bus::Memory)) {
        println!("Kafka and Redis Streams skipped: set CHIMERA_DATABASE_URL (scripts/services.sh starts PostgreSQL)");
        buses.retain(|b| matches!(b, Bus::Memory));
    }
    if buses.is_empty() {
        println!("skipped: no bus chosen (CHIMERA_BENCH_BUS=kafka|redis|memory; scripts/services.sh starts Kafka and Redis)");
        return;
    }
    // Built (or found) now, not inside a timed phase (in process, none is run).
    if buses.iter().any(|b| !matches!(b, Bus::Memory)) {
        std::sync::LazyLock::force(&NODE);
        std::sync::LazyLock::force(&GATEWAY);
    }
    let dir = std::env::temp_dir().join(format!("chimera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut outcomes = Vec::new();
    for bus in &buses {
        println!("== {} ==", bus.name());
        let outcome = if matches!(bus, Bus::Memory) {
            in_process(bus, &dir).await
        } else {
            run_on(bus, admin.as_deref(), &dir).await
        };
        outcomes.push(outcome);
    }
    // The runs' SQLite files and logs (megabytes a run) go once every run finished; a run that
    // panicked leaves them for a look.
    let _ = std::fs::remove_dir_all(&dir);
    println!("\n== summary (ms; overhead = ours above the floor's hops) ==");
    for o in &outcomes {
        let Some(l) = &o.latency else {
            println!("{}: latency not measured | {}", o.bus, o.throughput);
            continue;
        };
        if o.bus == "memory" {
            print_in_process(o, l);
            continue;
        }
        println!(
            "{}: hop p50 {:.2} p99 {:.2}, before the latency phase p50 {:.2} p99 {:.2} | tick-to-order p50 {:.2} p99 {:.2} (overhead {}) | \
             order-to-fill p50 {:.2} p99 {:.2} (overhead {}) | {} | peak RSS {}, slope {:+.2} MiB/min",
            o.bus,
            o.floor.p50,
            o.floor.p99,
            o.latency_floor.p50,
            o.latency_floor.p99,
            l.tick_to_order.p50,
            l.tick_to_order.p99,
            OverTwoHops(&l.tick_to_order, &o.latency_floor),
            l.order_to_fill.p50,
            l.order_to_fill.p99,
            OverTwoHops(&l.order_to_fill, &o.latency_floor),
            o.throughput,
            o.throughput
                .peak_rss_mib
                .map_or_else(|| "not measured".to_owned(), |mib| format!("{mib:.1} MiB")),
            l.rss_slope_mib_per_min,
        );
        if let Some(loaded) = &l.loaded_floor {
            println!(
                "  {} floor during the run: hop p50 {:.2} p99 {:.2} | tick-to-order overhead over two of its hops {} | order-to-fill {}",
                o.bus,
                loaded.p50,
                loaded.p99,
                OverTwoHops(&l.tick_to_order, loaded),
                OverTwoHops(&l.order_to_fill, loaded),
            );
        }
    }
}

/// The in-process summary line, in microseconds.
fn print_in_process(o: &Outcome, l: &latency::Latency) {
    let us = |ms: f64| ms * 1e3;
    println!(
        "memory (in process): hop p50 {:.1} p99 {:.1} µs | tick-to-order p50 {:.1} p99 {:.1} µs (overhead p50 {:.1}, p99 {:.1}) | \
         order-to-fill p50 {:.1} p99 {:.1} µs | {}",
        us(o.latency_floor.p50),
        us(o.latency_floor.p99),
        us(l.tick_to_order.p50),
        us(l.tick_to_order.p99),
        us(l.tick_to_order.p50 - 2.0 * o.latency_floor.p50),
        us(l.tick_to_order.p99 - 2.0 * o.latency_floor.p99),
        us(l.order_to_fill.p50),
        us(l.order_to_fill.p99),
        o.throughput,
    );
    if let Some(m) = &o.machine {
        println!(
            "  the machine alone adds {:.1} µs at p99 to {} µs of work (p50 {:.1}, p99 {:.1})",
            m.p99 - m.p50,
            machine::WORK.as_micros(),
            m.p50,
            m.p99
        );
    }
}

/// The in-memory run, on a single-threaded runtime of its own as `chimera up` runs on the
/// in-memory bus; busy-polling with `CHIMERA_BENCH_BUSY_POLL=1`.
async fn in_process(bus: &Bus, dir: &std::path::Path) -> Outcome {
    let (bus, dir) = (bus.clone(), dir.to_path_buf());
    // Named, so a profiler's samples of the runtimes' thread can be told apart.
    let thread = std::thread::Builder::new()
        .name("runtimes".into())
        .spawn(move || {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            timeline::install(&mut builder)
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    // As `chimera up --busy-poll` keeps its thread awake.
                    let (stop, shutdown) = chimera_live::runtime::shutdown_pair();
                    if std::env::var_os("CHIMERA_BENCH_BUSY_POLL").is_some() {
                        println!("the runtimes' thread busy-polls (chimera up --busy-poll)");
                        chimera_live::busy_poll::busy_poll(shutdown);
                    }
                    let outcome = run_on(&bus, None, &dir).await;
                    timeline::report();
                    stop.trigger();
                    outcome
                })
        })
        .unwrap();
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap()
}

/// A fresh database named `name`: on PostgreSQL (`admin`) for the buses of servers, a SQLite
/// file under `dir` in process (the embedded defaults).
async fn database(bus: &Bus, admin: Option<&str>, dir: &std::path::Path, name: &str) -> String {
    match (bus, admin) {
        (Bus::Memory, _) => {
            let path = dir.join(format!("{name}.db"));
            let _ = std::fs::remove_file(&path);
            format!("sqlite://{}?mode=rwc", path.display())
        }
        (_, Some(admin)) => chimera_sql::recreate_postgres_database(admin, name)
            .await
            .unwrap(),
        (_, None) => unreachable!("buses of servers are dropped without a database"),
    }
}

async fn run_on(bus: &Bus, admin: Option<&str>, dir: &std::path::Path) -> Outcome {
    // The development Kafka broker takes one record per produce request (see `Bus::section`),
    // so one idempotent producer (5 requests in flight) tops out near 5 / round trip, about
    // 550 messages/s at its 9 ms: a faster feed would measure its own backlog, not our latency.
    let default_rate = match bus {
        Bus::Kafka(_) => 400,
        Bus::Redis(_) | Bus::Memory => 2_000,
    };
    let rate = env_u64("CHIMERA_BENCH_RATE", default_rate).max(1);
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let name = bus.name();

    // 1. The floor, on a topic of its own.
    let db = database(bus, admin, dir, &format!("chimera_bench_{name}_tp")).await;
    let (tp_prefix, lat_prefix) = (
        format!("bench.{name}.tp{run}."),
        format!("bench.{name}.lat{run}."),
    );
    let tp = Setup::new(dir, bus, &tp_prefix, &db).await;
    let handle = tp.bus().await;
    // 2,000 hops by default. The development Kafka broker slows as a partition fills, so a
    // floor as long as the latency phase (`CHIMERA_BENCH_FLOOR_EVENTS`) shows the broker's own
    // p99 over such a run; it also loads the broker that much more before the next phase.
    let latency_events = env_u64("CHIMERA_BENCH_LATENCY_EVENTS", 20_000);
    let floor_events = usize::try_from(env_u64("CHIMERA_BENCH_FLOOR_EVENTS", 2_000)).unwrap();
    let pacing = Pacing::for_bus(matches!(bus, Bus::Memory));
    println!(
        "bars and floor messages {}; intents and fills {}",
        pacing.describe(),
        observe::describe()
    );
    let floor = floor::hop(&handle, &tp.topic("floor"), floor_events, rate, pacing).await;
    println!("floor (one publish → poll hop): {floor}");

    // 2. Throughput and memory: the bars are on the bus before the node starts (skipped with
    // `CHIMERA_BENCH_EVENTS=0`, e.g. for the memory soak).
    let soak_minutes = env_u64("CHIMERA_BENCH_SOAK_MINUTES", 0);
    let events = if soak_minutes > 0 {
        0
    } else {
        env_u64("CHIMERA_BENCH_EVENTS", 100_000)
    };
    let throughput = if events == 0 {
        Throughput::SKIPPED
    } else {
        throughput(&tp, &handle, &db, dir, events).await
    };

    // 3. Latency at a steady rate, with the gateway.
    let db = database(bus, admin, dir, &format!("chimera_bench_{name}_lat")).await;
    let lat = Setup::new(dir, bus, &lat_prefix, &db).await;
    // The broker after the throughput phase is not the broker of the first floor (the
    // development Kafka broker slows as it accumulates batches): the latency phase is held
    // against a floor measured right before it, on the same broker in the same state.
    let latency_floor = if throughput.whole.is_nan() || latency_events == 0 {
        floor
    } else {
        let handle = lat.bus().await;
        let again = floor::hop(&handle, &lat.topic("floor"), floor_events, rate, pacing).await;
        println!("floor again, before the latency phase: {again}");
        again
    };
    let events = if soak_minutes > 0 {
        rate * 60 * soak_minutes
    } else {
        latency_events
    };
    let machine = if matches!(bus, Bus::Memory) && events > 0 {
        let busy = std::env::var_os("CHIMERA_BENCH_BUSY_POLL").is_some();
        let floor = machine::measure(rate, 4_000, busy).await;
        println!("the machine's own floor, paced as the bars: {floor}");
        Some(floor)
    } else {
        None
    };
    let latency = if events == 0 {
        None
    } else {
        Some(latency::measure(&lat, dir, &NODE, &GATEWAY, events, rate, pacing).await)
    };
    bus.forget(&[&tp_prefix, &lat_prefix]).await;
    Outcome {
        bus: name,
        floor,
        latency_floor,
        throughput,
        latency,
        machine,
    }
}

/// What phase 2 measured.
/// A figure above two hops of a floor (each crosses two), printed as "p50 …, p99 …".
struct OverTwoHops<'a>(&'a Figures, &'a Figures);

impl std::fmt::Display for OverTwoHops<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self(measured, hop) = self;
        write!(
            f,
            "p50 {:.2}, p99 {:.2}",
            measured.p50 - 2.0 * hop.p50,
            measured.p99 - 2.0 * hop.p99
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Throughput {
    /// The bus's own read rate, one subscriber of a fresh group.
    read_floor: floor::Rate,
    /// The node's events per second from process start (restore and consumer start-up count).
    whole: f64,
    /// The node's events per second from the first input its workers took to the last.
    steady: f64,
    /// `None` when not measured (phase skipped, or the node's RSS not told apart).
    peak_rss_mib: Option<f64>,
}

impl std::fmt::Display for Throughput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.whole.is_nan() {
            return write!(f, "throughput not measured");
        }
        if !self.steady.is_nan() {
            write!(f, "{:.0} events/s steady, ", self.steady)?;
        }
        write!(
            f,
            "{:.0} from process start (bus read floor {:.0}/s)",
            self.whole, self.read_floor.steady
        )
    }
}

impl Throughput {
    const SKIPPED: Self = Self {
        read_floor: floor::Rate {
            first_after: Duration::ZERO,
            steady: f64::NAN,
        },
        whole: f64::NAN,
        steady: f64::NAN,
        peak_rss_mib: None,
    };
}

/// Phase 2: `events` bars on the bus, then the node started on them: the bus's own read rate,
/// the node's throughput (from process start, and steady) and its peak RSS.
async fn throughput(
    tp: &Setup,
    handle: &std::sync::Arc<dyn chimera_ports::EventBus>,
    db: &str,
    dir: &std::path::Path,
    events: u64,
) -> Throughput {
    let name = tp.live.bus.kind();
    let data = setup::bars(events / SYMBOLS.len() as u64);
    let last_ts = data.last().unwrap().ts;
    let count = data.len();
    let mut data = data.into_iter().peekable();
    while data.peek().is_some() {
        let chunk: Vec<setup::Bar> = data.by_ref().take(2_000).collect();
        setup::publish_bars(&**handle, &tp.topic("market.data"), chunk)
            .await
            .unwrap();
    }
    let read_floor = floor::read_rate(handle, &tp.topic("market.data"), count).await;
    println!(
        "floor (one subscriber of a fresh group reading the {count} bars back, no decoding): {read_floor}"
    );
    let store = setup::store(db).await;
    let started = Instant::now();
    // In process the node shares its thread with the scraper, whose every scrape (the node
    // rendering its metrics) would be time taken from the node: no steady rate there.
    #[allow(clippy::cast_precision_loss, reason = "a count")]
    let watch = (name != "memory").then(|| {
        tokio::spawn(hops::watch_rate(
            tp.node_metrics,
            tp.node_id.clone(),
            count as f64,
            started,
            Duration::from_mins(10),
        ))
    });
    let node = Running::start(Component::Node, tp, &NODE, dir, &format!("{name}-tp-node")).await;
    let finished = setup::wait_applied(&store, last_ts, Duration::from_mins(10)).await;
    let elapsed = started.elapsed();
    let steady = match watch {
        Some(watch) if finished => watch.await.unwrap(),
        Some(watch) => {
            watch.abort();
            None
        }
        None => None,
    };
    // In process the peak is this process's, bars and all: not the node's.
    let rss = if node.in_process() {
        None
    } else {
        setup::status_kib(node.pid(), "VmHWM:")
    };
    hops::print((tp.node_metrics, &tp.node_id), None).await;
    node.stop().await;
    assert!(
        finished,
        "the node applied every bar (logs in {})",
        dir.display()
    );
    #[allow(clippy::cast_precision_loss, reason = "figures")]
    let throughput = count as f64 / elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss, reason = "figures")]
    let peak_rss_mib = rss.map(|kib| kib as f64 / 1024.0);
    println!(
        "node throughput: {} market events routed to 5 portfolios in {:.2} s = {throughput:.0} events/s (from process start, incl. restore and consumer start-up)",
        count,
        elapsed.as_secs_f64(),
    );
    if let Some(steady) = steady {
        println!(
            "node routing rate: {:.0} events/s from the first event its workers took to the last, the first {:.2} s after the process started (bus read floor {:.0}/s measured the same way)",
            steady.steady,
            steady.first_after.as_secs_f64(),
            read_floor.steady,
        );
    }
    if let Some(mib) = peak_rss_mib {
        println!("node peak RSS with 5 portfolios: {mib:.1} MiB");
    }

    Throughput {
        read_floor,
        whole: throughput,
        steady: steady.map_or(f64::NAN, |r| r.steady),
        peak_rss_mib,
    }
}
