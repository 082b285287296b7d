//! # chimera-memory
//!
//! In-memory adapters for every port: [`MemoryEventBus`], [`MemoryStateStore`],
//! [`MemoryRepository`] (orders, fills, positions, signals), [`MemoryRegistry`] (portfolios,
//! checkpoints, audit trail), [`MemoryMarketData`], and the clocks
//! [`SystemClock`] and [`ManualClock`]. They are the embedded default of a single-process run and
//! pass the same conformance suites as the Kafka, Redis and SQL adapters.
//!
//! Concurrency: every adapter is `Send + Sync`, guards its state with a short, never-awaited
//! mutex, and may be shared through an `Arc` between tasks. Nothing survives the process.

mod chunked;
mod clock;
mod event_bus;
mod market_data;
mod registry;
mod repository;
mod state_store;
mod treasury;

pub use clock::{ManualClock, SystemClock};
pub use event_bus::{MemoryEventBus, DEFAULT_BUS_RETENTION};
pub use market_data::MemoryMarketData;
pub use registry::MemoryRegistry;
pub use repository::MemoryRepository;
pub use state_store::MemoryStateStore;
pub use treasury::MemoryTreasury;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the guarded maps are
/// always left consistent: every mutation is a single insert or remove).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
