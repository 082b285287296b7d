//! Tick-to-order and order-to-fill at a steady rate, observed on the bus by this process, with
//! the node's memory sampled throughout.

use super::observe::{Observed, Published, Watch};
use super::pacing::Pacing;
use super::running::{Component, Running};
use super::setup::{self, Figures, Setup};
use std::sync::Arc;
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
    // Sized up front: grown as it fills, its rehashes (a copy of every entry) ran on the
    // runtimes' own thread in process, between their events.
    let kept = usize::try_from(events.min(rate * 70)).unwrap_or(usize::MAX);
    let published: Published = Arc::new(std::sync::Mutex::new(
        std::collections::HashMap::with_capacity(kept),
    ));
    super::timeline::start();
    let publisher = publish(
        bus.clone(),
        setup.topic("market.data"),
        data,
        rate,
        Arc::clone(&published),
        pacing,
    );
    // Asked for only: its own client and topic load the broker too (tick-to-order p50 was
    // 18.6-20.5 ms in two runs without it, 21.1-26.4 in four with it: noise, or not only).
    let loaded_floor = (!node.in_process()
        && std::env::var_os("CHIMERA_BENCH_FLOOR_DURING_RUN").is_some())
    .then(|| loaded_floor(&bus, setup, events, rate, pacing));
    let observed = super::observe::observe(Watch {
        intents,
        feedback,
        stamps: setup.stamps.clone(),
        published,
        publisher,
        counted_from,
        pid: node.pid(),
    })
    .await;
    let Observed {
        tick_to_order,
        tick_to_order_by_row,
        order_to_fill,
        order_to_fill_by_place,
        tick_to_fill,
        rss,
        warm_up,
        publish_time,
    } = observed;
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
    let by_place = order_to_fill_by_place.map(|spans| spans.figures().0);
    let tick_to_fill = tick_to_fill.figures().0;
    let result = Latency {
        tick_to_order,
        order_to_fill,
        loaded_floor,
        rss_slope_mib_per_min: super::observe::slope(&rss[rss.len() / 10..]),
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
        println!(
            "  … until this process's reader had it{}: {tick_to_order_seen}",
            super::observe::readers_look()
        );
        println!(
            "order-to-fill (intent on the bus → the gateway's fill on orders.feedback, stamped by the bus): {}",
            result.order_to_fill
        );
        if let Some(stamps) = &setup.stamps {
            let (first, others) = stamps.take_read_after();
            for (which, read) in [
                ("the first of its batch", first),
                ("the others (after the ones before them executed)", others),
            ] {
                if read.is_empty() {
                    continue;
                }
                let read =
                    super::setup::Figures::of(read.iter().map(|d| d.as_secs_f64() * 1e6).collect());
                println!(
                    "  of which the intent waited to be read by the gateway, {which}: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (n = {})",
                    read.p50, read.p99, read.max, read.n
                );
            }
        }
        for (place, figures) in [
            "the first order of its bar",
            "the orders after it (they wait for it)",
        ]
        .iter()
        .zip(&by_place)
        {
            println!("  {place}: {}", figures.in_micros());
        }
        println!(
            "  … between this process's readers{}: {order_to_fill_seen}",
            super::observe::readers_look()
        );
    } else {
        println!(
            "tick-to-order (event published → intent on orders.submission): {}",
            result.tick_to_order
        );
        // Only when the bars went out in chunks of more than one row.
        let [first_row, later_rows] = tick_to_order_by_row.map(|spans| spans.figures().0);
        if later_rows.n > 0 {
            println!("  bars in the first row of their chunk: {first_row}");
            println!(
                "  bars in its later rows (stamped with the first, sent behind it): {later_rows}"
            );
        }
        println!(
            "order-to-fill (intent seen → fill on orders.feedback): {}",
            result.order_to_fill
        );
        let [first, later] = &by_place;
        if later.n > 0 {
            println!("  the first order of its bar: {first}");
            println!("  the orders after it (they wait for it): {later}");
        }
    }
    // Both spans at once: what a change that moves a wait from one to the other leaves alone.
    if in_process {
        println!(
            "tick-to-fill (event published → its order's fill, stamped by the bus): {}",
            tick_to_fill.in_micros()
        );
    } else {
        println!("tick-to-fill (event published → its order's fill seen): {tick_to_fill}");
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

/// Publishes `data` at `rate`/s, stamping each bar; returns how long it took. Over a network,
/// in chunks, one every 5 ms (tokio's timers tick in milliseconds). In process, one bar at a
/// time paced by the operating system's timer ([`Pacing`]): chunks would measure the queue
/// behind each burst, and the figures there are microseconds.
fn publish(
    bus: Arc<dyn chimera_ports::EventBus>,
    topic: String,
    data: impl Iterator<Item = super::setup::Bar> + Send + 'static,
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
            let batch: Vec<super::setup::Bar> = data.by_ref().take(chunk).collect();
            pacer.until(period * n).await;
            n += 1;
            stamp(&published, &batch, n);
            super::setup::publish_bars(&*bus, &topic, batch)
                .await
                .unwrap();
        }
        start.elapsed()
    })
}

/// Records when `batch` (the `n`th publish) went out. A long run (the soak) forgets bars that
/// led to no order within a minute, so this process's memory stays flat too.
fn stamp(published: &Published, batch: &[super::setup::Bar], n: u32) {
    let now = Instant::now();
    let first_row = batch.first().map(|bar| bar.ts);
    let mut map = published.lock().unwrap();
    for bar in batch {
        map.insert(
            (bar.symbol.clone(), bar.ts),
            (now, Some(bar.ts) == first_row),
        );
    }
    if n.is_multiple_of(1_000) {
        map.retain(|_, (at, _)| now.duration_since(*at) < Duration::from_mins(1));
    }
}
