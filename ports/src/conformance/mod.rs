//! Contract test suites, written once and run by every adapter of a port (memory, Redis, SQL,
//! Kafka, ...). Each suite takes the adapter under test and a unique `prefix` (for keys, topics,
//! ids) so suites can share a real service without interfering. The suites panic with a message
//! naming the broken rule, like any test.

mod event_bus;
mod market_data;
mod progress;
mod registry;
mod repositories;
mod state_store;
mod treasury;
mod venue;

pub use event_bus::event_bus_suite;
pub use market_data::{market_data_source_suite, MarketDataExpectations, MarketDataSeen};
pub use progress::progress_journal_suite;
pub use registry::{
    audit_query_suite, audit_repository_suite, checkpoint_repository_suite,
    portfolio_repository_suite, token_repository_suite,
};
pub use repositories::{
    execution_journal_suite, fill_repository_suite, order_repository_suite,
    position_repository_suite, signal_repository_suite,
};
pub use state_store::state_store_suite;
pub use treasury::treasury_repository_suite;
pub use venue::{execution_venue_suite, venue_account_suite, VenueHarness};

use async_trait::async_trait;
use std::time::Duration;

/// Lets a suite make time pass for the adapter under test: a manual clock for in-memory
/// adapters, a real sleep for services.
#[async_trait]
pub trait TimeTravel: Send + Sync {
    /// Makes at least `by` pass for the adapter.
    async fn advance(&self, by: Duration);
}
