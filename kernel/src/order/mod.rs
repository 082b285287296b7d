//! Orders: what a portfolio asks for ([`OrderIntent`], [`CancelRequest`]) and the [`Order`]
//! it tracks, whose status only moves along legal transitions (see [`state`]).

mod amend;
mod client_ids;
mod kind;
mod kind_decode;
mod list;
mod oco;
pub mod state;
mod trailing;

pub use amend::{AmendRequest, CancelReplaceRequest, ReplaceMode};
pub use client_ids::{is_venue_safe, Leg, MAX_CLIENT_ORDER_ID};
pub use kind::{OrderKind, TimeInForce, TriggerSource};
pub use list::{Contingency, OrderListRequest};
pub use oco::{check_oco_prices, OcoPriceError};
pub use state::{OrderError, OrderStatus, OrderUpdate};
pub use trailing::{TrailingKind, TrailingState, TrailingTrigger};

use crate::event::Fill;
use crate::ids::{ClientOrderId, IntentId, PortfolioId, Symbol, VenueOrderId};
use crate::time::Timestamp;
use crate::value::{Money, Quantity, SignedQty};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// Buy base, pay quote.
    Buy,
    /// Sell base, receive quote.
    Sell,
}

impl Side {
    /// `+1` for buys, `-1` for sells.
    pub fn sign(self) -> Decimal {
        match self {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        }
    }

    /// `BUY` or `SELL`, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }

    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

impl std::str::FromStr for Side {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "BUY" => Ok(Side::Buy),
            "SELL" => Ok(Side::Sell),
            other => Err(format!("unknown side `{other}` (expected BUY or SELL)")),
        }
    }
}

/// A request to place one order. `intent_id` is its idempotency key end to end; the
/// `client_order_id` is derived from it, so a replayed intent maps to the same venue order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIntent {
    /// Idempotency key.
    pub intent_id: IntentId,
    /// Exchange-level idempotency key.
    pub client_order_id: ClientOrderId,
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// Instrument.
    pub symbol: Symbol,
    /// Direction.
    pub side: Side,
    /// Quantity.
    pub qty: Quantity,
    /// Order type.
    pub kind: OrderKind,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Only reduce an existing position.
    pub reduce_only: bool,
    /// Close the whole position: reduce-only, with the quantity cut to the position the venue
    /// holds when the order executes (the rest expires). The engine sends the position's size
    /// at the time as `qty`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close_position: bool,
    /// When the intent was created.
    pub created_at: Timestamp,
    /// The strategy's label (e.g. `close`, `entry`), for reports.
    pub tag: crate::ids::Tag,
}

/// A request to cancel a working order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// The order to cancel.
    pub client_order_id: ClientOrderId,
    /// Instrument.
    pub symbol: Symbol,
    /// When the request was made.
    pub created_at: Timestamp,
}

/// An order as the portfolio tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// What was asked.
    pub intent: OrderIntent,
    /// Where it stands.
    pub status: OrderStatus,
    /// Venue id once known.
    pub venue_order_id: Option<VenueOrderId>,
    /// Executed quantity so far.
    pub filled_qty: Quantity,
    /// Σ price × qty of fills, in quote.
    #[serde(with = "crate::value::decimal_str")]
    pub cum_quote: Decimal,
    /// Fees per fill, in the order they arrived.
    pub fees: Vec<Money>,
    /// Fills applied, for idempotency and audit.
    pub fills: Vec<Fill>,
    /// A cancel was requested and not yet answered.
    pub cancel_requested: bool,
    /// Amends requested so far (numbers the next one; see [`AmendRequest::amendment`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub amendments: u32,
    /// The last amendment the venue confirmed (an older confirmation arriving late, or twice,
    /// changes nothing).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub amended: u32,
    /// Last update time.
    pub updated_at: Timestamp,
}

impl Order {
    /// A new order awaiting the venue's answer.
    pub fn new(intent: OrderIntent) -> Self {
        let updated_at = intent.created_at;
        Self {
            intent,
            status: OrderStatus::PendingNew,
            venue_order_id: None,
            filled_qty: Quantity::ZERO,
            cum_quote: Decimal::ZERO,
            fees: Vec::new(),
            fills: Vec::new(),
            cancel_requested: false,
            amendments: 0,
            amended: 0,
            updated_at,
        }
    }

    /// Quantity still to execute.
    pub fn remaining(&self) -> Quantity {
        self.intent
            .qty
            .checked_sub(self.filled_qty)
            .unwrap_or(Quantity::ZERO)
    }

    /// Volume-weighted average fill price, when anything filled.
    pub fn avg_fill_price(&self) -> Option<Decimal> {
        (!self.filled_qty.is_zero()).then(|| self.cum_quote / self.filled_qty.get())
    }

    /// Whether this version of the order may replace a stored version of the same order:
    /// never a non-terminal state over a terminal one, never a less-filled version; among
    /// versions equally far along, never an older one. Progress decides before timestamps, so
    /// a venue stamping reports out of order (or a re-execution after a restart stamping them
    /// later) cannot leave a stale state recorded. Stores use it so a replayed or reordered
    /// write cannot regress an order.
    pub fn supersedes(&self, stored: &Order) -> bool {
        if (stored.status.is_terminal() && !self.status.is_terminal())
            || self.filled_qty < stored.filled_qty
        {
            return false;
        }
        let progress = |o: &Order| {
            (
                o.status.is_terminal(),
                o.filled_qty,
                o.status.rank(),
                o.amended,
            )
        };
        match progress(self).cmp(&progress(stored)) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.updated_at >= stored.updated_at,
        }
    }

    /// Marks a cancel as requested and returns the request to send, unless one is already out
    /// (a cancel is sent once per order, whoever asks for it).
    pub fn request_cancel(&mut self, now: Timestamp) -> Option<CancelRequest> {
        if self.cancel_requested {
            return None;
        }
        self.cancel_requested = true;
        Some(CancelRequest {
            portfolio_id: self.intent.portfolio_id.clone(),
            client_order_id: self.intent.client_order_id.clone(),
            symbol: self.intent.symbol.clone(),
            created_at: now,
        })
    }

    /// Numbers and returns a request to change the order to `price` and `qty` (see
    /// [`AmendRequest`]).
    pub fn request_amend(
        &mut self,
        price: Option<crate::value::Price>,
        qty: Quantity,
        now: Timestamp,
    ) -> AmendRequest {
        self.amendments = self.amendments.max(self.amended) + 1;
        AmendRequest {
            portfolio_id: self.intent.portfolio_id.clone(),
            client_order_id: self.intent.client_order_id.clone(),
            symbol: self.intent.symbol.clone(),
            price,
            qty,
            amendment: self.amendments,
            created_at: now,
        }
    }

    /// What this order adds to the projected position while it works: its signed open
    /// quantity, except for a contingent order (stop, take-profit, trailing) that has not
    /// started filling, which counts as nothing. A protective stop and a take-profit on the
    /// same position may both be working; counting them would make the position look closed
    /// (or reversed) before either fires.
    pub fn projected_open_qty(&self) -> SignedQty {
        if self.intent.kind.is_contingent() && self.filled_qty.is_zero() {
            SignedQty::ZERO
        } else {
            self.signed_open_qty()
        }
    }

    /// Signed quantity still to execute while the order works (+ buy, − sell), 0 when done.
    pub fn signed_open_qty(&self) -> SignedQty {
        if self.status.is_terminal() {
            SignedQty::ZERO
        } else {
            SignedQty::from_side(self.intent.side, self.remaining())
        }
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}
