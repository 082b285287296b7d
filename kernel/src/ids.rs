//! Names and identifiers: [`Symbol`], [`Asset`], [`PortfolioId`], [`IntentId`],
//! [`ClientOrderId`], [`VenueOrderId`], [`TradeId`], [`SignalId`].
//!
//! All are cheap-to-clone shared strings (`Arc<str>`), compared by content, serialised as plain
//! JSON strings. Identifiers the kernel generates itself (intent and client order ids) are
//! derived deterministically from the portfolio id and a sequence number, so a replay produces
//! the same ids, which is what makes them usable as idempotency keys.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a string.
            pub fn new(value: impl AsRef<str>) -> Self {
                Self(Arc::from(value.as_ref()))
            }

            /// The string itself.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An instrument's trading symbol as the venue spells it, e.g. `BTCUSDT`.
    Symbol
);
string_id!(
    /// An asset / currency code, e.g. `BTC`, `USDT`.
    Asset
);
string_id!(
    /// A portfolio's stable identifier.
    PortfolioId
);
string_id!(
    /// The idempotency key of an order intent (or of one slice of an execution algorithm).
    /// Replaying an intent with the same id never creates a second order.
    IntentId
);
string_id!(
    /// The exchange-level idempotency key of an order, chosen by us.
    ClientOrderId
);
string_id!(
    /// The venue's own order identifier.
    VenueOrderId
);
string_id!(
    /// The venue's trade (execution) identifier; unique per fill on a venue.
    TradeId
);
string_id!(
    /// The idempotency key of a strategy signal.
    SignalId
);

impl IntentId {
    /// The deterministic intent id for the `seq`-th intent of a portfolio.
    pub fn for_portfolio(portfolio: &PortfolioId, seq: u64) -> Self {
        Self::new(format!("{portfolio}-{seq}"))
    }
}

impl ClientOrderId {
    /// The client order id derived from an intent id: one order per intent.
    pub fn for_intent(intent: &IntentId) -> Self {
        Self::new(format!("c-{intent}"))
    }
}
