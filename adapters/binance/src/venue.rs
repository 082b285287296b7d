//! [`crate::BinanceVenue`]: the [`chimera_ports::ExecutionVenue`] over Binance's REST API and
//! user-data streams.
//!
//! Reports come from three places — the REST answer to a request, the account's user-data
//! stream, and the queries run after a gap in that stream — and pass through one
//! [`Tracker`], so each change is reported once whatever the order they arrive in.
//!
//! Never a duplicate order: client order ids come from intent ids, and Binance refuses a
//! `newClientOrderId` only while an order with it is open. So an order is sent once per
//! connector; a placement whose outcome is unknown (timeout, 5xx, `-1006`/`-1007`) is looked
//! up by its client order id, not sent again, until a query finds it or the request's
//! `recvWindow` has passed with no order (Binance can no longer execute it, so sending it
//! again is safe). An order older than this process is looked up before it is sent.

use crate::codec::rest::{AlgoOrderBody, OrderBody};
use crate::codec::user::{OrderUpdate, TradeUpdate};
use crate::config::Product;
use crate::error::BinanceError;
use crate::orders::{self, num, Endpoint};
use crate::paths::{self, Paths};
use crate::rejects;
use crate::rest::{local_ms, Auth, Cost, Credentials, Method, RestClient};
use crate::sign::Params;
use crate::tracker::Tracker;
use crate::updates::{body_updates, order_updates};
use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::ids::{ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::OrderIntent;
use chimera_kernel::time::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;

/// One Binance account (API key) and the portfolios trading through it.
#[derive(Debug)]
pub struct Account {
    /// Key and signer.
    pub creds: Credentials,
    /// Its portfolios.
    pub portfolios: Vec<PortfolioId>,
}

/// What the venue's parts share (the port methods, the user streams, the resolver).
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) product: Product,
    pub(crate) paths: Paths,
    pub(crate) rest: RestClient,
    pub(crate) accounts: Vec<Arc<Account>>,
    pub(crate) by_portfolio: HashMap<PortfolioId, usize>,
    pub(crate) tracker: Mutex<Tracker>,
    pub(crate) reports: mpsc::UnboundedSender<ExecutionReport>,
    pub(crate) instruments: RwLock<BTreeMap<Symbol, Instrument>>,
    /// Local clock when the connector started: orders created before may have been sent by
    /// an earlier process, so they are looked up before sending.
    pub(crate) started_ms: i64,
    /// User-data frames that did not decode, with their bytes, until the runtime takes them
    /// for its dead-letter topic (the newest [`MAX_UNDECODABLE`] are kept).
    pub(crate) undecodable: Mutex<std::collections::VecDeque<crate::codec::DecodeError>>,
}

/// How many undecodable frames are kept for the runtime.
pub(crate) const MAX_UNDECODABLE: usize = 1_000;

/// A state-changing call's outcome.
pub(crate) enum Sent<T> {
    /// Binance answered.
    Done(T),
    /// Binance refused: code and message.
    Refused(i64, String),
}

impl Inner {
    pub(crate) fn lock_tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn account_of(&self, portfolio: &PortfolioId) -> Option<&Arc<Account>> {
        self.by_portfolio.get(portfolio).map(|&i| &self.accounts[i])
    }

    /// Keeps an undecodable frame for the runtime's dead letters.
    pub(crate) fn undecodable(&self, error: crate::codec::DecodeError) {
        tracing::warn!(error = %error, "undecodable user-data frame kept for the dead letters");
        let mut kept = self
            .undecodable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() == MAX_UNDECODABLE {
            kept.pop_front();
        }
        kept.push_back(error);
    }

    pub(crate) fn emit(&self, reports: impl IntoIterator<Item = ExecutionReport>) {
        for r in reports {
            // The receiver lives as long as the venue; a send error means it is shutting down.
            let _ = self.reports.send(r);
        }
    }

    /// Applies order updates through the tracker and emits what is new.
    pub(crate) fn apply(&self, updates: &[OrderUpdate]) {
        let out: Vec<ExecutionReport> = {
            let mut tracker = self.lock_tracker();
            updates.iter().flat_map(|u| tracker.apply(u)).collect()
        };
        self.emit(out);
    }

    fn now(&self) -> i64 {
        self.rest.server_now()
    }

    fn emit_direct(
        &self,
        portfolio: &PortfolioId,
        id: &ClientOrderId,
        symbol: &Symbol,
        kind: ReportKind,
    ) {
        self.emit([ExecutionReport {
            portfolio_id: portfolio.clone(),
            client_order_id: id.clone(),
            venue_order_id: None,
            symbol: symbol.clone(),
            ts: Timestamp(self.now()),
            kind,
        }]);
    }

    fn reject(&self, intent: &OrderIntent, reason: RejectReason, message: String) {
        let report = {
            let mut tracker = self.lock_tracker();
            tracker.insert(intent, false);
            tracker.rejected(&intent.client_order_id, reason, message, self.now())
        };
        self.emit(report);
    }

