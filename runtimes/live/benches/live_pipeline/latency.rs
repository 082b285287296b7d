//! Tick-to-order and order-to-fill at a steady rate, observed on the bus by this process, with
//! the node's memory sampled throughout.

use super::pacing::Pacing;
use super::running::{Component, Running};
use super::setup::{self, Figures, Setup};
use chimera_kernel::engine::Command;
use chimera_kernel::event::ExecutionReport;
use chimera_messages::{decode, MessageType};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The start of the run whose orders are not counted.
const WARM_UP: Duration = Duration::from_secs(1);

pub(crate) struct Latency {
    /// In process, ending when the bus took the intent (or fill) from the runtime; otherwise
    /// when this process's reader received it.
    pub(crate) tick_to_order: Figures,
    pub(crate) order_to_fill: Figures,
    /// Over a network and when `CHIMERA_BENCH_FLOOR_DURING_RUN` is set, the floor's hop
    /// measured during the run on a topic of its own (the broker serving the pipeline's traffic
    /// meanwhile); `None` in process, where its reader would share the runtimes' thread.
    pub(crate) loaded_floor: Option<Figures>,
    /// Least-squares slope of the node's RSS over the run, after its first tenth (warm-up).
    pub(crate) rss_slope_mib_per_min: f64,
}

