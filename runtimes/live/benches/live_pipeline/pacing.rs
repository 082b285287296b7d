//! How the bench's publishers (the floor's and the latency phase's) keep their rate, and where
//! they publish from.
//!
//! Over a network, tokio's timer is the default: a hop is a tenth of a millisecond or more,
//! and the latency phase publishes its bars in chunks, one every 5 ms (at 2,000/s, ten bars in
//! one round trip, all stamped when the chunk starts, as a feed catching up would send them).
//! `CHIMERA_BENCH_PUBLISH=thread` or `=task` paces them one at a time there too, each stamped
//! as it goes (as a feed relaying ticks as they come). In process a hop is
//! microseconds, and tokio's timer, which ticks in milliseconds, would publish bursts and
//! measure the queue behind each; there the operating system's timer paces the publisher, in
//! one of two ways:
//! - [`Pacing::Task`] (the default in process): a thread of its own wakes a task of the
//!   runtime under test, and the task stamps and publishes. That is `chimera up`: its feed is a
//!   task beside node and gateway on the same thread, woken by its socket or file, so the
//!   clock starts when the bar is published, already on the runtime's thread;
//! - [`Pacing::Thread`] (`CHIMERA_BENCH_PUBLISH=thread`): the thread publishes itself, so each
//!   hop includes waking the runtime's parked thread (what a producer in another thread of the
//!   process would see).

use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Where a publisher runs and what paces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pacing {
    /// A task of the runtime on tokio's timer (milliseconds): buses over a network.
    Timer,
    /// A thread of its own, paced by the operating system's timer, publishing from there.
    Thread,
    /// A task of the runtime under test, woken on time by a thread of its own.
    Task,
}

impl Pacing {
    /// `CHIMERA_BENCH_PUBLISH=thread` or `=task` on any bus; otherwise [`Pacing::Task`] in
    /// process and [`Pacing::Timer`] over a network.
    pub(crate) fn for_bus(in_process: bool) -> Self {
        match std::env::var("CHIMERA_BENCH_PUBLISH").as_deref() {
            Ok("thread") => Self::Thread,
            Ok("task") => Self::Task,
            _ if in_process => Self::Task,
            _ => Self::Timer,
        }
    }

    /// Whether each publish is paced one message at a time by the operating system's timer.
    pub(crate) fn fine(self) -> bool {
        !matches!(self, Self::Timer)
    }

    /// What it measures, for the printed figures.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Timer => "published by a task on tokio's timer",
            Self::Thread => {
                "published one at a time from a thread of the bench (in process the hop wakes the runtime)"
            }
            Self::Task => {
                "published one at a time by a task woken on time (in process beside node and gateway, as chimera up's feed)"
            }
        }
    }

    /// Runs `publish`, which waits on its [`Pacer`] (built with `period`) before each message,
    /// where this pacing publishes from.
    pub(crate) fn spawn<T, F>(
        self,
        period: Duration,
        publish: impl FnOnce(Pacer) -> F,
    ) -> tokio::task::JoinHandle<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let pacer = Pacer::start(self, period);
        let run = publish(pacer);
        if self == Self::Thread {
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || runtime.block_on(run))
        } else {
            tokio::spawn(run)
        }
    }
}

/// Keeps a publisher on schedule: the `n`th wait ends at `n` periods after the start.
pub(crate) struct Pacer {
    pacing: Pacing,
    start: Instant,
    /// [`Pacing::Task`]: one tick per period from the ticking thread.
    ticks: Option<mpsc::UnboundedReceiver<()>>,
}

impl Pacer {
    fn start(pacing: Pacing, period: Duration) -> Self {
        let start = Instant::now();
        let ticks = (pacing == Pacing::Task).then(|| {
            let (tick, ticks) = mpsc::unbounded_channel();
            std::thread::spawn(move || {
                for n in 1_u32.. {
                    let due = start + period * n;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    if tick.send(()).is_err() {
                        return; // the publisher finished
                    }
                }
            });
            ticks
        });
        Self {
            pacing,
            start,
            ticks,
        }
    }

    /// Waits until `due` after the start (at once when behind). Called with 0, then with each
    /// following period in turn.
    pub(crate) async fn until(&mut self, due: Duration) {
        if due.is_zero() {
            return;
        }
        if let Some(ticks) = &mut self.ticks {
            ticks.recv().await;
            return;
        }
        let Some(wait) = due.checked_sub(self.start.elapsed()) else {
            return;
        };
        if self.pacing == Pacing::Thread {
            std::thread::sleep(wait);
        } else {
            tokio::time::sleep(wait).await;
        }
    }
}