    /// Sends a state-changing signed request.
    ///
    /// # Errors
    /// Transport failures and unknown outcomes (the caller decides); refusals are
    /// [`Sent::Refused`].
    pub(crate) async fn send<T: serde::de::DeserializeOwned>(
        &self,
        account: &Account,
        method: Method,
        path: &str,
        params: Params,
        cost: Cost,
    ) -> Result<Sent<T>, BinanceError> {
        match self
            .rest
            .call(method, path, params, Auth::Signed(&account.creds), cost)
            .await
        {
            Ok(body) => Ok(Sent::Done(body)),
            Err(e) if e.outcome_unknown() || e.is_transient() => Err(e),
            Err(BinanceError::Api { error, .. }) => Ok(Sent::Refused(error.code, error.msg)),
            Err(e) => Err(e),
        }
    }

    /// Places `intent` (once: see the module docs).
    pub(crate) async fn place(&self, intent: &OrderIntent) -> Result<(), BinanceError> {
        let Some(account) = self.account_of(&intent.portfolio_id).cloned() else {
            self.reject(
                intent,
                RejectReason::VenueError,
                format!(
                    "no Binance account is configured for portfolio `{}`",
                    intent.portfolio_id
                ),
            );
            return Ok(());
        };
        let (endpoint, params) = match orders::new_order(self.product, intent) {
            Ok(x) => x,
            Err(message) => {
                self.reject(intent, RejectReason::InvalidOrder, message);
                return Ok(());
            }
        };
        {
            let mut tracker = self.lock_tracker();
            if tracker.knows(&intent.client_order_id) {
                return Ok(());
            }
            tracker.insert(intent, endpoint == Endpoint::Algo);
        }
        if intent.created_at.0 < self.started_ms - 1_000
            && self
                .look_up(&account, &intent.client_order_id, &intent.symbol)
                .await?
        {
            return Ok(());
        }
        let path = match endpoint {
            Endpoint::Order => self.paths.order,
            Endpoint::Algo => paths::USDM_ALGO_ORDER,
        };
        let sent_at = self.now();
        let sent = self
            .send::<serde_json::Value>(&account, Method::Post, path, params, Cost::order(1))
            .await;
        self.settle(&[&intent.client_order_id], sent_at, sent, |body| {
            self.apply_placed(endpoint, body);
        })
    }

