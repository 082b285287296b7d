//! # chimera-ports
//!
//! The roles Chimera needs the outside world to play, as small `async-trait` traits that any
//! adapter can implement: [`MarketDataSource`], [`EventBus`], [`ExecutionVenue`] and [`VenueAccount`], the
//! repositories ([`OrderRepository`], [`FillRepository`], [`PositionRepository`],
//! [`SignalRepository`], [`TreasuryRepository`]), the key-value [`StateStore`] and the
//! [`Clock`].
//!
//! This crate must never depend on a backend (no tokio, no database, Redis, Kafka or network
//! client): a workspace test checks `cargo tree`. Each method documents its error contract and
//! its idempotence; every adapter proves it honours them by running the suites in
//! `conformance` (feature `conformance`).
#![warn(missing_docs)]

mod access;
mod clock;
mod error;
mod event_bus;
mod market_data;
mod problems;
mod progress;
mod registry;
mod repository;
mod shared;
mod state;
mod treasury;
mod venue;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use access::{ApiToken, Role, TokenRepository};
pub use clock::Clock;
pub use error::PortError;
pub use event_bus::{
    newest_per_partition, Bytes, Deferred, Delivery, EventBus, Payload, Shared, Subscription,
};
pub use market_data::MarketDataSource;
pub use problems::Problems;
pub use progress::{Progress, ProgressJournal};
pub use registry::{
    AuditKind, AuditQuery, AuditRecord, AuditRepository, Checkpoint, CheckpointRepository,
    PortfolioRecord, PortfolioRepository, PortfolioStatus,
};
pub use repository::{
    ExecutionJournal, FillRecord, FillRepository, Inserted, OrderRepository, PositionRepository,
    PositionSnapshot, SignalRecord, SignalRepository,
};
pub use state::{Increment, LockToken, StateStore};
pub use treasury::{
    FundingRecord, TransferDirection, TransferRecord, TransferState, TransferTransition,
    TreasuryRepository,
};
pub use venue::{ExecutionVenue, VenueAccount};

/// Result alias for port methods.
pub type PortResult<T> = Result<T, PortError>;
