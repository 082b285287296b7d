//! What the fake lists and who may trade on it.

use chimera_kernel::instrument::{Instrument, MarketKind, OrderLimits};
use chimera_kernel::value::{Price, Quantity};
use rust_decimal::Decimal;

/// The largest order quantity the fake lists (`LOT_SIZE.maxQty`).
pub const MAX_ORDER_QTY: Decimal = Decimal::from_parts(9_000, 0, 0, false, 0);

/// The limits the fake's instruments carry, like Binance's for BTCUSDT: a quantity cap, a
/// market-order cap, and the percent-price band (spot 0.2×–5× by side, futures ±5% of the
/// mark).
pub fn binance_like_limits(product: FakeProduct) -> OrderLimits {
    let (up, down) = match product {
        FakeProduct::Spot => (Decimal::new(5, 0), Decimal::new(2, 1)),
        FakeProduct::Usdm => (Decimal::new(105, 2), Decimal::new(95, 2)),
    };
    OrderLimits {
        max_qty: Quantity::new(MAX_ORDER_QTY).ok(),
        market_lot: None,
        market_max_qty: Quantity::new(Decimal::from(120)).ok(),
        min_price: Price::new(Decimal::new(1, 2)).ok(),
        max_price: Price::new(Decimal::from(1_000_000)).ok(),
        percent_up: Some(up),
        percent_down: Some(down),
    }
}

/// Spot or USDⓈ-M: which paths, codes and events the fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeProduct {
    /// `/api/v3`, WebSocket API user data.
    Spot,
    /// `/fapi`, listenKey user data.
    Usdm,
}

impl FakeProduct {
    /// The market kind of its instruments.
    pub fn market(self) -> MarketKind {
        match self {
            FakeProduct::Spot => MarketKind::Spot,
            FakeProduct::Usdm => MarketKind::Perp,
        }
    }
}

/// How an account signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeKey {
    /// HMAC-SHA256 with this secret.
    Hmac(String),
    /// Ed25519 with this public key (32 bytes).
    Ed25519([u8; 32]),
}

/// One account: its API key, how it signs, what it starts with.
#[derive(Debug, Clone)]
pub struct FakeAccount {
    /// `X-MBX-APIKEY`.
    pub api_key: String,
    /// Verification key.
    pub key: FakeKey,
    /// Starting balances (asset, amount).
    pub deposits: Vec<(String, Decimal)>,
    /// Starting balances of the account's other wallet (spot for a USDⓈ-M fake, USDⓈ-M for
    /// a spot fake), the far side of wallet transfers.
    pub other_wallet: Vec<(String, Decimal)>,
    /// USDⓈ-M: the account starts in hedge mode.
    pub hedge_mode: bool,
}

/// The fake's settings.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Spot or USDⓈ-M.
    pub product: FakeProduct,
    /// Listed instruments.
    pub instruments: Vec<Instrument>,
    /// Accounts.
    pub accounts: Vec<FakeAccount>,
    /// Request weight allowed per minute (Binance: 6000 spot, 2400 futures).
    pub weight_per_minute: u64,
    /// Orders allowed per 10 s per account (Binance: 100 spot, 300 futures).
    pub orders_per_10s: u64,
    /// Capture files replayed as the market (empty: the market is set through `/fake/quote`).
    pub captures: Vec<std::path::PathBuf>,
    /// Replay speed (1 = real time, 0 = as fast as possible).
    pub replay_speed: f64,
    /// listenKey lifetime without keepalive, ms (Binance: 60 minutes).
    pub listen_key_ttl_ms: i64,
    /// USDⓈ-M funding rate announced and settled (Binance's baseline: 0.0001 per 8 h).
    pub funding_rate: Decimal,
    /// USDⓈ-M funding interval, ms (Binance: 8 hours for most perpetuals).
    pub funding_interval_ms: i64,
}

impl FakeConfig {
    /// A fake of `product` listing BTCUSDT and ETHUSDT with Binance-like filters and no
    /// accounts.
    pub fn new(product: FakeProduct) -> Self {
        let instruments = ["BTCUSDT", "ETHUSDT"]
            .into_iter()
            .filter_map(|s| Instrument::linear(s, "USDT", product.market()).ok())
            .map(|mut i| {
                i.limits = binance_like_limits(product);
                i
            })
            .collect();
        Self {
            product,
            instruments,
            accounts: Vec::new(),
            weight_per_minute: match product {
                FakeProduct::Spot => 6_000,
                FakeProduct::Usdm => 2_400,
            },
            orders_per_10s: match product {
                FakeProduct::Spot => 100,
                FakeProduct::Usdm => 300,
            },
            captures: Vec::new(),
            replay_speed: 1.0,
            listen_key_ttl_ms: 3_600_000,
            funding_rate: Decimal::new(1, 4),
            funding_interval_ms: 8 * 3_600_000,
        }
    }

    /// Adds an HMAC account with `deposits`.
    #[must_use]
    pub fn with_hmac_account(
        mut self,
        api_key: &str,
        secret: &str,
        deposits: &[(&str, Decimal)],
    ) -> Self {
        self.accounts.push(FakeAccount {
            api_key: api_key.to_owned(),
            key: FakeKey::Hmac(secret.to_owned()),
            deposits: deposits
                .iter()
                .map(|(a, d)| ((*a).to_owned(), *d))
                .collect(),
            other_wallet: Vec::new(),
            hedge_mode: false,
        });
        self
    }
}
