//! The latency phase's observer: a reader per topic that stamps each message as it arrives, and
//! the loop matching intents to bars and fills to intents, sampling the node's memory.
//!
//! In process they run on the bench's own runtime ([`set_observer`]), not on the thread of the
//! runtimes under test: `chimera up` has no such readers, and on that one thread each intent's
//! decoding and matching ran between the node's publish and the gateway's read, inside the
//! order-to-fill it measured. The bus's stamps ([`super::stamped`]) still end each span when
//! the message was published, so moving the observer changes what the runtimes' thread does,
//! not where a span ends. In process the readers look every millisecond rather than wait to
//! be woken, so a publish on the runtimes' thread wakes nothing of the bench's.
//! `CHIMERA_BENCH_OBSERVER=inline` keeps them on that thread, woken (the build before, for
//! comparison).

use super::setup::{self, Figures};
use chimera_kernel::engine::Command;
use chimera_kernel::event::ExecutionReport;
use chimera_messages::{decode, Envelope, MessageType};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// The bench's own runtime, where observers run (unset: the current runtime).
static OBSERVER: OnceLock<Handle> = OnceLock::new();

/// Makes the current runtime the observers' (called from the bench's `main`), unless
/// `CHIMERA_BENCH_OBSERVER=inline`.
pub(crate) fn set_observer() {
    if std::env::var("CHIMERA_BENCH_OBSERVER").as_deref() != Ok("inline") {
        let _ = OBSERVER.set(Handle::current());
    }
}

/// Where observers run, for the printed figures.
pub(crate) fn describe() -> &'static str {
    if OBSERVER.get().is_some() {
        "observed from the bench's own runtime"
    } else {
        "observed on the runtimes' thread (CHIMERA_BENCH_OBSERVER=inline)"
    }
}

/// How in-process readers learn of a message, for the printed figures.
pub(crate) fn readers_look() -> &'static str {
    if OBSERVER.get().is_some() {
        " (they look every millisecond)"
    } else {
        ""
    }
}

fn observer() -> Handle {
    OBSERVER.get().cloned().unwrap_or_else(Handle::current)
}

/// When each bar was published, by `(symbol, time stamp)`, and whether it was in the first
/// row of its chunk (the bars of the chunk's first time stamp; over a network the bench
/// publishes ten bars at once, two rows of five symbols, all stamped when the chunk starts).
pub(crate) type Published = Arc<Mutex<HashMap<(String, i64), (Instant, bool)>>>;

/// What the observer gathered over the run.
pub(crate) struct Observed {
    pub(crate) tick_to_order: Spans,
    /// `tick_to_order` split: bars in the first row of their chunk, and those in later rows
    /// (they reach the node behind the first row).
    pub(crate) tick_to_order_by_row: [Spans; 2],
    pub(crate) order_to_fill: Spans,
    /// `order_to_fill` split: the first order of each bar, and those after it (a reversal's
    /// second order waits for the first to execute).
    pub(crate) order_to_fill_by_place: [Spans; 2],
    /// Bar published → its order's fill seen: both spans at once, so a wait that moves from
    /// the node to the gateway (an intent out sooner, waiting for the gateway to finish the
    /// market data that came with its bar) shows here as no change.
    pub(crate) tick_to_fill: Spans,
    /// `(minutes since the start, MiB)` samples of the node's RSS, one a second.
    pub(crate) rss: Vec<(f64, f64)>,
    /// Orders whose intent came in the warm-up, not counted.
    pub(crate) warm_up: usize,
    /// How long the publisher took.
    pub(crate) publish_time: Option<Duration>,
}

/// What the observer is given to watch.
pub(crate) struct Watch {
    pub(crate) intents: Box<dyn chimera_ports::Subscription>,
    pub(crate) feedback: Box<dyn chimera_ports::Subscription>,
    pub(crate) stamps: Option<Arc<super::stamped::Stamps>>,
    pub(crate) published: Published,
    pub(crate) publisher: tokio::task::JoinHandle<Duration>,
    /// Intents seen before it are the warm-up's.
    pub(crate) counted_from: Instant,
    /// The process whose RSS is sampled.
    pub(crate) pid: u32,
}

/// Observes until the publisher finished and nothing arrived for 3 s.
pub(crate) async fn observe(watch: Watch) -> Observed {
    observer()
        .spawn(run(watch))
        .await
        .expect("the observer panicked")
}

