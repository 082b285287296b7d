//! # chimera-binance
//!
//! Binance spot and USDⓈ-M perpetual futures behind Chimera's ports: [`BinanceVenue`]
//! implements [`chimera_ports::ExecutionVenue`] (signed REST orders, user-data reports) and
//! [`chimera_ports::VenueAccount`] (open orders, positions, balances); [`BinanceMarketData`]
//! implements [`chimera_ports::MarketDataSource`] (streams with a local book per symbol).
//!
//! Written from Binance's published API documentation and tested against the project's own
//! wire-level fake (`chimera-fake-binance`), since no test here can reach Binance.
//!
//! Promises: requests are signed over the exact bytes sent ([`sign`]); rate limits come from
//! exchangeInfo and the response headers, and a 429/418 stops all requests to the host until
//! its `Retry-After` ([`limits`]); an order is never sent twice ([`BinanceVenue`] docs); each
//! fill is reported once, by trade id ([`tracker`]).

pub mod account;
pub mod codec;
pub mod config;
pub mod connector;
pub mod error;
pub mod futures_settings;
pub mod instruments;
pub mod limits;
pub mod market_data;
mod market_stream;
pub mod orders;
pub mod paths;
pub mod recorder;
pub mod rejects;
pub mod rest;
pub mod secret;
pub mod sign;
mod spot;
mod spot_lists;
mod sweep;
pub mod symbol_settings;
pub mod tracker;
pub mod transfer_policy;
pub mod treasury;
pub mod updates;
mod user_stream;
pub mod venue;
mod ws;

pub use config::{AccountConfig, BinanceConfig, Environment, KeyType, Product};
pub use connector::BinanceVenue;
pub use error::BinanceError;
pub use market_data::{BinanceMarketData, SyncStats};
pub use recorder::BinanceRecorder;
pub use secret::Secret;
pub use treasury::BinanceTreasury;
