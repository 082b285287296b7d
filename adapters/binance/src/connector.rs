//! [`BinanceVenue`]: connecting (keys, server time, exchangeInfo, user streams, the
//! unknown-outcome resolver) and the [`ExecutionVenue`] port.

use crate::codec::rest::{ExchangeInfo, OrderBody};
use crate::config::{BinanceConfig, Product};
use crate::error::BinanceError;
use crate::instruments::instruments_from;
use crate::orders::num;
use crate::paths::{self, Paths};
use crate::rejects;
use crate::rest::{local_ms, Auth, Cost, Method, RestClient};
use crate::sign::Params;
use crate::tracker::Tracker;
use crate::updates::body_updates;
use crate::venue::{price_param, Account, Inner, Sent};
use async_trait::async_trait;
use chimera_kernel::event::{ExecutionReport, RejectReason};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::{
    AmendRequest, CancelReplaceRequest, CancelRequest, Contingency, OrderIntent, OrderListRequest,
    ReplaceMode, Side,
};
use chimera_ports::{ExecutionVenue, PortResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often orders of unknown outcome are looked up.
const RESOLVE_EVERY: Duration = Duration::from_millis(250);

/// Whether the connector's host has banned or throttled it (see [`BinanceVenue::ban_probe`]).
#[derive(Clone)]
pub struct BanProbe(Arc<Inner>);

impl std::fmt::Debug for BanProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BanProbe").field(&self.banned()).finish()
    }
}

impl BanProbe {
    /// The ban in force, if any: `(until epoch ms, HTTP status)`.
    pub fn banned(&self) -> Option<(i64, u16)> {
        self.0.rest.banned()
    }
}

/// The Binance connector for one product: trading, account queries, user data.
#[derive(Debug)]
pub struct BinanceVenue {
    pub(crate) inner: Arc<Inner>,
    reports: tokio::sync::Mutex<mpsc::UnboundedReceiver<ExecutionReport>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(crate) config: BinanceConfig,
}

