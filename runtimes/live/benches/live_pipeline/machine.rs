//! The machine's own floor for a path in process: how much a fixed amount of arithmetic, about
//! as long as an order's path from intent to fill, is stretched at p99 when it is started at
//! the bench's rate, waiting between runs as the runtimes' thread does (spinning when it
//! busy-polls, sleeping when parked).
//!
//! Why: in process, tick-to-order and order-to-fill are tens of microseconds, and their p99 is
//! what the machine does to such a path (timer interrupts and the hypervisor's exits take a
//! few microseconds each, a thousand times a second, on the 2-core build machines) on top of
//! what the code does. The arithmetic touches no memory, so what stretches it is the machine,
//! not caches the runtimes share: the difference between its p99 and its p50 is what the
//! machine alone adds to a path of that length, in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long the measured work takes on a warm core: about an order's path from intent to
/// fill in process.
pub(crate) const WORK: Duration = Duration::from_micros(30);

/// The work's duration over `count` runs started `rate` times a second: p50, p99 and max (µs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineFloor {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl std::fmt::Display for MachineFloor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} µs of arithmetic took p50 {:.1}, p99 {:.1}, max {:.1} µs (the machine adds {:.1} µs at p99)",
            WORK.as_micros(),
            self.p50,
            self.p99,
            self.max,
            self.p99 - self.p50
        )
    }
}

/// Runs the work `count` times at `rate` per second on a thread of its own (the caller's
/// thread waits), spinning between runs when `busy`, else sleeping.
pub(crate) async fn measure(rate: u64, count: usize, busy: bool) -> MachineFloor {
    tokio::task::spawn_blocking(move || run(rate, count, busy))
        .await
        .expect("the machine floor's thread")
}

fn run(rate: u64, count: usize, busy: bool) -> MachineFloor {
    let rounds = calibrate();
    let period = Duration::from_secs(1) / u32::try_from(rate.max(1)).unwrap_or(u32::MAX);
    let start = Instant::now();
    let mut took = Vec::with_capacity(count);
    for n in 0..count {
        let due = start + period * u32::try_from(n).unwrap_or(u32::MAX);
        if busy {
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        } else if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let began = Instant::now();
        black_box(work(rounds));
        took.push(began.elapsed().as_secs_f64() * 1e6);
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    MachineFloor {
        p50: at(0.5),
        p99: at(0.99),
        max: took.last().copied().unwrap_or(f64::NAN),
    }
}

/// Rounds of [`work`] that take [`WORK`] on a warm core (the median of repeated timings).
fn calibrate() -> u64 {
    let time = |rounds: u64| {
        let mut samples: Vec<Duration> = (0..51)
            .map(|_| {
                let began = Instant::now();
                black_box(work(rounds));
                began.elapsed()
            })
            .collect();
        samples.sort();
        samples[samples.len() / 2]
    };
    let probe = 10_000;
    let per_round = time(probe).as_secs_f64() / probe as f64;
    ((WORK.as_secs_f64() / per_round) as u64).max(1)
}

/// A dependent chain of integer operations the compiler cannot shorten: registers only.
fn work(rounds: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..rounds {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 29;
    }
    x
}
