//! `CHIMERA_BENCH_TIMELINE=1`, in process: a timeline of the runtimes' thread over the latency
//! phase, to see where an order's microseconds go when the hop histograms cannot say.
//!
//! Every poll of every task on the in-process runtime (where the task was spawned, when the
//! poll began, how long it ran) and the moments the bus saw a bar, an order command, a
//! promise, the gateway's read of an order command and a report are noted in one list. At the
//! end it prints, for each order command, the time from its publish to the gateway's read of
//! it and to the next report on the bus (the fill, in process), the tasks that ran longest
//! per poll, and the slowest orders with everything that ran in between.
//!
//! What it found: in process, an order's time from intent to fill is one poll of the
//! gateway's task, reading, executing and publishing, which reads the command 3–4 µs after the
//! node published it. The slowest were each portfolio's first order, waiting for the store to
//! read its books (now read at its first word); after that, the same poll with every step
//! slower alike. See `docs/benchmarks.md`.
//!
//! The poll hooks are tokio's unstable API: the bench must be built with
//! `RUSTFLAGS="--cfg tokio_unstable"` (a build of its own: use another `CARGO_TARGET_DIR`).
//! Without it, asking for the timeline says so and the bench runs as usual.

use std::collections::BTreeMap;
use std::time::Instant;

/// What the bus saw, in the runtimes' order path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A market event published.
    Bar,
    /// Order commands published by the node (one batch: a reversal's two orders).
    Intent,
    /// A portfolio's promise (progress) published by the node.
    Progress,
    /// The gateway read an order command.
    GatewayRead,
    /// Execution reports published by the gateway.
    Report,
}

impl Mark {
    fn name(self) -> &'static str {
        match self {
            Mark::Bar => "bar published",
            Mark::Intent => "order commands published",
            Mark::Progress => "promise published",
            Mark::GatewayRead => "gateway read the command",
            Mark::Report => "reports published",
        }
    }
}

/// One entry of the timeline.
#[cfg_attr(
    not(tokio_unstable),
    allow(dead_code, reason = "polls are noted by tokio's unstable hooks only")
)]
enum Entry {
    Poll {
        task: &'static std::panic::Location<'static>,
        began: Instant,
        nanos: u64,
    },
    Mark(Mark, Instant),
}

impl Entry {
    /// When it happened (a poll: when it began).
    fn at(&self) -> Instant {
        match self {
            Entry::Poll { began, .. } | Entry::Mark(_, began) => *began,
        }
    }
}

/// Whether `CHIMERA_BENCH_TIMELINE` asks for the timeline (read once).
pub(crate) fn wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("CHIMERA_BENCH_TIMELINE").is_some())
}

