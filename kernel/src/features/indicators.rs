//! Bar indicators, each O(1) per update with its own warm-up: `value()` is `None` until the
//! indicator has seen enough bars to mean what its name says.
//!
//! Conventions, where libraries differ:
//! - EMA: α = 2 / (n + 1), seeded with the first value (Tulip Indicators' `ema`, and the EMA
//!   NautilusTrader uses); warm after n values. The `ema-cross` strategy uses this one.
//! - True range: undefined at the first bar, then max(high, prev close) − min(low, prev close)
//!   (TA-Lib's `TRANGE`).
//! - ATR(n): Wilder smoothing with TA-Lib's seeding: the first value is the mean of the true
//!   ranges of bars 1..n (the n true ranges after the first bar), then (prev·(n−1) + TR) / n.
//! - Realised volatility(n): the population standard deviation of the last n simple returns,
//!   times √(periods per year) (Tulip Indicators' `volatility`, with 252 periods a year for
//!   daily bars; pass the right count for other bar lengths).
//!
//! Everything here is `f64`: indicators are statistics, not money; inputs convert at the
//! boundary and outputs are compared to published values with tolerances.

use std::collections::VecDeque;

/// The feature `ema:N` (the `ema-cross` strategy's average too).
pub type Ema = ExponentialMovingAverage;

/// An exponential moving average seeded with its first input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExponentialMovingAverage {
    period: usize,
    alpha: f64,
    value: f64,
    count: usize,
}

impl ExponentialMovingAverage {
    /// An EMA over `period` values (`period` ≥ 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self {
            period,
            alpha: 2.0 / (period as f64 + 1.0),
            value: 0.0,
            count: 0,
        }
    }

    /// Feeds one value and returns the new average.
    pub fn update(&mut self, x: f64) -> f64 {
        self.value = if self.count == 0 {
            x
        } else {
            self.alpha * x + (1.0 - self.alpha) * self.value
        };
        self.count += 1;
        self.value
    }

    /// The number of values it averages over.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Whether `period` values have been seen.
    pub fn is_ready(&self) -> bool {
        self.count >= self.period
    }

    /// Current value.
    pub fn value(&self) -> f64 {
        self.value
    }
}

/// A window of the last `n` values with their running sum and sum of squares.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Window {
    n: usize,
    values: VecDeque<f64>,
    sum: f64,
    sum_sq: f64,
}

impl Window {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n: n.max(1),
            values: VecDeque::with_capacity(n.max(1) + 1),
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    pub(crate) fn push(&mut self, x: f64) {
        self.values.push_back(x);
        self.sum += x;
        self.sum_sq += x * x;
        if self.values.len() > self.n {
            if let Some(old) = self.values.pop_front() {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
    }

    pub(crate) fn full(&self) -> bool {
        self.values.len() == self.n
    }

    pub(crate) fn mean(&self) -> Option<f64> {
        self.full().then(|| self.sum / self.n as f64)
    }

    /// Population standard deviation (÷ n), clamped at zero against rounding.
    pub(crate) fn pop_std(&self) -> Option<f64> {
        let n = self.n as f64;
        self.full()
            .then(|| (self.sum_sq / n - (self.sum / n).powi(2)).max(0.0).sqrt())
    }
}

/// Simple moving average.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Sma(Window);

impl Sma {
    /// An SMA over `period` values.
    pub fn new(period: usize) -> Self {
        Self(Window::new(period))
    }

    /// Feeds a value.
    pub fn update(&mut self, x: f64) {
        self.0.push(x);
    }

    /// The mean of the last `period` values, once there are that many.
    pub fn value(&self) -> Option<f64> {
        self.0.mean()
    }
}

/// True range (TA-Lib's `TRANGE`): undefined at the first bar.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TrueRange {
    prev_close: Option<f64>,
    value: Option<f64>,
}

impl TrueRange {
    /// Feeds a bar; returns its true range (`None` for the first bar).
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.value = self.prev_close.map(|prev| high.max(prev) - low.min(prev));
        self.prev_close = Some(close);
        self.value
    }