impl Drop for BinanceVenue {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl BinanceVenue {
    /// Connects: validates the config, reads the keys, measures the server time, loads
    /// exchangeInfo (instruments and rate limits), opens each account's user-data stream
    /// and starts the resolver.
    ///
    /// # Errors
    /// A bad config or key, or Binance unreachable.
    pub async fn connect(config: BinanceConfig) -> Result<Self, BinanceError> {
        let keys = crate::rest::account_credentials(&config)?;
        let endpoints = config.endpoints();
        let paths = Paths::of(config.product);
        let rest = RestClient::new(
            &endpoints.rest,
            paths.time,
            config.recv_window_ms,
            Duration::from_millis(config.request_timeout_ms),
        )?;
        rest.sync_time().await?;
        let info: ExchangeInfo = rest
            .call(
                Method::Get,
                paths.exchange_info,
                Params::new(),
                Auth::None,
                paths::cost(config.product, 20, 1),
            )
            .await?;
        rest.set_limits(&info.rate_limits);
        let instruments = instruments_from(config.product, &info)
            .into_iter()
            .map(|i| (i.symbol.clone(), i))
            .collect();
        let mut accounts = Vec::new();
        let mut by_portfolio = HashMap::new();
        for (i, (portfolios, creds)) in keys.into_iter().enumerate() {
            let portfolios: Vec<PortfolioId> = portfolios.iter().map(PortfolioId::new).collect();
            for p in &portfolios {
                by_portfolio.insert(p.clone(), i);
            }
            accounts.push(Arc::new(Account { creds, portfolios }));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            product: config.product,
            paths,
            rest,
            accounts,
            by_portfolio,
            tracker: Mutex::new(Tracker::default()),
            reports: tx,
            instruments: RwLock::new(instruments),
            started_ms: local_ms(),
            undecodable: Mutex::new(std::collections::VecDeque::new()),
        });
        if config.product == Product::Usdm {
            for i in 0..inner.accounts.len() {
                inner.apply_settings(i, &config.symbol_settings).await?;
            }
        }
        let mut tasks = Vec::new();
        for i in 0..inner.accounts.len() {
            tasks.push(crate::user_stream::spawn(Arc::clone(&inner), i, &endpoints).await?);
        }
        let resolver = Arc::clone(&inner);
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(RESOLVE_EVERY).await;
                resolver.resolve_unknown().await;
            }
        }));
        let sweeper = Arc::clone(&inner);
        let sweep_every = Duration::from_millis(config.sweep_ms);
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(sweep_every).await;
                for account in &sweeper.accounts {
                    sweeper.sweep(account).await;
                }
            }
        }));
        Ok(Self {
            inner,
            reports: tokio::sync::Mutex::new(rx),
            tasks,
            config,
        })
    }

    /// The instruments Binance lists for this product (from exchangeInfo at connect).
    pub fn instruments(&self) -> Vec<Instrument> {
        self.inner
            .instruments
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The product traded.
    pub fn product(&self) -> Product {
        self.inner.product
    }

    /// A handle telling whether Binance banned or throttled us, for another task to watch
    /// (a request waiting out a ban holds its caller meanwhile).
    pub fn ban_probe(&self) -> BanProbe {
        BanProbe(Arc::clone(&self.inner))
    }

    /// The rate-limit ban in force, if any: `(until epoch ms, HTTP status)`.
    pub fn banned(&self) -> Option<(i64, u16)> {
        self.inner.rest.banned()
    }

    /// Takes the user-data frames that did not decode (reason and bytes), oldest first, for
    /// the runtime's dead-letter topic and table.
    pub fn take_undecodable(&self) -> Vec<crate::codec::DecodeError> {
        self.inner
            .undecodable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
            .collect()
    }

    /// The portfolios the configured accounts trade for.
    pub fn portfolios(&self) -> Vec<PortfolioId> {
        self.config
            .accounts
            .iter()
            .flat_map(|a| a.portfolios.iter().map(PortfolioId::new))
            .collect()
    }

    /// Orders whose placement outcome is still unknown.
    pub fn unresolved(&self) -> usize {
        self.inner.lock_tracker().unresolved().len()
    }

    pub(crate) fn account(&self, portfolio: &PortfolioId) -> Option<Arc<Account>> {
        self.inner.account_of(portfolio).cloned()
    }

    async fn cancel_futures_then_place(&self, request: &CancelReplaceRequest) -> PortResult<()> {
        let cancel_ok = self.cancel_inner(&request.cancel).await?;
        if !cancel_ok && request.mode == ReplaceMode::StopOnFailure {
            let report = {
                let mut tracker = self.inner.lock_tracker();
                tracker.insert(&request.replacement, false);
                tracker.rejected(
                    &request.replacement.client_order_id,
                    RejectReason::CancelReplaceFailed,
                    "-2022 Order cancel-replace failed. (the order to cancel is not open)".into(),
                    self.inner.rest.server_now(),
                )
            };
            self.inner.emit(report);
            return Ok(());
        }
        self.inner
            .place(&request.replacement)
            .await
            .map_err(Into::into)
    }

    /// Cancels; `true` when Binance canceled it (a refusal is reported as `CancelRejected`).
    async fn cancel_inner(&self, request: &CancelRequest) -> PortResult<bool> {
        let Some(account) = self.account(&request.portfolio_id) else {
            self.inner.emit_cancel_rejected(
                &request.portfolio_id,
                &request.client_order_id,
                &request.symbol,
                RejectReason::UnknownOrder,
            );
            return Ok(false);
        };
        let algo = self
            .inner
            .lock_tracker()
            .get(&request.client_order_id)
            .is_some_and(|t| t.algo);
        let params = Params::new().with("symbol", request.symbol.as_str());
        let (path, params) = if algo {
            (
                paths::USDM_ALGO_ORDER,
                params.with("clientAlgoId", request.client_order_id.as_str()),
            )
        } else {
            (
                self.inner.paths.order,
                params.with("origClientOrderId", request.client_order_id.as_str()),
            )
        };
        let sent = self
            .inner
            .send::<serde_json::Value>(&account, Method::Delete, path, params, Cost::weight(1))
            .await?;
        match sent {
            Sent::Done(body) => {
                if let Ok(order) = serde_json::from_value::<OrderBody>(body) {
                    self.inner.apply(&body_updates(&order));
                } else {
                    // The algo endpoint answers `{"algoId":..,"code":"200"}`: report from the tracker.
                    self.inner
                        .apply(&[crate::codec::user::OrderUpdate::status_only(
                            request.symbol.as_str().to_owned(),
                            request.client_order_id.as_str().to_owned(),
                            0,
                            "CANCELED",
                            self.inner.rest.server_now(),
                        )]);
                }
                Ok(true)
            }
            Sent::Refused(code, _) => {
                self.inner.emit_cancel_rejected(
                    &request.portfolio_id,
                    &request.client_order_id,
                    &request.symbol,
                    rejects::cancel_reject(code),
                );
                Ok(false)
            }
        }
    }
}

#[async_trait]
impl ExecutionVenue for BinanceVenue {
    async fn submit(&self, intent: &OrderIntent) -> PortResult<()> {
        self.inner.place(intent).await.map_err(Into::into)
    }

    async fn cancel(&self, request: &CancelRequest) -> PortResult<()> {
        self.cancel_inner(request).await.map(|_| ())
    }

