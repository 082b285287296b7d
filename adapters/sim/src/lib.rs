//! # chimera-sim
//!
//! A deterministic simulated venue driven by the same market events as the strategies:
//! [`SimExchange`] is the synchronous matching core (sans-I/O, like the kernel), [`SimVenue`]
//! wraps it as an [`chimera_ports::ExecutionVenue`], and [`Backtest`] runs portfolio engines
//! against it over a stream of market events.
//!
//! Fill model (see [`SimConfig`]): market orders walk the L2 book when the data has one (our
//! own fills consume it until the next depth update; a newer bookTicker moves its top), else
//! take the best bid/ask, else the last trade, else the bar (at its close by default, or at the
//! next bar's open). Limit orders that are marketable on arrival take liquidity; otherwise they
//! rest and fill at their price, as maker: on L2 data by queue position ([`QueueModel`]), else
//! once the market trades through them. Stops, take-profits and trailing stops wait at the
//! venue for their trigger (last or mark price) and then trade as market or limit orders; FOK,
//! IOC and GTX, reduce-only and close-position behave as on Binance, and refusals carry
//! Binance's codes and wording. Orders reach the venue after a configurable latency (plus
//! seeded jitter), so the same seed always gives the same fills.

mod backtest;
mod config;
mod event_time;
mod exchange;
mod known;
mod market;
mod pairs;
mod promises;
mod recorder;
mod venue;

pub use backtest::{Backtest, BacktestResults, Progress};
pub use chimera_kernel::tca::{FillCostTracker, FillCosts, TCA_LEVELS};
pub use config::{BarFill, QueueModel, SimConfig, SimConfigError};
pub use event_time::{EventTimeVenue, FedMarks, SimState};
pub use exchange::SimExchange;
pub use known::{Knowledge, KNOWN_WINDOW};
pub use promises::TRADER_SILENCE;
pub use recorder::{finish_all, BacktestSummary, EquityCurves, EquityPoint, FillRow, Recorder};
pub use venue::SimVenue;