    /// The latest true range.
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

/// Average true range, Wilder-smoothed with TA-Lib's seeding.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Atr {
    period: usize,
    tr: TrueRange,
    seed: f64,
    seeded: usize,
    value: Option<f64>,
}

impl Atr {
    /// An ATR over `period` bars (≥ 1).
    pub fn new(period: usize) -> Self {
        Self {
            period: period.max(1),
            tr: TrueRange::default(),
            seed: 0.0,
            seeded: 0,
            value: None,
        }
    }

    /// Feeds a bar.
    pub fn update(&mut self, high: f64, low: f64, close: f64) {
        let Some(tr) = self.tr.update(high, low, close) else {
            return;
        };
        let n = self.period as f64;
        if let Some(prev) = self.value {
            self.value = Some((prev * (n - 1.0) + tr) / n);
        } else {
            self.seed += tr;
            self.seeded += 1;
            self.value = (self.seeded == self.period).then(|| self.seed / n);
        }
    }

    /// The ATR once `period` true ranges were seen (from the `period + 1`-th bar).
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

/// Realised volatility: population standard deviation of the last `period` simple returns
/// × √(periods per year).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RealizedVol {
    returns: Window,
    prev: Option<f64>,
    annualise: f64,
}

impl RealizedVol {
    /// Over `period` returns, annualised with `periods_per_year` (252 for daily bars,
    /// 525 600 for one-minute bars of a market that never closes).
    pub fn new(period: usize, periods_per_year: f64) -> Self {
        Self {
            returns: Window::new(period),
            prev: None,
            annualise: periods_per_year.max(0.0).sqrt(),
        }
    }

    /// Feeds a price.
    pub fn update(&mut self, price: f64) {
        if let Some(prev) = self.prev.filter(|p| *p != 0.0) {
            self.returns.push(price / prev - 1.0);
        }
        self.prev = Some(price);
    }

    /// The annualised volatility once `period` returns were seen.
    pub fn value(&self) -> Option<f64> {
        self.returns.pop_std().map(|s| s * self.annualise)
    }
}

/// Rolling Pearson correlation of two return series, fed in pairs; O(1) per pair (running
/// sums of the window).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RollingCorrelation {
    n: usize,
    pairs: VecDeque<(f64, f64)>,
    sums: [f64; 5],
}

impl RollingCorrelation {
    /// Over the last `period` pairs.
    pub fn new(period: usize) -> Self {
        Self {
            n: period.max(2),
            pairs: VecDeque::with_capacity(period.max(2) + 1),
            sums: [0.0; 5],
        }
    }

    fn add(&mut self, (a, b): (f64, f64), sign: f64) {
        for (sum, term) in self.sums.iter_mut().zip([a, b, a * a, b * b, a * b]) {
            *sum += sign * term;
        }
    }

    /// Feeds one pair of returns (of the same period).
    pub fn update(&mut self, a: f64, b: f64) {
        self.pairs.push_back((a, b));
        self.add((a, b), 1.0);
        if self.pairs.len() > self.n {
            if let Some(old) = self.pairs.pop_front() {
                self.add(old, -1.0);
            }
        }
    }

    /// ρ once the window is full; `None` while one series is flat (no variance).
    pub fn value(&self) -> Option<f64> {
        if self.pairs.len() < self.n {
            return None;
        }
        let n = self.n as f64;
        let [sa, sb, saa, sbb, sab] = self.sums;
        let var_a = saa / n - (sa / n).powi(2);
        let var_b = sbb / n - (sb / n).powi(2);
        if var_a <= f64::EPSILON * saa.abs().max(1e-300)
            || var_b <= f64::EPSILON * sbb.abs().max(1e-300)
        {
            return None;
        }
        let cov = sab / n - (sa / n) * (sb / n);
        Some((cov / (var_a.sqrt() * var_b.sqrt())).clamp(-1.0, 1.0))
    }
}
