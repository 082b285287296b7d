//! [`Envelope`]: the versioned wrapper of every bus message, and its JSON codec.

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The envelope schema this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// What the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// A [`chimera_kernel::event::MarketEvent`].
    MarketEvent,
    /// A [`chimera_kernel::engine::Command`] (submit or cancel).
    OrderCommand,
    /// A [`chimera_kernel::event::ExecutionReport`].
    ExecutionReport,
    /// A control command.
    ControlCommand,
    /// A scheduler assignment change.
    ScheduleUpdate,
    /// A lifecycle event.
    SystemEvent,
    /// An [`Alert`].
    Alert,
    /// A [`crate::DeadLetter`].
    DeadLetter,
    /// An [`crate::EpochClaim`]: a node starting a portfolio under a new assignment epoch,
    /// on `orders.submission`, so the gateway fences older epochs from that point of the
    /// stream on.
    EpochClaim,
    /// A [`crate::Progress`]: how far a portfolio's engine has read, on `orders.submission`
    /// behind the commands it sent before, so a simulated venue can feed market data ahead of
    /// the next order.
    Progress,
}

/// One bus message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Envelope schema version.
    pub schema: u32,
    /// Payload type.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Unique message id: the consumer's idempotency key for this message.
    pub id: String,
    /// When it was produced (epoch ms).
    pub ts: Timestamp,
    /// Who produced it (e.g. `feed-1`, `node-2`).
    pub source: String,
    /// Partitioning key (symbol or portfolio).
    pub key: String,
    /// The fencing token of the sender's assignment (order commands of a node run by the
    /// scheduler): the gateway refuses a command whose epoch is older than the portfolio's
    /// current assignment, so a node that lost a portfolio (paused, partitioned, presumed dead)
    /// cannot trade it any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// The payload.
    pub payload: T,
}

impl<T> Envelope<T> {
    /// An envelope of the current schema.
    pub fn new(
        kind: MessageType,
        id: impl Into<String>,
        ts: Timestamp,
        source: impl Into<String>,
        key: impl Into<String>,
        payload: T,
    ) -> Self {
        Self {
            schema: SCHEMA_VERSION,
            kind,
            id: id.into(),
            ts,
            source: source.into(),
            key: key.into(),
            epoch: None,
            payload,
        }
    }

    /// The same envelope carrying fencing token `epoch`.
    pub fn with_epoch(mut self, epoch: Option<u64>) -> Self {
        self.epoch = epoch;
        self
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    /// Worth a look (e.g. a queue past 70%).
    Warning,
    /// Act now (e.g. a queue past 95%).
    Critical,
    /// Something failed.
    Error,
}

impl AlertLevel {
    /// The canonical (serde) name: `warning`, `critical`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
            Self::Error => "error",
        }
    }
}

/// What an alert is about: a closed set, so monitoring can branch on it and stored alerts can
/// be counted by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertCode {
    /// A portfolio's queue passed 70% (warning) or 95% (critical) of its capacity.
    QueuePressure,
    /// A queue under pressure is back under 70%.
    QueueRecovered,
    /// A message could not be decoded and went to the dead-letter topic and table.
    DeadLetter,
    /// The gateway sent an order before market data for its time arrived.
    MarketDataBehind,
    /// A node stopped on a fatal error.
    NodeFailed,
    /// Another node took over a portfolio's lease.
    PortfolioLeaseTaken,
    /// A portfolio's lease is held by another node.
    PortfolioLeasedElsewhere,
    /// A portfolio could not be loaded (bad config, unknown strategy, bad checkpoint).
    PortfolioNotLoaded,
    /// A portfolio was paused, resumed or stopped.
    PortfolioStatus,
    /// The scheduler changed which portfolios this node runs.
    AssignmentChanged,
    /// An order command names a portfolio the gateway does not know.
    UnknownPortfolio,
    /// The gateway refused an order command of an older assignment epoch (a zombie node's).
    FencedOrder,
    /// A scheduler took or lost the leadership, or declared a node dead.
    SchedulerChanged,
    /// A kill switch was engaged, released or expired.
    KillSwitch,
    /// The kill-switch state cannot be read: no new entries until it can (fail closed).
    KillSwitchUnreadable,
    /// The gateway refused an order that would add exposure while a kill switch holds.
    KillSwitchRefused,
    /// The exchange banned or throttled us (HTTP 418 / 429): no request reaches it until the
    /// ban ends.
    VenueBanned,
}

impl AlertCode {
    /// Every code.
    pub const ALL: [Self; 17] = [
        Self::QueuePressure,
        Self::QueueRecovered,
        Self::DeadLetter,
        Self::MarketDataBehind,
        Self::NodeFailed,
        Self::PortfolioLeaseTaken,
        Self::PortfolioLeasedElsewhere,
        Self::PortfolioNotLoaded,
        Self::PortfolioStatus,
        Self::AssignmentChanged,
        Self::UnknownPortfolio,
        Self::FencedOrder,
        Self::SchedulerChanged,
        Self::KillSwitch,
        Self::KillSwitchUnreadable,
        Self::KillSwitchRefused,
        Self::VenueBanned,
    ];

