//! [`MarketDataSource`]: a pull stream of market events (file replay, exchange feed, bus).

use crate::PortResult;
use async_trait::async_trait;
use chimera_kernel::event::MarketEvent;

/// An inbound stream of market events, in the order the source produced them.
#[async_trait]
pub trait MarketDataSource: Send {
    /// The next event; `Ok(None)` when the stream has ended for good.
    ///
    /// # Errors
    /// - [`crate::PortError::Codec`] for an undecodable record (with its bytes); the source stays
    ///   usable and the next call continues after the bad record.
    /// - [`crate::PortError::Transient`] when the feed is temporarily unavailable.
    /// - [`crate::PortError::Fatal`] when the source cannot continue.
    async fn next(&mut self) -> PortResult<Option<MarketEvent>>;
}
