//! # chimera-kernel
//!
//! The pure trading domain of Chimera: value types, instruments, market and execution events,
//! the order state machine, portfolio accounting, strategies and the per-portfolio engine.
//!
//! Everything here is a deterministic, synchronous state machine in the sans-I/O style: time
//! arrives as an argument (`now`, epoch milliseconds) with every event, outputs are returned as
//! [`engine::Command`] values, and nothing in this crate performs I/O, reads the wall clock or
//! draws unseeded randomness. That is what lets backtests, paper trading and live trading run the
//! very same code. A workspace test keeps tokio, database, Redis, Kafka and network crates out
//! of this crate's dependency tree.
//!
//! Money is exact: prices, quantities, notionals and fee rates are newtypes over
//! [`rust_decimal::Decimal`] with checked constructors, serialised as strings.
#![warn(missing_docs)]

pub mod decision;
pub mod engine;
pub mod event;
pub mod execution;
pub mod features;
pub mod ids;
pub mod instrument;
pub mod order;
pub mod portfolio;
pub mod position_manager;
pub mod request;
pub mod risk;
pub mod rng;
pub mod schedule;
pub mod sizing;
pub mod strategy;
mod tagged;
pub mod tca;
pub mod time;
pub mod value;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use rust_decimal::Decimal;
