//! Features: what strategies and the decision pipeline read about a market, computed
//! incrementally (O(1) per update) from market events, once per symbol per node and shared by
//! every portfolio that trades the symbol ([`FeatureEngine`]).
//!
//! - Bar features ([`indicators`]): EMA, SMA, true range, ATR (TA-Lib's conventions),
//!   realised volatility (Tulip Indicators' convention), rolling correlation of two symbols'
//!   returns. They update on bars: the data's own, or bars built from trades ([`bars`]) on tick
//!   data.
//! - Microstructure features ([`micro`]): mid, spread in bp, book depth within ±X bp of the mid
//!   from the local L2 book, trade imbalance and VWAP over the last N trades.
//! - Data-quality flags on every update ([`dqc`]) and the market regime ([`regime`]).
//!
//! A feature's value is `None` while it warms up. Features compute in `f64` (statistics, not
//! money); prices convert at the boundary.

pub mod bars;
pub mod dqc;
pub mod indicators;
pub mod micro;
pub mod regime;
mod set;
mod spec;
mod view;

pub use dqc::{DqcFlag, DqcLimits};
pub use regime::{Regime, RegimeConfig, RegimeLabel};
pub use set::{FeatureEngine, FeatureSet, FeatureUpdate, FeaturesConfig};
pub use spec::{FeatureSpec, FeatureSpecError};
pub use view::FeatureView;