    /// The canonical (serde) name, e.g. `queue_pressure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueuePressure => "queue_pressure",
            Self::QueueRecovered => "queue_recovered",
            Self::DeadLetter => "dead_letter",
            Self::MarketDataBehind => "market_data_behind",
            Self::NodeFailed => "node_failed",
            Self::PortfolioLeaseTaken => "portfolio_lease_taken",
            Self::PortfolioLeasedElsewhere => "portfolio_leased_elsewhere",
            Self::PortfolioNotLoaded => "portfolio_not_loaded",
            Self::PortfolioStatus => "portfolio_status",
            Self::AssignmentChanged => "assignment_changed",
            Self::UnknownPortfolio => "unknown_portfolio",
            Self::FencedOrder => "fenced_order",
            Self::SchedulerChanged => "scheduler_changed",
            Self::KillSwitch => "kill_switch",
            Self::KillSwitchUnreadable => "kill_switch_unreadable",
            Self::KillSwitchRefused => "kill_switch_refused",
            Self::VenueBanned => "venue_banned",
        }
    }
}

/// An alert, as published on the alerts topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Urgency.
    pub level: AlertLevel,
    /// What it is about.
    pub code: AlertCode,
    /// Human-readable detail.
    pub message: String,
    /// The portfolio concerned, if any.
    pub portfolio: Option<PortfolioId>,
}

/// A message could not be decoded. Keeps the raw bytes so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable message: {reason}")]
pub struct DecodeError {
    /// What was wrong.
    pub reason: String,
    /// The bytes as received.
    pub bytes: Vec<u8>,
}

/// Encodes an envelope as JSON (decimals are strings by construction of the kernel types).
///
/// # Panics
/// Never for Chimera's payload types, whose serialisation cannot fail.
pub fn encode<T: Serialize>(envelope: &Envelope<T>) -> Vec<u8> {
    // Sized for most messages at once (a fill's envelope is about 460 bytes, a bar's 250):
    // grown from serde_json's 128 it took two or three copies.
    let mut bytes = Vec::with_capacity(ENCODED_CAPACITY);
    serde_json::to_writer(&mut bytes, envelope)
        .unwrap_or_else(|e| unreachable!("payloads serialise infallibly: {e}"));
    bytes
}

/// The buffer [`encode`] starts with.
const ENCODED_CAPACITY: usize = 512;

#[derive(Deserialize)]
struct Header {
    schema: u32,
    #[serde(rename = "type")]
    kind: MessageType,
}

/// The type a message says it is, without decoding its payload (`None`: not an envelope).
///
/// An envelope as [`encode`] writes it starts `{"schema":N,"type":"…",`: its type is read off
/// those bytes, so a router does not parse the whole message once for its type and again to
/// decode it. Any other layout is parsed in full. A message whose first bytes name a type but
/// whose rest is not JSON gets that type here, and is refused by [`decode`].
pub fn message_type(bytes: &[u8]) -> Option<MessageType> {
    leading_type(bytes).or_else(|| serde_json::from_slice::<Header>(bytes).ok().map(|h| h.kind))
}

/// The type named by the first bytes of an envelope written by [`encode`].
fn leading_type(bytes: &[u8]) -> Option<MessageType> {
    let rest = bytes.strip_prefix(b"{\"schema\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest.get(digits..)?.strip_prefix(b",\"type\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    if digits == 0 || rest.get(end + 1) != Some(&b',') {
        return None;
    }
    let name = std::str::from_utf8(&rest[..end]).ok()?;
    MessageType::deserialize(
        serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name),
    )
    .ok()
}

/// Decodes an envelope, checking its schema version and that it carries `expected`.
///
/// # Errors
/// [`DecodeError`] with the reason and the bytes: not JSON, a schema newer than
/// [`SCHEMA_VERSION`], another message type, or a payload that does not match.
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    expected: MessageType,
) -> Result<Envelope<T>, DecodeError> {
    let fail = |reason: String| DecodeError {
        reason,
        bytes: bytes.to_vec(),
    };
    // The common case in one pass over the bytes (the hot path of every router): the whole
    // envelope parses, then its header is checked. Only a message that does not parse is read
    // again, for the header, to say precisely what is wrong with it.
    let checked = |header: &Header| {
        if header.schema == 0 || header.schema > SCHEMA_VERSION {
            return Err(fail(format!(
                "unsupported schema {} (this build reads 1..={SCHEMA_VERSION})",
                header.schema
            )));
        }
        if header.kind != expected {
            return Err(fail(format!(
                "expected a {expected:?} message, got {:?}",
                header.kind
            )));
        }
        Ok(())
    };
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(envelope) => {
            checked(&Header {
                schema: envelope.schema,
                kind: envelope.kind,
            })?;
            Ok(envelope)
        }
        Err(payload) => {
            let header: Header =
                serde_json::from_slice(bytes).map_err(|e| fail(format!("not an envelope: {e}")))?;
            checked(&header)?;
            Err(fail(format!("bad {expected:?} payload: {payload}")))
        }
    }
}
