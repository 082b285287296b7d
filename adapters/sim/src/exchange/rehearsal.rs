//! Rehearsal: an order run on a copy of what it touches, so that the venue's order path is
//! warm in the processor's caches when a real order comes.
//!
//! Why: a live trade gateway executes an order every few tens of milliseconds, and in between
//! the code and data of that path leave the core's caches. On the 2-core build machine the
//! gateway's execution of one order command took about 5 µs when it came within 200 µs of
//! the previous one and 27–30 µs after 20 ms, at 200 market events a second as at 2,000 (so
//! not pushed out by our own work in between), and with checkpoints 50 times rarer alike.
//! Running an order through the matching core on a copy every few hundred microseconds keeps
//! that part of the path warm; [`SimExchange::rehearse`] does so without touching the venue, and
//! [`SimExchange::stage`] gives the copy itself, for a caller that runs the order through the
//! same port a real one takes.

use super::SimExchange;
use chimera_kernel::event::ExecutionReport;
use chimera_kernel::order::OrderIntent;
use std::sync::Arc;

impl SimExchange {
    /// Runs `intent` through the matching core as if it had just arrived, on a
    /// [`stage`](Self::stage), and returns the stage's reports.
    ///
    /// Takes `&self`: the venue is left exactly as it was (accounts, orders, the window of
    /// known ids, sequence numbers, the random draws of its latency), so rehearsals never
    /// change a fill. An intent for an unknown symbol or portfolio is rehearsed against what
    /// the venue would do with it (a refusal, or an empty account).
    #[must_use]
    pub fn rehearse(&self, intent: OrderIntent) -> Vec<ExecutionReport> {
        let mut stage = self.stage(&intent);
        let at = intent.created_at;
        stage.submit(intent, at);
        stage.reports.into()
    }

    /// A new venue holding copies of what `intent` touches (its symbol's instrument, market
    /// and clock, and its portfolio's account, reading this venue's own as it copies them),
    /// with no latency: `intent` submitted to it is matched at once, at its symbol's clock,
    /// as this venue would match it now. What is done on the stage never reaches this venue;
    /// a caller can run the order through the same port a real one takes
    /// ([`crate::SimVenue::from_exchange`]).
    #[must_use]
    pub fn stage(&self, intent: &OrderIntent) -> SimExchange {
        let mut config = self.config.clone();
        config.latency_ms = 0;
        config.latency_jitter_ms = 0;
        let mut stage = SimExchange::new(config);
        let symbol = &intent.symbol;
        if let Some(instrument) = self.instruments.get(symbol) {
            stage
                .instruments
                .insert(symbol.clone(), Arc::clone(instrument));
        }
        if let Some(market) = self.markets.get(symbol) {
            stage.markets.insert(symbol.clone(), market.clone());
        }
        if let Some(clock) = self.clocks.get(symbol) {
            stage.clocks.insert(symbol.clone(), *clock);
        }
        if let Some(account) = self.accounts.get(&intent.portfolio_id) {
            stage
                .accounts
                .insert(intent.portfolio_id.clone(), account.clone());
        }
        stage.now = self.now.max(intent.created_at);
        stage.event_seq = self.event_seq;
        stage.next_trade = self.next_trade;
        stage
    }
}
