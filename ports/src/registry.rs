//! The runtime's durable bookkeeping: which portfolios exist and which node runs them
//! ([`PortfolioRepository`]), each portfolio's latest engine checkpoint
//! ([`CheckpointRepository`]), and the audit trail of alerts, dead letters and strategy events
//! ([`AuditRepository`]).
//!
//! A node holds no state that is not recoverable from these: on restart (or on another node
//! after fail-over) it loads its assignments, restores each engine from its checkpoint and
//! resumes consuming where the checkpoint says it stopped.

use crate::{Inserted, PortResult};
use async_trait::async_trait;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;

/// Lifecycle of a portfolio as the control plane sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortfolioStatus {
    /// Trading.
    Active,
    /// Loaded and following the market, but sends no orders.
    Paused,
    /// Not loaded by any node.
    Stopped,
}

impl PortfolioStatus {
    /// The lowercase name stored in databases and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        }
    }

    /// Parses [`Self::as_str`]'s output.
    ///
    /// # Errors
    /// The unknown text, when it names no status.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "active" => Ok(Self::Active),
            "paused" => Ok(Self::Paused),
            "stopped" => Ok(Self::Stopped),
            other => Err(format!(
                "unknown portfolio status {other:?} (expected active, paused or stopped)"
            )),
        }
    }
}

/// A portfolio as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortfolioRecord {
    /// Identifier.
    pub id: PortfolioId,
    /// The portfolio's configuration (strategy, parameters, instruments, capital), as a JSON
    /// document; a store may normalise its spacing and key order, never its content. The
    /// runtime that loads it validates it.
    pub config: String,
    /// Lifecycle state.
    pub status: PortfolioStatus,
    /// The node it is assigned to, if any.
    pub node_id: Option<String>,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Portfolios and their assignment to execution nodes.
#[async_trait]
pub trait PortfolioRepository: Send + Sync {
    /// Creates the portfolio or replaces its config, status and assignment.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn upsert_portfolio(&self, record: &PortfolioRecord) -> PortResult<()>;

    /// The portfolio with this id.
    ///
    /// # Errors
    /// As [`Self::upsert_portfolio`], or [`crate::PortError::Codec`] for an undecodable row.
    async fn get_portfolio(&self, id: &PortfolioId) -> PortResult<Option<PortfolioRecord>>;

    /// Every portfolio assigned to `node_id` that is not stopped, ordered by id.
    ///
    /// # Errors
    /// As [`Self::get_portfolio`].
    async fn portfolios_for_node(&self, node_id: &str) -> PortResult<Vec<PortfolioRecord>>;

    /// Every portfolio, stopped ones included, ordered by id (the scheduler's view).
    ///
    /// # Errors
    /// As [`Self::get_portfolio`].
    async fn list_portfolios(&self) -> PortResult<Vec<PortfolioRecord>>;

    /// Moves the portfolio to `node_id` (fail-over, rebalancing). Returns whether it exists.
    ///
    /// # Errors
    /// As [`Self::upsert_portfolio`].
    async fn assign(&self, id: &PortfolioId, node_id: &str, at: Timestamp) -> PortResult<bool>;
}

/// An engine's persisted state, written after its effects are durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// Strictly increasing per portfolio; a write with a revision not above the stored one is
    /// refused, so a zombie node cannot overwrite the work of its successor.
    pub revision: i64,
    /// The serialized engine (JSON).
    pub state: String,
    /// When it was taken.
    pub ts: Timestamp,
}

/// Per-portfolio engine checkpoints.
#[async_trait]
pub trait CheckpointRepository: Send + Sync {
    /// Stores `checkpoint` when its revision is above the stored one. Returns whether it was
    /// stored ([`Inserted::Duplicate`] when an equal or newer revision is already there).
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> PortResult<Inserted>;

    /// The latest checkpoint of the portfolio.
    ///
    /// # Errors
    /// As [`Self::save_checkpoint`], or [`crate::PortError::Codec`] for an undecodable row.
    async fn load_checkpoint(&self, id: &PortfolioId) -> PortResult<Option<Checkpoint>>;

    /// The revision of the portfolio's latest checkpoint, without its state (which can weigh
    /// megabytes): for watching progress. By default read from [`Self::load_checkpoint`].
    ///
    /// # Errors
    /// As [`Self::load_checkpoint`].
    async fn checkpoint_revision(&self, id: &PortfolioId) -> PortResult<Option<i64>> {
        Ok(self.load_checkpoint(id).await?.map(|c| c.revision))
    }

    /// Removes the portfolio's checkpoint: a restore then finds none, and revisions start over.
    /// Returns whether there was one. Only for a process that owns every reader and writer of
    /// the portfolio's state (`chimera up` replaying files on its in-memory bus starts over
    /// from the first event, since that bus kept nothing of the last run): removing it under
    /// a running node would let a zombie's older revision in.
    ///
    /// # Errors
    /// As [`Self::save_checkpoint`].
    async fn discard_checkpoint(&self, id: &PortfolioId) -> PortResult<bool>;
}

/// One audit entry: an alert, a dead letter or a strategy event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// `alert`, `dead_letter` or `strategy_event` decides the table; see [`AuditKind`].
    pub kind: AuditKind,
    /// Idempotency key (alert id, `topic/partition/offset` of a dead letter, portfolio + event
    /// sequence of a strategy event). A repeat is a [`Inserted::Duplicate`].
    pub key: String,
    /// Who raised it (a node id, a portfolio id, a runtime name).
    pub source: String,
    /// Short classification (alert level, dead-letter reason class, event type).
    pub category: String,
    /// The entry as a JSON document (typed: a serde enum with closed reason codes). A store
    /// may normalise its spacing and key order, never its content.
    pub body: String,
    /// When it happened.
    pub ts: Timestamp,
}

/// What an [`AuditRecord`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditKind {
    /// An operational alert (backpressure, stale data, risk).
    Alert,
    /// A message that could not be decoded, with its reason and raw bytes.
    DeadLetter,
    /// Something a strategy or engine did worth keeping (refusal, issue, decision).
    StrategyEvent,
    /// A mutating call to the API: who (token), what (method, route, target), when, outcome.
    ApiCall,
}

/// Which audit records [`AuditRepository::query`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// At or after (epoch ms).
    pub since: Option<Timestamp>,
    /// Before (epoch ms).
    pub until: Option<Timestamp>,
    /// Only this category (an alert's level, an API call's outcome).
    pub category: Option<String>,
    /// Only from this source.
    pub source: Option<String>,
    /// At most this many (newest first).
    pub limit: u32,
}

/// The append-only audit trail.
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Stores the record once per `(kind, key)`.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn record(&self, record: &AuditRecord) -> PortResult<Inserted>;

    /// The most recent `limit` records of `kind`, newest first.
    ///
    /// # Errors
    /// As [`Self::record`], or [`crate::PortError::Codec`] for an undecodable row.
    async fn recent(&self, kind: AuditKind, limit: u32) -> PortResult<Vec<AuditRecord>>;

    /// The records of `kind` that `query` selects, newest first (by time, then by arrival).
    ///
    /// # Errors
    /// As [`Self::recent`].
    async fn query(&self, kind: AuditKind, query: &AuditQuery) -> PortResult<Vec<AuditRecord>>;
}
