//! Busy-polling: keeping a single-threaded runtime awake between events, trading a core for
//! latency (what low-latency trading systems call a busy-spin idle strategy).
//!
//! Why: between two events a parked runtime thread sleeps in the kernel, and the next event
//! runs on a cold core (caches, branch predictors, frequency) and a cold thread. In `chimera up`
//! (in-memory bus, one thread) that, not the work, made most of tick-to-order: on the 2-core
//! build machine at 2,000 bars/s its p99 was 50–85 µs parked and 22–26 µs busy-polling, with
//! order-to-fill p99 80–95 µs against 62–67 µs. The price is the thread at 100 % of a core
//! even when the market is quiet.

use crate::runtime::Shutdown;

/// Spawns a task on the current runtime that yields to it again and again until `shutdown`,
/// so a current-thread runtime never parks: each yield polls its timers and sockets without
/// waiting, then runs whatever became ready. On a multi-threaded runtime it keeps only one of
/// its workers awake.
pub fn busy_poll(shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !shutdown.is_triggered() {
            tokio::task::yield_now().await;
        }
    })
}
