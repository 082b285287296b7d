//! [`GatewayVenue`]: the venue as the gateway drives it — the [`ExecutionVenue`] port orders go
//! through, plus the few things a venue may need around it. A real exchange adapter plugs in
//! with [`PlainVenue`] (nothing around it: the exchange keeps its own state and its own
//! clock); the simulated venue with [`super::sim::SimGatewayVenue`] (event time from market
//! data, funding from the portfolio's books, its state in the gateway's checkpoint). The
//! gateway's own logic does not know which one it drives.

use async_trait::async_trait;
use chimera_kernel::event::BookLevel;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::order::OrderIntent;
use chimera_kernel::time::Timestamp;
use chimera_ports::ExecutionVenue;
use chimera_runtime::runtime::Runtime;
use std::sync::Arc;

/// What the venue can say about an order the gateway is asked to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knowledge {
    /// The venue received this client order id: do not send it again.
    Received,
    /// The venue never received it.
    NeverReceived,
    /// The venue cannot tell (it forgets, or cannot be asked cheaply): the records decide.
    Unknown,
}

/// The venue as the gateway drives it.
#[async_trait]
pub trait GatewayVenue: Send {
    /// The trading port submits and cancels go to, and reports come from.
    fn trading(&self) -> &dyn ExecutionVenue;

    /// Background work of one turn of the gateway's loop (the simulation reads market data);
    /// returns how much it handled (0: idle). None by default.
    ///
    /// # Errors
    /// A fatal bus failure.
    async fn turn(&mut self, _rt: &Arc<Runtime>) -> anyhow::Result<usize> {
        Ok(0)
    }

    /// Readies the venue for `intent` just before it is sent. `false`: the venue cannot take
    /// orders for its portfolio (the gateway raises an alert and drops the intent). Ready by
    /// default.
    ///
    /// # Errors
    /// A fatal bus or database failure.
    async fn prepare(&mut self, _rt: &Runtime, _intent: &OrderIntent) -> anyhow::Result<bool> {
        Ok(true)
    }

    /// `portfolio`'s engine has read its market data up to `clock`: it sends no order stamped
    /// earlier from here on ([`chimera_messages::Progress`]). A venue in event time may move
    /// ahead of orders with it; ignored by default.
    ///
    /// # Errors
    /// A fatal database failure.
    async fn progress(
        &mut self,
        _rt: &Runtime,
        _portfolio: &PortfolioId,
        _clock: Timestamp,
    ) -> anyhow::Result<()> {
        Ok(())
    }

    /// How many market events the venue fed between orders on the portfolios' progress
    /// ([`Self::progress`]) since the gateway started: 0 by default.
    fn fed_ahead(&self) -> u64 {
        0
    }

    /// Meets `portfolio`, whose command or promise was just read: at its first word, a
    /// simulated venue learns which symbols it trades and every portfolio registered by then,
    /// so its orders wait for the others' turn from the first, and opens its account, so its
    /// first order does not wait for its books to be read. Nothing by default.
    ///
    /// # Errors
    /// The store failed.
    async fn meet(&mut self, _rt: &Runtime, _portfolio: &PortfolioId) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether an order of `portfolio` on `symbol` stamped `ts` may be executed now, or must
    /// wait for the other portfolios trading the symbol to promise `ts` (a simulated venue in
    /// lockstep, see `lockstep`): always, by default.
    fn in_turn(&self, _portfolio: &PortfolioId, _symbol: &Symbol, _ts: Timestamp) -> bool {
        true
    }

    /// How many orders reached a simulated venue already fed market data newer than their own
    /// stamp since the gateway started (so they were priced with data their engine had not
    /// seen: a portfolio behind another that trades its symbol, in a replay): 0 by default.
    fn priced_late(&self) -> u64 {
        0
    }

    /// Whether the venue already received `intent`'s client order id (by default it cannot
    /// tell: the records decide, and an exchange de-duplicates by client order id).
    fn knowledge(&self, _intent: &OrderIntent) -> Knowledge {
        Knowledge::Unknown
    }

    /// Appends the venue's state for the gateway's checkpoint to `out`, as one JSON value, and
    /// says whether it did (`false`, the default: it keeps its own). The inputs it covers are
    /// set aside for [`Self::acknowledge`]; those taken after it, while the checkpoint is saved
    /// beside the loop, wait for the next.
    ///
    /// # Errors
    /// The state cannot be serialized (what was appended is then of no use).
    fn checkpoint(&mut self, _out: &mut Vec<u8>) -> anyhow::Result<bool> {
        Ok(false)
    }

    /// How long until the venue's next rehearsal is due (zero: it is): an order to run on a
    /// stage while the gateway has nothing to do, changing nothing, so that the path of the
    /// next real one is warm in the caches. `None`: this venue does not rehearse (the
    /// default), or has nothing to rehearse yet.
    fn rehearsal_due(&self) -> Option<std::time::Duration> {
        None
    }

    /// The rehearsal due now, if one is, taken (the next is then a period away); the gateway
    /// runs it through its own path too ([`Rehearsal`]).
    fn rehearsal(&mut self) -> Option<Rehearsal> {
        None
    }

    /// Rehearsals run so far ([`Self::rehearsal`]; none by default).
    fn rehearsals(&self) -> u64 {
        0
    }

    /// Whether the venue holds inputs a checkpoint would let it acknowledge (none by default).
    fn has_unacknowledged(&self) -> bool {
        false
    }

    /// Acknowledges what the last [`Self::checkpoint`] covers, once it is durable (nothing by
    /// default).
    ///
    /// # Errors
    /// A fatal bus failure.
    async fn acknowledge(&mut self, _rt: &Runtime) -> anyhow::Result<()> {
        Ok(())
    }

    /// The venue's time, to stamp checkpoints with (the wall clock by default).
    fn now(&self) -> Timestamp {
        chimera_runtime::runtime::wall_clock()
    }

    /// The best bids and asks of `symbol` the gateway sees now (best first), for the
    /// transaction costs of the fills of an order about to be sent. Empty when the gateway
    /// sees no book (an exchange adapter without a market-data feed in the gateway): the
    /// fills then carry latencies but no mid or slippage.
    fn depth(&self, _symbol: &Symbol) -> (Vec<BookLevel>, Vec<BookLevel>) {
        (Vec::new(), Vec::new())
    }
}

/// Any [`ExecutionVenue`] with nothing around it: an exchange adapter. It keeps its own state
/// and clock; whether it received an order is left to the records (it is asked again, and
/// answers by client order id, which exchanges de-duplicate).
pub struct PlainVenue<V> {
    venue: V,
}

impl<V: ExecutionVenue> PlainVenue<V> {
    /// Drives `venue` as it is.
    pub fn new(venue: V) -> Self {
        Self { venue }
    }
}

#[async_trait]
impl<V: ExecutionVenue + 'static> GatewayVenue for PlainVenue<V> {
    fn trading(&self) -> &dyn ExecutionVenue {
        &self.venue
    }
}

/// An order to rehearse and the stage to rehearse it on ([`GatewayVenue::rehearsal`]).
pub struct Rehearsal {
    /// The order, as the venue would receive it now.
    pub intent: OrderIntent,
    /// A copy of what the order touches, behind the port a real order goes through: what is
    /// sent to it never reaches the venue.
    pub stage: Box<dyn ExecutionVenue>,
}