#[allow(clippy::cast_precision_loss, reason = "figures")]
async fn run(watch: Watch) -> Observed {
    let Watch {
        intents,
        feedback,
        stamps,
        published,
        publisher,
        counted_from,
        pid,
    } = watch;
    let mut publisher = Some(publisher);
    // Each topic has a reader of its own that stamps a message when it arrives: one loop
    // polling both in turn would add up to a poll timeout to either figure.
    let (tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel::<(Seen, At)>();
    let readers = [
        spawn_reader(intents, stamps.clone(), tx.clone(), read_intent),
        spawn_reader(feedback, stamps, tx, read_fill),
    ];
    let mut tick_to_order = Spans::default();
    let mut tick_to_order_by_row = [Spans::default(), Spans::default()];
    let mut order_to_fill = Spans::default();
    let mut order_to_fill_by_place = [Spans::default(), Spans::default()];
    let mut tick_to_fill = Spans::default();
    // An order's intent (seen at `sent`, after an earlier one of its bar or not, its bar
    // published at `ticked`) and its fill matched, whichever reader came first.
    let mut filled = |sent: At, later: bool, ticked: Option<At>, fill: At| {
        order_to_fill.push(sent, fill);
        order_to_fill_by_place[usize::from(later)].push(sent, fill);
        if let Some(ticked) = ticked {
            tick_to_fill.push(ticked, fill);
        }
    };
    // Each intent seen, whether an earlier one came from the same bar, and when its bar was
    // published.
    let mut intent_seen: HashMap<String, (At, bool, Option<At>)> = HashMap::new();
    // A fill handled before its intent (the two readers race): matched when the intent comes.
    let mut fill_seen: HashMap<String, At> = HashMap::new();
    // The bar (symbol, time stamp) of the intent seen last: the orders of one bar are
    // published together, in order.
    let mut last_bar: Option<(String, i64)> = None;
    let mut skipped: HashSet<String> = HashSet::new();
    let mut rss = Vec::new();
    let mut warm_up = 0;
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
                        let bar = (symbol, created_at);
                        let later = last_bar.as_ref() == Some(&bar);
                        let ticked = published.lock().unwrap().get(&bar).copied();
                        let ticked = ticked.map(|(sent, first_row)| {
                            let from = At { bus: sent, seen: sent };
                            tick_to_order.push(from, at);
                            tick_to_order_by_row[usize::from(!first_row)].push(from, at);
                            from
                        });
                        last_bar = Some(bar);
                        if let Some(fill) = fill_seen.remove(&order) {
                            filled(at, later, ticked, fill);
                        } else {
                            intent_seen.entry(order).or_insert((at, later, ticked));
                        }
                    }
                    Seen::Fill { order } if skipped.contains(&order) => {}
                    Seen::Fill { order } => match intent_seen.remove(&order) {
                        Some((sent, later, ticked)) => filled(sent, later, ticked, at),
                        None => {
                            fill_seen.entry(order).or_insert(at);
                        }
                    },
                }
            }
            _ = sampler.tick() => {
                if let Some(kib) = setup::status_kib(pid, "VmRSS:") {
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
    Observed {
        tick_to_order,
        tick_to_order_by_row,
        order_to_fill,
        order_to_fill_by_place,
        tick_to_fill,
        rss,
        warm_up,
        publish_time,
    }
}

/// The value a delivery shares in process (its bytes are then made only if read), else its
/// bytes decoded.
fn value<T: serde::de::DeserializeOwned + Clone + 'static>(
    d: &chimera_ports::Delivery,
    kind: MessageType,
) -> Option<T> {
    if let Some(envelope) = d.shared.as_ref().and_then(|s| s.get::<Envelope<T>>()) {
        return Some(envelope.payload.clone());
    }
    decode::<T>(&d.payload, kind)
        .ok()
        .map(|envelope| envelope.payload)
}

fn read_intent(d: &chimera_ports::Delivery) -> Option<Seen> {
    match value::<Command>(d, MessageType::OrderCommand)? {
        Command::Submit(intent) => Some(Seen::Intent {
            symbol: intent.symbol.as_str().to_owned(),
            created_at: intent.created_at.0,
            order: intent.client_order_id.as_str().to_owned(),
        }),
        _ => None,
    }
}

fn read_fill(d: &chimera_ports::Delivery) -> Option<Seen> {
    let report = value::<ExecutionReport>(d, MessageType::ExecutionReport)?;
    report.fill().is_some().then(|| Seen::Fill {
        order: report.client_order_id.as_str().to_owned(),
    })
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
pub(crate) struct Spans {
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
    pub(crate) fn figures(self) -> (Figures, Figures) {
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
///
/// In process (where the bus stamps) it does not wait on the subscription but looks every
/// millisecond: a reader waiting on another runtime is woken from the runtimes' thread, whose
/// publish then pays for waking a thread (about 3 µs of tick-to-order p50, busy-polling).
fn spawn_reader(
    mut sub: Box<dyn chimera_ports::Subscription>,
    stamps: Option<Arc<super::stamped::Stamps>>,
    tx: tokio::sync::mpsc::UnboundedSender<(Seen, At)>,
    read: fn(&chimera_ports::Delivery) -> Option<Seen>,
) -> tokio::task::JoinHandle<()> {
    let (wait, look_again) = match (&stamps, OBSERVER.get()) {
        (Some(_), Some(_)) => (Duration::ZERO, Some(Duration::from_millis(1))),
        _ => (Duration::from_millis(100), None),
    };
    tokio::spawn(async move {
        let mut taken = 0_u64;
        loop {
            let polled = sub.poll(wait).await;
            if let (Ok(None), Some(pause)) = (&polled, look_again) {
                tokio::time::sleep(pause).await;
            }
            if let Ok(Some(d)) = polled {
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
                if let Some(seen) = read(&d) {
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
pub(crate) fn slope(points: &[(f64, f64)]) -> f64 {
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
