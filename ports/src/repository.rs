//! Repositories: durable records of orders, fills, position snapshots and signals.
//!
//! Every write is idempotent, keyed by the design's idempotency keys: an order by its
//! `client_order_id`, a fill by `(venue trade id)` within its order's venue, a position
//! snapshot by `(portfolio, symbol, ts)`, a signal by `signal_id`. Replaying a write never
//! duplicates a record.

use crate::PortResult;
use async_trait::async_trait;
use chimera_kernel::event::Fill;
use chimera_kernel::ids::{ClientOrderId, PortfolioId, SignalId, Symbol};
use chimera_kernel::order::{Order, Side};
use chimera_kernel::portfolio::Position;
use chimera_kernel::time::Timestamp;
use std::collections::BTreeMap;

/// Whether an idempotent insert stored something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The record was new and is now stored.
    New,
    /// A record with the same key already existed; nothing changed.
    Duplicate,
}

/// A fill as stored: the fill plus what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRecord {
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// The order it filled.
    pub client_order_id: ClientOrderId,
    /// Instrument.
    pub symbol: Symbol,
    /// Order side.
    pub side: Side,
    /// The fill.
    pub fill: Fill,
    /// Venue time of the fill.
    pub ts: Timestamp,
    /// Transaction costs (the market at send, slippage, latency), when the recorder knew the
    /// order's send.
    pub costs: Option<chimera_kernel::tca::FillCosts>,
}

/// A position at a point in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionSnapshot {
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// When the snapshot was taken.
    pub ts: Timestamp,
    /// The position.
    pub position: Position,
}

/// A strategy signal with its features and decision, for audit and label back-fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRecord {
    /// Idempotency key.
    pub signal_id: SignalId,
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// Instrument.
    pub symbol: Symbol,
    /// Signal time (`t0`).
    pub ts: Timestamp,
    /// Feature name → value (decimal strings).
    pub features: BTreeMap<String, String>,
    /// The decision (`open`, `skip`, ...).
    pub decision: String,
    /// Why (gate or rule that decided).
    pub reason: String,
    /// Config revision in force.
    pub config_rev: String,
    /// The model's probability, when one answered.
    pub model_p: Option<chimera_kernel::Decimal>,
    /// The whole decision (multipliers, quantity, the trace of every gate, rule, model answer
    /// and sizing step), when the signal went through the decision pipeline.
    pub detail: Option<Box<chimera_kernel::decision::DecisionRecord>>,
}

impl SignalRecord {
    /// The signal record of a decision: `decision` is `open` or `skip`, `reason` the
    /// decision's code (`OPEN`, `RULE`, `RISK_BUDGET`, ...).
    pub fn from_decision(record: &chimera_kernel::decision::DecisionRecord) -> Self {
        Self {
            signal_id: record.signal_id.clone(),
            portfolio_id: record.portfolio_id.clone(),
            symbol: record.symbol.clone(),
            ts: record.t0,
            features: record.features.clone(),
            decision: match record.decision.action {
                chimera_kernel::decision::DecisionAction::Open => "open",
                chimera_kernel::decision::DecisionAction::Skip => "skip",
            }
            .to_owned(),
            reason: record.decision.reason.code().to_owned(),
            config_rev: record.config_rev.to_string(),
            model_p: record.model_p,
            detail: Some(Box::new(record.clone())),
        }
    }
}

/// Orders in every state.
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Inserts or updates an order by `client_order_id`. A stale write never regresses the
    /// stored order: it is ignored when it is older (`updated_at`) or less filled than what is
    /// stored, or when the stored order is terminal and the write is not.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn upsert_order(&self, order: &Order) -> PortResult<()>;

    /// The order with this client order id.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable; [`crate::PortError::Codec`] when the
    /// stored row cannot be decoded.
    async fn get_order(&self, id: &ClientOrderId) -> PortResult<Option<Order>>;

    /// The portfolio's orders that are not in a terminal state, oldest first.
    ///
    /// # Errors
    /// As [`Self::get_order`].
    async fn open_orders(&self, portfolio: &PortfolioId) -> PortResult<Vec<Order>>;
}

/// Fills, unique by venue trade id.
#[async_trait]
pub trait FillRepository: Send + Sync {
    /// Stores a fill once; a second fill with the same trade id is [`Inserted::Duplicate`].
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn record_fill(&self, fill: &FillRecord) -> PortResult<Inserted>;

    /// The portfolio's fills in insertion order.
    ///
    /// # Errors
    /// As [`Self::record_fill`], or [`crate::PortError::Codec`] for an undecodable row.
    async fn fills(&self, portfolio: &PortfolioId) -> PortResult<Vec<FillRecord>>;

    /// How many fills the portfolio has: [`Self::fills`]'s length, without reading them (a
    /// store that can count overrides it). `chimera up` asks it while it settles, where
    /// reading and decoding every fill twice took about a tenth of the reference replay.
    ///
    /// # Errors
    /// As [`Self::fills`].
    async fn fill_count(&self, portfolio: &PortfolioId) -> PortResult<u64> {
        Ok(self.fills(portfolio).await?.len() as u64)
    }
}

/// A gateway turn's records written together: the orders it changed and the fills it saw.
///
/// Why: a gateway recording each report on its own pays a commit per order state and per fill
/// (four or five per order), which bounds how many orders it handles per second; one batch per
/// turn pays it once. The default writes one record after the other (a store without
/// transactions); a store with them overrides it with one transaction.
#[async_trait]
pub trait ExecutionJournal: OrderRepository + FillRepository {
    /// Upserts each of `orders` as [`OrderRepository::upsert_order`] does (in slice order, so
    /// a later state of the same order wins unless it is stale) and records each of `fills` as
    /// [`FillRepository::record_fill`] does (duplicates by trade id ignored), as one unit where
    /// the store can: after a crash all of them are stored or none. Returns how many fills were
    /// new.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable (nothing of the batch is
    /// then stored in a transactional store, so the whole batch may be written again);
    /// [`crate::PortError::Codec`] when a record cannot be encoded.
    async fn record_execution(&self, orders: &[Order], fills: &[FillRecord]) -> PortResult<usize> {
        for order in orders {
            self.upsert_order(order).await?;
        }
        let mut new = 0;
        for fill in fills {
            if self.record_fill(fill).await? == Inserted::New {
                new += 1;
            }
        }
        Ok(new)
    }
}

/// Position snapshots.
#[async_trait]
pub trait PositionRepository: Send + Sync {
    /// Stores a snapshot; one per `(portfolio, symbol, ts)`, a repeat replaces it.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn save_snapshot(&self, snapshot: &PositionSnapshot) -> PortResult<()>;

    /// The latest snapshot of each of the portfolio's symbols, ordered by symbol.
    ///
    /// # Errors
    /// As [`Self::save_snapshot`], or [`crate::PortError::Codec`] for an undecodable row.
    async fn latest_snapshots(&self, portfolio: &PortfolioId) -> PortResult<Vec<PositionSnapshot>>;
}

/// Signals.
#[async_trait]
pub trait SignalRepository: Send + Sync {
    /// Stores a signal once by `signal_id`.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn record_signal(&self, signal: &SignalRecord) -> PortResult<Inserted>;

    /// The signal with this id.
    ///
    /// # Errors
    /// As [`Self::record_signal`].
    async fn get_signal(&self, id: &SignalId) -> PortResult<Option<SignalRecord>>;
}