    async fn amend(&self, request: &AmendRequest) -> PortResult<()> {
        let refuse = |reason: RejectReason, message: String| {
            self.inner.emit_amend_rejected(
                &request.portfolio_id,
                &request.client_order_id,
                &request.symbol,
                reason,
                message,
                request.amendment,
            );
        };
        if !self
            .inner
            .lock_tracker()
            .request_amend(&request.client_order_id, request.amendment)
        {
            return Ok(());
        }
        let Some(account) = self.account(&request.portfolio_id) else {
            refuse(
                RejectReason::UnknownOrder,
                "no Binance account for this portfolio".into(),
            );
            return Ok(());
        };
        let side = self
            .inner
            .lock_tracker()
            .get(&request.client_order_id)
            .map(|t| t.intent.side);
        let Some(side) = side else {
            refuse(
                RejectReason::UnknownOrder,
                "-2013 Order does not exist.".into(),
            );
            return Ok(());
        };
        let (method, path, params) = match self.inner.product {
            Product::Usdm => (
                Method::Put,
                self.inner.paths.order,
                Params::new()
                    .with("symbol", request.symbol.as_str())
                    .with("origClientOrderId", request.client_order_id.as_str())
                    .with("side", if side == Side::Buy { "BUY" } else { "SELL" })
                    .with("quantity", num(request.qty.get()))
                    .with_opt("price", price_param(request.price)),
            ),
            Product::Spot => {
                let same_price = self
                    .inner
                    .lock_tracker()
                    .get(&request.client_order_id)
                    .is_some_and(|t| {
                        request.price.is_none() || t.intent.kind.limit_price() == request.price
                    });
                if !same_price {
                    refuse(
                        RejectReason::InvalidOrder,
                        "spot amends only lower the quantity; change the price with cancel-replace"
                            .into(),
                    );
                    return Ok(());
                }
                (
                    Method::Put,
                    paths::SPOT_AMEND,
                    Params::new()
                        .with("symbol", request.symbol.as_str())
                        .with("origClientOrderId", request.client_order_id.as_str())
                        .with("newQty", num(request.qty.get())),
                )
            }
        };
        match self
            .inner
            .send::<serde_json::Value>(&account, method, path, params, Cost::order(1))
            .await?
        {
            Sent::Done(_) => {
                let report = self.inner.lock_tracker().amended(
                    &request.client_order_id,
                    request.price,
                    request.qty,
                    self.inner.rest.server_now(),
                );
                self.inner.emit(report);
            }
            Sent::Refused(code, msg) => {
                refuse(
                    rejects::order_reject(self.inner.product, code, &msg),
                    format!("{code} {msg}"),
                );
            }
        }
        Ok(())
    }

    async fn cancel_replace(&self, request: &CancelReplaceRequest) -> PortResult<()> {
        if self
            .inner
            .lock_tracker()
            .knows(&request.replacement.client_order_id)
        {
            return Ok(());
        }
        match self.inner.product {
            Product::Spot => self.spot_cancel_replace(request).await,
            Product::Usdm => self.cancel_futures_then_place(request).await,
        }
    }

    async fn submit_list(&self, list: &OrderListRequest) -> PortResult<()> {
        match self.inner.product {
            Product::Spot => match list.contingency {
                Contingency::Oco => self.spot_oco(list).await,
                Contingency::Oto | Contingency::Otoco => self.spot_one_triggers(list).await,
            },
            Product::Usdm => {
                for leg in &list.orders {
                    let report = {
                        let mut tracker = self.inner.lock_tracker();
                        if tracker.knows(&leg.client_order_id) {
                            continue;
                        }
                        tracker.insert(leg, false);
                        tracker.rejected(
                            &leg.client_order_id,
                            RejectReason::InvalidOrder,
                            "USDⓈ-M futures have no order lists".into(),
                            self.inner.rest.server_now(),
                        )
                    };
                    self.inner.emit(report);
                }
                Ok(())
            }
        }
    }

    async fn next_report(&self, max_wait: Duration) -> PortResult<Option<ExecutionReport>> {
        let closed = || {
            chimera_ports::PortError::fatal(
                "binance reports",
                "the connector's report channel closed",
            )
        };
        let mut rx = self.reports.lock().await;
        if max_wait.is_zero() {
            // Not through a timer: tokio's count whole milliseconds, rounded up, so a zero
            // timeout waited for the next tick, and the gateway drains reports with a zero wait
            // after every command.
            return match rx.try_recv() {
                Ok(r) => Ok(Some(r)),
                Err(mpsc::error::TryRecvError::Empty) => Ok(None),
                Err(mpsc::error::TryRecvError::Disconnected) => Err(closed()),
            };
        }
        match tokio::time::timeout(max_wait, rx.recv()).await {
            Ok(Some(r)) => Ok(Some(r)),
            Ok(None) => Err(closed()),
            Err(_) => Ok(None),
        }
    }
}
