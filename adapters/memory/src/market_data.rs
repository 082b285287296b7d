//! [`MemoryMarketData`]: a market-data source over events already in memory (tests, synthetic
//! data).

use async_trait::async_trait;
use chimera_kernel::event::MarketEvent;
use chimera_ports::{MarketDataSource, PortResult};
use std::collections::VecDeque;

/// Yields the given events in order, then ends.
#[derive(Debug, Default)]
pub struct MemoryMarketData {
    events: VecDeque<MarketEvent>,
}

impl MemoryMarketData {
    /// A source over `events`.
    pub fn new(events: impl IntoIterator<Item = MarketEvent>) -> Self {
        Self {
            events: events.into_iter().collect(),
        }
    }
}

#[async_trait]
impl MarketDataSource for MemoryMarketData {
    async fn next(&mut self) -> PortResult<Option<MarketEvent>> {
        Ok(self.events.pop_front())
    }
}
