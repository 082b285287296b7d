//! [`SimVenue`]: the simulated exchange behind the [`ExecutionVenue`] and [`VenueAccount`]
//! ports.

use crate::config::SimConfig;
use crate::exchange::SimExchange;
use async_trait::async_trait;
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::order::{
    AmendRequest, CancelReplaceRequest, CancelRequest, Order, OrderIntent, OrderListRequest,
};
use chimera_kernel::portfolio::Position;
use chimera_kernel::value::Money;
use chimera_ports::{ExecutionVenue, PortResult, VenueAccount};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// A shareable simulated venue. Time is the venue's market time (the latest event fed through
/// [`SimVenue::on_market`]), so runs are deterministic regardless of wall-clock speed.
#[derive(Debug)]
pub struct SimVenue {
    exchange: Mutex<SimExchange>,
    reported: Notify,
}

impl SimVenue {
    /// A venue with `config`; use [`SimVenue::with_exchange`] to list instruments and fund accounts.
    pub fn new(config: SimConfig) -> Self {
        Self {
            exchange: Mutex::new(SimExchange::new(config)),
            reported: Notify::new(),
        }
    }

    /// A venue around an existing exchange core (one restored from a checkpoint).
    pub fn from_exchange(exchange: SimExchange) -> Self {
        Self {
            exchange: Mutex::new(exchange),
            reported: Notify::new(),
        }
    }

    /// Runs `f` on the exchange core (set-up, inspection, checkpointing).
    pub fn with_exchange<T>(&self, f: impl FnOnce(&mut SimExchange) -> T) -> T {
        let result = f(&mut self.lock());
        self.reported.notify_waiters();
        result
    }

    /// Reads the exchange core without changing it (waking no one waiting for reports).
    pub fn inspect<T>(&self, f: impl FnOnce(&SimExchange) -> T) -> T {
        f(&self.lock())
    }

    /// Feeds a market event to the venue.
    pub fn on_market(&self, event: &MarketEvent) {
        self.with_exchange(|x| x.on_market(event));
    }

    fn lock(&self) -> MutexGuard<'_, SimExchange> {
        self.exchange.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ExecutionVenue for SimVenue {
    async fn submit(&self, intent: &OrderIntent) -> PortResult<()> {
        // Sent at the client's own time: the venue's reports then do not depend on how the
        // market data of other symbols happened to be interleaved with the order.
        self.with_exchange(|x| x.submit(intent.clone(), intent.created_at));
        Ok(())
    }

    async fn cancel(&self, request: &CancelRequest) -> PortResult<()> {
        self.with_exchange(|x| x.cancel(request, request.created_at));
        Ok(())
    }

    async fn amend(&self, request: &AmendRequest) -> PortResult<()> {
        self.with_exchange(|x| x.amend(request, request.created_at));
        Ok(())
    }

    async fn submit_list(&self, list: &OrderListRequest) -> PortResult<()> {
        let at = list
            .orders
            .first()
            .map_or(chimera_kernel::time::Timestamp(0), |o| o.created_at);
        self.with_exchange(|x| x.submit_list(list, at));
        Ok(())
    }

    async fn cancel_replace(&self, request: &CancelReplaceRequest) -> PortResult<()> {
        let at = request.replacement.created_at;
        self.with_exchange(|x| x.cancel_replace(request, at));
        Ok(())
    }

    async fn next_report(&self, max_wait: Duration) -> PortResult<Option<ExecutionReport>> {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let notified = self.reported.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(report) = self.lock().pop_report() {
                return Ok(Some(report));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }
}

#[async_trait]
impl VenueAccount for SimVenue {
    async fn open_orders(&self, portfolio: &PortfolioId) -> PortResult<Vec<Order>> {
        Ok(self.lock().open_orders(portfolio))
    }

    async fn positions(&self, portfolio: &PortfolioId) -> PortResult<Vec<Position>> {
        Ok(self
            .lock()
            .account_of(portfolio)
            .map(|a| a.positions.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn balances(&self, portfolio: &PortfolioId) -> PortResult<Vec<Money>> {
        Ok(self
            .lock()
            .account_of(portfolio)
            .map(|a| {
                a.balances
                    .iter()
                    .map(|(asset, amount)| Money::new(amount.get(), asset.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
}
