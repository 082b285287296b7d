//! Rehearsals (`[node] rehearse_us`; `chimera up --busy-poll`): while a portfolio waits for
//! input, its engine plays the strategy's last orders again on a copy of itself
//! ([`chimera_kernel::engine::PortfolioEngine::rehearse`]), and the worker takes the copy's
//! outputs as it takes real ones and makes its orders ready to publish, then drops them.
//!
//! Why: a portfolio acts rarely, and by the time it does, the code and data of its order
//! branch have left the processor's caches. In process on the 2-core build machine, the
//! engine's part of an order took 5–8 µs within a millisecond of the portfolio's previous
//! order and 15–17 µs after 20 ms or more, and making the orders ready to publish 4 against
//! 7 µs. A rehearsal keeps that branch warm.
//!
//! What it costs and what it may not do: about ten microseconds of the thread each time,
//! which an input arriving meanwhile waits for; so it runs only once everything else ready on
//! the thread has run (the worker yields first: on one thread in process, a gateway executing
//! an order or a router handing over a bar goes before it) and the portfolio's queue is still
//! empty, and only on a core kept awake for latency by default. Nothing is published,
//! recorded, counted among the portfolio's figures (except its own count) or changed: the
//! engine is only read, and the stage's orders never reach the bus.

use super::Worker;
use chimera_kernel::engine::Output;
use chimera_messages::StrategyEvent;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A worker's rehearsal schedule.
pub(crate) struct Rehearsing {
    every: Duration,
    /// The last real order or rehearsal.
    last: Instant,
}

impl Worker {
    /// Rehearses every `every` while idle, from now on.
    pub(crate) fn rehearse_every(&mut self, every: Duration) {
        self.set.set_rehearsals(true);
        self.rehearsing = Some(Rehearsing {
            every,
            last: Instant::now(),
        });
    }

    /// When the next rehearsal is due: `None` when rehearsals are off or the strategy has
    /// placed no order yet (nothing to wake up for).
    pub(super) fn rehearsal_due(&self) -> Option<Instant> {
        let rehearsing = self.rehearsing.as_ref()?;
        self.set
            .engine(0)
            .can_rehearse()
            .then(|| rehearsing.last + rehearsing.every)
    }

    /// Real orders went out: they warmed the branch, so the next rehearsal is a period away.
    pub(super) fn ordered(&mut self) {
        if let Some(rehearsing) = &mut self.rehearsing {
            rehearsing.last = Instant::now();
        }
    }

    /// One rehearsal, unless an input is waiting (it goes first; the next rehearsal is a
    /// period away either way).
    pub(super) fn rehearse(&mut self) {
        let Some(rehearsing) = &mut self.rehearsing else {
            return;
        };
        rehearsing.last = Instant::now();
        if self.queue.len() > 0 {
            return;
        }
        let mut commands = Vec::new();
        for output in self.set.engine(0).rehearse() {
            match output {
                Output::Command(command) => commands.push((command.idempotency_key(), command)),
                // A request's answer would be a service's round trip: not rehearsed.
                Output::Request(_) => {}
                other => drop(StrategyEvent::from_output(other)),
            }
        }
        let epoch = Some(self.epoch.load(Ordering::Acquire)).filter(|&e| e > 0);
        self.outbox.rehearse(commands, epoch);
        self.stats.rehearsals.fetch_add(1, Ordering::Relaxed);
    }
}