/// Runs node and gateway on `setup`, publishes `events` bars at `rate`/s and measures.
#[allow(clippy::cast_precision_loss, reason = "figures")]
pub(crate) async fn measure(
    setup: &Setup,
    dir: &std::path::Path,
    node_binary: &std::sync::LazyLock<String>,
    gateway_binary: &std::sync::LazyLock<String>,
    events: u64,
    rate: u64,
    pacing: Pacing,
) -> Latency {
    let bus = setup.bus().await;
    let data = setup::bar_stream(events / setup::SYMBOLS.len() as u64);
    let name = setup.live.bus.kind();
    let gateway = Running::start(
        Component::Gateway,
        setup,
        gateway_binary,
        dir,
        &format!("{name}-gateway"),
    )
    .await;
    let node = Running::start(
        Component::Node,
        setup,
        node_binary,
        dir,
        &format!("{name}-node"),
    )
    .await;
    let intents = bus
        .subscribe(
            &setup.topic("orders.submission"),
            &setup.topic("bench.intents"),
        )
        .await
        .unwrap();
    let feedback = bus
        .subscribe(
            &setup.topic("orders.feedback"),
            &setup.topic("bench.feedback"),
        )
        .await
        .unwrap();
    // Node and gateway start-up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Orders whose intent arrives in the first second are not counted: a Redis Streams reader
    // finds a stream created after it joined (each portfolio's first report) only at its next
    // registry check, up to 200 ms later, which the first fills of each portfolio measured.
    let counted_from = Instant::now() + WARM_UP;
    let mut warm_up = 0_usize;
    let published: Published = Arc::default();
    let mut publisher = Some(publish(
        bus.clone(),
        setup.topic("market.data"),
        data,
        rate,
        Arc::clone(&published),
        pacing,
    ));
    // Asked for only: its own client and topic load the broker too (tick-to-order p50 was
    // 18.6-20.5 ms in two runs without it, 21.1-26.4 in four with it: noise, or not only).
    let loaded_floor = (!node.in_process()
        && std::env::var_os("CHIMERA_BENCH_FLOOR_DURING_RUN").is_some())
    .then(|| loaded_floor(&bus, setup, events, rate, pacing));
    // Each topic has a reader of its own that stamps a message when it arrives: one loop
    // polling both in turn would add up to a poll timeout to either figure.
    let (tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel::<(Seen, At)>();
    let readers =
        [
            spawn_reader(intents, setup.stamps.clone(), tx.clone(), |payload| {
                match decode::<Command>(payload, MessageType::OrderCommand)
                    .ok()?
                    .payload
                {
                    Command::Submit(intent) => Some(Seen::Intent {
                        symbol: intent.symbol.as_str().to_owned(),
                        created_at: intent.created_at.0,
                        order: intent.client_order_id.as_str().to_owned(),
                    }),
                    _ => None,
                }
            }),
            spawn_reader(feedback, setup.stamps.clone(), tx, |payload| {
                let report = decode::<ExecutionReport>(payload, MessageType::ExecutionReport)
                    .ok()?
                    .payload;
                report.fill().is_some().then(|| Seen::Fill {
                    order: report.client_order_id.as_str().to_owned(),
                })
            }),
        ];
    let mut tick_to_order = Spans::default();
    let mut order_to_fill = Spans::default();
    let mut intent_seen: HashMap<String, At> = HashMap::new();
    // A fill handled before its intent (the two readers race): matched when the intent comes.
    let mut fill_seen: HashMap<String, At> = HashMap::new();
    let mut skipped: HashSet<String> = HashSet::new();
    let mut rss = Vec::new();
    let started = Instant::now();
    let mut sampler = tokio::time::interval(Duration::from_secs(1));
    let mut last_activity = Instant::now();
    let mut publish_time = None;
    loop {
        tokio::select! {
            arrival = arrivals.recv() => {
                let Some((seen, at)) = arrival else { break };
                last_activity = Instant::now();
                match seen {
                    Seen::Intent { symbol, created_at, order } if at.seen < counted_from => {
                        warm_up += 1;
                        published.lock().unwrap().remove(&(symbol, created_at));
                        fill_seen.remove(&order);
                        intent_seen.remove(&order);
                        skipped.insert(order);
                    }
                    Seen::Intent { symbol, created_at, order } => {
                        if let Some(sent) = published.lock().unwrap().get(&(symbol, created_at)) {
                            tick_to_order.push(At { bus: *sent, seen: *sent }, at);
                        }
                        if let Some(filled) = fill_seen.remove(&order) {
                            order_to_fill.push(at, filled);
                        } else {
                            intent_seen.entry(order).or_insert(at);
                        }
                    }
                    Seen::Fill { order } if skipped.contains(&order) => {}
                    Seen::Fill { order } => match intent_seen.remove(&order) {
                        Some(sent) => order_to_fill.push(sent, at),
                        None => {
                            fill_seen.entry(order).or_insert(at);
                        }
                    },
                }
            }
            _ = sampler.tick() => {
                if let Some(kib) = setup::status_kib(node.pid(), "VmRSS:") {
                    rss.push((started.elapsed().as_secs_f64() / 60.0, kib as f64 / 1024.0));
                    // A long run (the soak) reports as it goes, so even a cut one says something.
                    if rss.len().is_multiple_of(60) {
                        println!(
                            "  minute {}: node RSS {:.1} MiB, slope so far {:+.3} MiB/min",
                            rss.len() / 60,
                            kib as f64 / 1024.0,
                            slope(&rss[rss.len() / 10..])
                        );
                    }
                }
            }
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
        if publish_time.is_some() && last_activity.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    for reader in readers {
        reader.abort();
    }
    super::hops::print(
        (setup.node_metrics, &setup.node_id),
        Some((setup.gateway_metrics, &setup.gateway_id)),
    )
    .await;
    let loaded_floor = match loaded_floor {
        Some(hops) => Some(hops.await.unwrap()),
        None => None,
    };
    let in_process = node.in_process();
    node.stop().await;
    gateway.stop().await;
    let (tick_to_order, tick_to_order_seen) = tick_to_order.figures();
    let (order_to_fill, order_to_fill_seen) = order_to_fill.figures();
    let result = Latency {
        tick_to_order,
        order_to_fill,
        loaded_floor,
        rss_slope_mib_per_min: slope(&rss[rss.len() / 10..]),
    };
    let took = publish_time.unwrap_or_default().as_secs_f64();
    println!(
        "published {events} events at {rate}/s in {took:.1} s ({warm_up} orders in the first {}s not counted)",
        WARM_UP.as_secs()
    );
    if took > 1.05 * events as f64 / rate as f64 {
        println!(
            "  the bus did not take {rate}/s ({:.0}/s): the latencies include the feed's own backlog",
            events as f64 / took
        );
    }
    if in_process {
        println!(
            "tick-to-order (event published → the node's intent on orders.submission, stamped by the bus): {}",
            result.tick_to_order
        );
        println!("  … until this process's reader had it: {tick_to_order_seen}");
        println!(
            "order-to-fill (intent on the bus → the gateway's fill on orders.feedback, stamped by the bus): {}",
            result.order_to_fill
        );
        println!("  … between this process's readers: {order_to_fill_seen}");
    } else {
        println!(
            "tick-to-order (event published → intent on orders.submission): {}",
            result.tick_to_order
        );
        println!(
            "order-to-fill (intent seen → fill on orders.feedback): {}",
            result.order_to_fill
        );
    }
    if let Some(floor) = &result.loaded_floor {
        println!(
            "floor during the run (one publish → poll hop on a topic of its own, at a quarter of the rate): {floor}"
        );
    }
    println!(
        "{} RSS over the run: {:.1} → {:.1} MiB, slope {:+.3} MiB/min",
        if in_process {
            "this process's (node, gateway and bench)"
        } else {
            "node"
        },
        rss.first().map_or(0.0, |s| s.1),
        rss.last().map_or(0.0, |s| s.1),
        result.rss_slope_mib_per_min
    );
    result
}

/// The floor's hop measured beside the pipeline for as long as its bars are published, at a
/// quarter of their rate: what the broker gives a plain client while it also serves node and
/// gateway (the development Kafka broker slows with load; the floor before the run does not
/// show that).
fn loaded_floor(
    bus: &Arc<dyn chimera_ports::EventBus>,
    setup: &Setup,
    events: u64,
    rate: u64,
    pacing: Pacing,
) -> tokio::task::JoinHandle<Figures> {
    let (bus, topic) = (Arc::clone(bus), setup.topic("floor.loaded"));
    let count = usize::try_from(events / 4).unwrap_or(usize::MAX).max(1);
    tokio::spawn(
        async move { super::floor::hop(&bus, &topic, count, (rate / 4).max(1), pacing).await },
    )
}

/// When each bar was published, by `(symbol, time stamp)`.
type Published = Arc<Mutex<HashMap<(String, i64), Instant>>>;

/// Publishes `data` at `rate`/s, stamping each bar; returns how long it took. Over a network,
/// in chunks, one every 5 ms (tokio's timers tick in milliseconds). In process, one bar at a
/// time paced by the operating system's timer ([`Pacing`]): chunks would measure the queue
/// behind each burst, and the figures there are microseconds.
fn publish(
    bus: Arc<dyn chimera_ports::EventBus>,
    topic: String,
    data: impl Iterator<Item = (String, i64, Vec<u8>)> + Send + 'static,
    rate: u64,
    published: Published,
    pacing: Pacing,
) -> tokio::task::JoinHandle<Duration> {
    let chunk = if pacing.fine() {
        1
    } else {
        usize::try_from(rate / 200).unwrap_or(1).max(1)
    };
    #[allow(clippy::cast_precision_loss, reason = "a period")]
    let period = Duration::from_secs_f64(chunk as f64 / rate as f64);
    pacing.spawn(period, move |mut pacer| async move {
        let start = Instant::now();
        let mut data = data.peekable();
        let mut n = 0_u32;
        while data.peek().is_some() {
            let batch: Vec<(String, i64, Vec<u8>)> = data.by_ref().take(chunk).collect();
            pacer.until(period * n).await;
            n += 1;
            stamp(&published, &batch, n);
            let messages: Vec<(String, Vec<u8>)> =
                batch.into_iter().map(|(k, _, p)| (k, p)).collect();
            bus.publish_batch(&topic, &messages).await.unwrap();
        }
        start.elapsed()
    })
}

/// Records when `batch` (the `n`th publish) went out. A long run (the soak) forgets bars that
/// led to no order within a minute, so this process's memory stays flat too.
fn stamp(published: &Published, batch: &[(String, i64, Vec<u8>)], n: u32) {
    let now = Instant::now();
    let mut map = published.lock().unwrap();
    for (symbol, ts, _) in batch {
        map.insert((symbol.clone(), *ts), now);
    }
    if n.is_multiple_of(1_000) {
        map.retain(|_, at| now.duration_since(*at) < Duration::from_mins(1));
    }
}

/// When a message was on the bus: stamped by the bus in process (else as `seen`), and when
/// this process's reader had it.
#[derive(Debug, Clone, Copy)]
struct At {
    bus: Instant,
    seen: Instant,
}

/// Spans between two [`At`]s (ms), both ways of stamping.
#[derive(Default)]
struct Spans {
    bus: Vec<f64>,
    seen: Vec<f64>,
}

impl Spans {
    fn push(&mut self, from: At, to: At) {
        let ms =
            |to: Instant, from: Instant| to.saturating_duration_since(from).as_secs_f64() * 1e3;
        self.bus.push(ms(to.bus, from.bus));
        self.seen.push(ms(to.seen, from.seen));
    }

    /// (stamped by the bus, seen by the readers).
    fn figures(self) -> (Figures, Figures) {
        (Figures::of(self.bus), Figures::of(self.seen))
    }
}

/// What a reader saw: an order intent, or a fill of an order.
enum Seen {
    Intent {
        symbol: String,
        created_at: i64,
        order: String,
    },
    Fill {
        order: String,
    },
}

/// Polls `sub` until aborted, stamping each message as it arrives (and taking the bus's stamp
/// of it, in process) and passing on what `read` makes of it.
fn spawn_reader(
    mut sub: Box<dyn chimera_ports::Subscription>,
    stamps: Option<Arc<super::stamped::Stamps>>,
    tx: tokio::sync::mpsc::UnboundedSender<(Seen, At)>,
    read: fn(&[u8]) -> Option<Seen>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut taken = 0_u64;
        loop {
            if let Ok(Some(d)) = sub.poll(Duration::from_millis(100)).await {
                let seen_at = Instant::now();
                taken += 1;
                // Acknowledged now and then, so the in-memory bus may drop what was read (a
                // group that never acknowledges keeps its topic whole, as over the soak).
                if taken.is_multiple_of(64) {
                    let _ = sub.ack(&d).await;
                }
                let bus = stamps.as_ref().and_then(|s| s.take(&d.topic, d.offset));
                let at = At {
                    bus: bus.unwrap_or(seen_at),
                    seen: seen_at,
                };
                if let Some(seen) = read(&d.payload) {
                    if tx.send((seen, at)).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// Least-squares slope of `(x, y)` points (0 for fewer than two).
#[allow(clippy::cast_precision_loss, reason = "figures")]
fn slope(points: &[(f64, f64)]) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}