    /// Settles the placement of the orders `ids` (one order, or a list's legs) sent at
    /// `sent_at`: an answer goes to `done`; a refusal is each order's `Rejected`, once; an
    /// unknown outcome leaves them to be looked up; a request that never reached Binance
    /// forgets them and returns the error, for the caller to retry.
    ///
    /// # Errors
    /// The request never reached Binance (connect failure, rate limit).
    pub(crate) fn settle<T>(
        &self,
        ids: &[&ClientOrderId],
        sent_at: i64,
        sent: Result<Sent<T>, BinanceError>,
        done: impl FnOnce(T),
    ) -> Result<(), BinanceError> {
        match sent {
            Ok(Sent::Done(body)) => {
                done(body);
                Ok(())
            }
            Ok(Sent::Refused(code, msg)) => {
                let reason = rejects::order_reject(self.product, code, &msg);
                let reports: Vec<ExecutionReport> = {
                    let mut tracker = self.lock_tracker();
                    ids.iter()
                        .filter_map(|id| {
                            tracker.rejected(id, reason, format!("{code} {msg}"), self.now())
                        })
                        .collect()
                };
                self.emit(reports);
                Ok(())
            }
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(
                    ids = ?ids,
                    error = %e,
                    "order outcome unknown: looking it up by client order id, not resending"
                );
                let mut tracker = self.lock_tracker();
                for id in ids {
                    tracker.set_unresolved(id, Some(sent_at));
                }
                Ok(())
            }
            Err(e) => {
                let mut tracker = self.lock_tracker();
                for id in ids {
                    tracker.forget(id);
                }
                Err(e)
            }
        }
    }

    fn apply_placed(&self, endpoint: Endpoint, body: serde_json::Value) {
        match endpoint {
            Endpoint::Order => match serde_json::from_value::<OrderBody>(body) {
                Ok(order) => self.apply(&body_updates(&order)),
                Err(e) => {
                    tracing::warn!(error = %e, "new-order answer not understood; the user stream will tell");
                }
            },
            Endpoint::Algo => match serde_json::from_value::<AlgoOrderBody>(body) {
                Ok(algo) => self.apply(&[OrderUpdate::status_only(
                    algo.symbol.unwrap_or_default(),
                    algo.client_algo_id,
                    algo.algo_id,
                    "NEW",
                    algo.create_time.unwrap_or_else(local_ms),
                )]),
                Err(e) => {
                    tracing::warn!(error = %e, "algo-order answer not understood");
                }
            },
        }
    }

    /// Looks `id` up at Binance; applies what it finds (its trades too). `true`: it exists.
    ///
    /// # Errors
    /// The query failed (transient).
    pub(crate) async fn look_up(
        &self,
        account: &Account,
        id: &ClientOrderId,
        symbol: &Symbol,
    ) -> Result<bool, BinanceError> {
        let algo = self.lock_tracker().get(id).is_some_and(|t| t.algo);
        let params = Params::new().with("symbol", symbol.as_str());
        let (path, params) = if algo {
            (
                paths::USDM_ALGO_ORDER,
                params.with("clientAlgoId", id.as_str()),
            )
        } else {
            (
                self.paths.order,
                params.with("origClientOrderId", id.as_str()),
            )
        };
        let found = self
            .rest
            .call::<serde_json::Value>(
                Method::Get,
                path,
                params,
                Auth::Signed(&account.creds),
                paths::cost(self.product, 4, 1),
            )
            .await;
        let body = match found {
            Ok(body) => body,
            Err(BinanceError::Api { error, .. }) if error.code == -2013 || error.code == -2011 => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
        if algo {
            self.apply_placed(Endpoint::Algo, body);
            return Ok(true);
        }
        let order: OrderBody =
            serde_json::from_value(body.clone()).map_err(|e| BinanceError::Decode {
                operation: path.to_owned(),
                message: e.to_string(),
                body: body.to_string().into_bytes(),
            })?;
        let filled = self
            .lock_tracker()
            .get(id)
            .map_or(rust_decimal::Decimal::ZERO, |t| t.filled);
        let trades = if order.executed_qty.unwrap_or_default() > filled {
            self.trades_of(account, &order).await?
        } else {
            Vec::new()
        };
        self.apply(&order_updates(&order, trades));
        Ok(true)
    }

    /// The trades of `order` (the fills a gap in the user stream may have hidden).
    async fn trades_of(
        &self,
        account: &Account,
        order: &OrderBody,
    ) -> Result<Vec<(TradeUpdate, i64)>, BinanceError> {
        let trades: Vec<crate::codec::rest::AccountTrade> = self
            .rest
            .call(
                Method::Get,
                self.paths.trades,
                Params::new()
                    .with("symbol", &order.symbol)
                    .with("orderId", order.order_id),
                Auth::Signed(&account.creds),
                paths::cost(self.product, 20, 5),
            )
            .await?;
        Ok(trades
            .iter()
            .map(|t| {
                let trade = TradeUpdate {
                    id: t.id,
                    qty: t.qty,
                    price: t.price,
                    fee: t.commission,
                    fee_asset: t.commission_asset.clone(),
                    maker: t.was_maker(),
                };
                (trade, t.time)
            })
            .collect())
    }

    /// Settles orders of unknown outcome: found → reported; gone past their `recvWindow` →
    /// sent again (Binance can no longer execute the first request).
    pub(crate) async fn resolve_unknown(&self) {
        let unresolved = self.lock_tracker().unresolved();
        for (id, symbol, sent_at) in unresolved {
            let Some((account, intent)) = ({
                let tracker = self.lock_tracker();
                tracker.get(&id).and_then(|t| {
                    self.account_of(&t.intent.portfolio_id)
                        .map(|a| (Arc::clone(a), t.intent.clone()))
                })
            }) else {
                continue;
            };
            match self.look_up(&account, &id, &symbol).await {
                Ok(true) => tracing::info!(%id, "order of unknown outcome found at Binance"),
                Ok(false) => {
                    let expired = sent_at
                        + i64::try_from(self.rest.recv_window_ms()).unwrap_or(60_000)
                        + 1_000;
                    if self.now() > expired {
                        tracing::warn!(%id, "order of unknown outcome never reached Binance: sending it again");
                        self.lock_tracker().forget(&id);
                        if let Err(e) = self.place(&intent).await {
                            tracing::warn!(%id, error = %e, "resend failed; the gateway retries");
                        }
                    }
                }
                Err(e) => tracing::debug!(%id, error = %e, "lookup failed; trying again"),
            }
        }
    }

    /// After a gap in `account`'s user stream: every order still working is looked up, and
    /// its missed fills and ending reported.
    pub(crate) async fn recover(&self, account: &Account) {
        let working = self.lock_tracker().working(&account.portfolios);
        for (id, symbol) in working {
            if let Err(e) = self.look_up(account, &id, &symbol).await {
                tracing::warn!(%id, error = %e, "recovery lookup failed");
            }
        }
    }

    pub(crate) fn emit_cancel_rejected(
        &self,
        portfolio: &PortfolioId,
        id: &ClientOrderId,
        symbol: &Symbol,
        reason: RejectReason,
    ) {
        self.emit_direct(portfolio, id, symbol, ReportKind::CancelRejected { reason });
    }

    pub(crate) fn emit_amend_rejected(
        &self,
        portfolio: &PortfolioId,
        id: &ClientOrderId,
        symbol: &Symbol,
        reason: RejectReason,
        message: String,
        amendment: u32,
    ) {
        self.emit_direct(
            portfolio,
            id,
            symbol,
            ReportKind::AmendRejected {
                reason,
                message,
                amendment,
            },
        );
    }
}

/// Formats an amendment's new price for a request.
pub(crate) fn price_param(p: Option<chimera_kernel::value::Price>) -> Option<String> {
    p.map(|p| num(p.get()))
}