static ENTRIES: std::sync::Mutex<Vec<Entry>> = std::sync::Mutex::new(Vec::new());
/// Noting starts with the latency phase ([`start`]): set-up and throughput are not traced.
static ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes `mark` now (nothing unless the timeline is on).
pub(crate) fn mark(mark: Mark) {
    if ON.load(std::sync::atomic::Ordering::Relaxed) {
        let now = Instant::now();
        lock().push(Entry::Mark(mark, now));
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    ENTRIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts noting (the latency phase begins), with room for a long phase.
pub(crate) fn start() {
    if wanted() && cfg!(tokio_unstable) {
        lock().reserve(1 << 20);
        ON.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Installs the poll hooks on the in-process runtime's `builder` when the timeline is asked
/// for (and says why not when this build cannot).
pub(crate) fn install(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    if !wanted() {
        return builder;
    }
    hooks::install(builder)
}

#[cfg(tokio_unstable)]
mod hooks {
    use super::{lock, Entry, ON};
    use std::cell::Cell;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    thread_local!(static BEGAN: Cell<Option<Instant>> = const { Cell::new(None) });

    pub(super) fn install(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
        println!("timeline: every poll of the runtimes' tasks is noted over the latency phase");
        builder
            .on_before_task_poll(|_| BEGAN.with(|b| b.set(Some(Instant::now()))))
            .on_after_task_poll(|meta| {
                let Some(began) = BEGAN.with(Cell::take) else {
                    return;
                };
                if !ON.load(Ordering::Relaxed) {
                    return;
                }
                let nanos = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let task = meta.spawned_at();
                // The busy-polling task spins millions of times: only its long polls (the
                // runtime's drivers ran in them) are kept.
                if task.file().ends_with("busy_poll.rs") && nanos < 3_000 {
                    return;
                }
                lock().push(Entry::Poll { task, began, nanos });
            })
    }
}

#[cfg(not(tokio_unstable))]
mod hooks {
    pub(super) fn install(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
        println!(
            "timeline: not in this build: tokio's poll hooks need RUSTFLAGS=\"--cfg tokio_unstable\" (in a target directory of its own)"
        );
        builder
    }
}

/// Prints what the timeline shows (nothing unless it ran).
pub(crate) fn report() {
    if !ON.swap(false, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // Polls are noted when they end: sorted by their start, marks and polls interleave as
    // they ran.
    let mut entries = std::mem::take(&mut *lock());
    entries.sort_by_key(Entry::at);
    let orders = orders(&entries);
    print_orders(&entries, &orders);
    print_tasks(&entries);
    print_slowest(&entries, &orders, 5);
    print_slowest_decisions(&entries, &orders, 5);
}

/// Each batch of order commands: its index in the timeline, then the gateway's read of the
/// first and the first reports after it (indices).
struct Order {
    published: usize,
    read: Option<usize>,
    reported: Option<usize>,
}

fn orders(entries: &[Entry]) -> Vec<Order> {
    let next = |from: usize, want: Mark| {
        entries[from..]
            .iter()
            .position(|e| matches!(e, Entry::Mark(m, _) if *m == want))
            .map(|i| from + i)
    };
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Entry::Mark(Mark::Intent, _)))
        .map(|(i, _)| Order {
            published: i,
            read: next(i, Mark::GatewayRead),
            reported: next(i, Mark::Report),
        })
        .collect()
}

fn micros(from: Instant, to: Instant) -> f64 {
    if to >= from {
        to.duration_since(from).as_secs_f64() * 1e6
    } else {
        -(from.duration_since(to).as_secs_f64() * 1e6)
    }
}

fn print_orders(entries: &[Entry], orders: &[Order]) {
    let spans = |end: fn(&Order) -> Option<usize>| {
        let mut us: Vec<f64> = orders
            .iter()
            .filter_map(|o| end(o).map(|e| micros(entries[o.published].at(), entries[e].at())))
            .collect();
        us.sort_by(f64::total_cmp);
        us
    };
    for (what, us) in [
        (
            "a node's order commands published → the gateway read the first",
            spans(|o| o.read),
        ),
        (
            "a node's order commands published → the first's reports published",
            spans(|o| o.reported),
        ),
    ] {
        if us.is_empty() {
            continue;
        }
        let q = |p: f64| us[((us.len() - 1) as f64 * p).round() as usize];
        println!(
            "timeline: {what}: p25 {:.1} µs, p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs (n = {})",
            q(0.25),
            q(0.5),
            q(0.9),
            q(0.99),
            us.len()
        );
    }
}

/// Per task (where it was spawned): polls, mean and longest poll, polls over 20 µs.
fn print_tasks(entries: &[Entry]) {
    let mut by_task: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
    for entry in entries {
        if let Entry::Poll { task, nanos, .. } = entry {
            let row = by_task.entry(place(task)).or_default();
            row.0 += 1;
            row.1 += nanos;
            row.2 = row.2.max(*nanos);
            row.3 += u64::from(*nanos > 20_000);
        }
    }
    let mut rows: Vec<_> = by_task.into_iter().collect();
    rows.sort_by_key(|(_, (_, total, _, _))| std::cmp::Reverse(*total));
    println!("timeline: the runtimes' tasks by time polled (where spawned: polls, mean, longest, polls over 20 µs)");
    for (task, (polls, total, longest, long)) in rows.iter().take(12) {
        println!(
            "  {task:<58} {polls:>9} {:>8.1} µs {:>8.1} µs {long:>7}",
            *total as f64 / *polls as f64 / 1e3,
            *longest as f64 / 1e3
        );
    }
}

/// The `count` orders slowest to their reports, with what happened from the bar before each
/// to its reports (times from the command's publish; a poll at its start).
fn print_slowest(entries: &[Entry], orders: &[Order], count: usize) {
    let mut timed: Vec<(f64, &Order)> = orders
        .iter()
        .filter_map(|o| {
            let end = o.reported?;
            Some((micros(entries[o.published].at(), entries[end].at()), o))
        })
        .collect();
    timed.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (us, order) in timed.iter().take(count) {
        let zero = entries[order.published].at();
        let bar = bar_before(entries, order.published).unwrap_or(order.published);
        println!("timeline: {us:.1} µs from a node's order commands to the first's reports:");
        print_entries(
            &entries[bar..=order.reported.unwrap_or(order.published)],
            zero,
        );
    }
}

/// The `count` order commands slowest from the bar before them, with everything that ran in
/// between (times from the bar's publish).
fn print_slowest_decisions(entries: &[Entry], orders: &[Order], count: usize) {
    let mut timed: Vec<(f64, usize, usize)> = orders
        .iter()
        .filter_map(|o| {
            let bar = bar_before(entries, o.published)?;
            let us = micros(entries[bar].at(), entries[o.published].at());
            Some((us, bar, o.published))
        })
        .collect();
    let mut spans: Vec<f64> = timed.iter().map(|t| t.0).collect();
    spans.sort_by(f64::total_cmp);
    if let Some(&last) = spans.last() {
        let q = |p: f64| spans[((spans.len() - 1) as f64 * p).round() as usize];
        println!(
            "timeline: the bar before → a node's order commands published: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {last:.1} µs (n = {})",
            q(0.5),
            q(0.9),
            q(0.99),
            spans.len()
        );
    }
    timed.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (us, bar, published) in timed.iter().take(count) {
        let zero = entries[*bar].at();
        println!("timeline: {us:.1} µs from the bar before to a node's order commands:");
        // What was already running when the bar came: the poll that began before it.
        let from = entries[..*bar]
            .iter()
            .rposition(|e| matches!(e, Entry::Poll { .. }))
            .unwrap_or(*bar);
        print_entries(&entries[from..=*published], zero);
    }
}

/// The last bar published before entry `i`.
fn bar_before(entries: &[Entry], i: usize) -> Option<usize> {
    entries[..i]
        .iter()
        .rposition(|e| matches!(e, Entry::Mark(Mark::Bar, _)))
}

/// Each of `entries` on a line of its own, times from `zero` (a poll at its start).
fn print_entries(entries: &[Entry], zero: Instant) {
    for entry in entries {
        match entry {
            Entry::Poll { task, began, nanos } => println!(
                "  {:>8.1} µs  poll of {:>6.1} µs  {}",
                micros(zero, *began),
                *nanos as f64 / 1e3,
                place(task)
            ),
            Entry::Mark(mark, when) => {
                println!("  {:>8.1} µs  {}", micros(zero, *when), mark.name());
            }
        }
    }
}

/// `crate/src/file.rs:line` of a spawn.
fn place(task: &std::panic::Location<'_>) -> String {
    let file = task.file();
    let short = file.rfind("/src/").map_or(file, |i| {
        let before = &file[..i];
        let start = before.rfind('/').map_or(0, |j| j + 1);
        &file[start..]
    });
    format!("{short}:{}", task.line())
}
