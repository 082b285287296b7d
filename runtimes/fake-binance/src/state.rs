//! [`Exchange`]: the fake's books — the simulated venue's matching core, plus what Binance
//! keeps around it: order ids, client order ids unique among *open* orders only, order
//! records for queries, the account's trades, and who listens to each account's events.

use crate::config::{FakeAccount, FakeConfig, FakeProduct};
use crate::events;
pub use crate::records::{AccountSettings, AccountTrade, Income, Record, TransferEntry};
use crate::wire::ApiError;
use chimera_kernel::event::{ExecutionReport, MarketEvent, ReportKind};
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::{OrderKind, Side, TimeInForce};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Quantity};
use chimera_sim::{SimConfig, SimExchange};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use tokio::sync::mpsc::UnboundedSender;

/// A new-order request, parsed.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    /// Symbol.
    pub symbol: &'a str,
    /// Side.
    pub side: Side,
    /// Quantity.
    pub qty: Quantity,
    /// Kind.
    pub kind: OrderKind,
    /// Time in force.
    pub tif: TimeInForce,
    /// `reduceOnly`.
    pub reduce_only: bool,
    /// `closePosition`.
    pub close_position: bool,
    /// `newClientOrderId` / `clientAlgoId` (the fake makes one when absent).
    pub cid: Option<&'a str>,
    /// Binance's `type`, as sent.
    pub type_name: &'a str,
    /// Sent to the algo endpoint.
    pub algo: bool,
}

/// The fake's state (behind one mutex).
pub struct Exchange {
    /// Spot or futures.
    pub product: FakeProduct,
    /// The matching core.
    pub sim: SimExchange,
    /// Accounts.
    pub accounts: Vec<FakeAccount>,
    /// Instruments.
    pub instruments: BTreeMap<String, Instrument>,
    /// Orders by Binance id.
    pub records: BTreeMap<i64, Record>,
    /// Simulated-venue id → Binance id.
    pub(crate) by_sim: HashMap<ClientOrderId, i64>,
    /// (account, client id) → the latest Binance id under it.
    pub by_cid: HashMap<(usize, String), i64>,
    /// Trades.
    pub trades: Vec<AccountTrade>,
    pub(crate) next_order_id: i64,
    next_trade_id: i64,
    /// Per account, the open user-data connections.
    pub listeners: HashMap<usize, Vec<UnboundedSender<String>>>,
    /// Frames still to drop (fault injection), all accounts.
    pub drop_frames: u32,
    /// Income history (funding fees), oldest first.
    pub income: Vec<Income>,
    /// The last income entry's id.
    pub next_income_id: i64,
    /// Settled funding rates (symbol, time, rate, mark), oldest first.
    pub settled_rates: Vec<(String, i64, Decimal, Decimal)>,
    /// Each account's other wallet (asset → balance): the far side of transfers.
    pub other_wallets: HashMap<usize, BTreeMap<String, Decimal>>,
    /// Wallet transfers made, oldest first.
    pub transfers: Vec<TransferEntry>,
    /// USDⓈ-M settings per account.
    pub settings: HashMap<usize, AccountSettings>,
    /// The order being placed: a rejection of it fails the request instead of becoming an
    /// event.
    pub(crate) arriving: Vec<i64>,
}

/// Wall clock, epoch ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The simulated venue's id of Binance order `order_id`: unique, unlike client ids, which
/// Binance lets a client reuse once the order is closed.
pub(crate) fn sim_cid(account: usize, order_id: i64) -> ClientOrderId {
    ClientOrderId::new(format!("{account}|{order_id}"))
}

pub(crate) fn portfolio(account: usize) -> PortfolioId {
    PortfolioId::new(format!("acct-{account}"))
}

impl Exchange {
    /// A fresh exchange from `config`.
    pub fn new(config: &FakeConfig) -> Self {
        let mut sim = SimExchange::new(SimConfig::default());
        for i in &config.instruments {
            sim.add_instrument(i.clone());
        }
        for (n, a) in config.accounts.iter().enumerate() {
            for (asset, amount) in &a.deposits {
                sim.deposit(&portfolio(n), Asset::new(asset), Amount::new(*amount));
            }
        }
        Self {
            product: config.product,
            sim,
            accounts: config.accounts.clone(),
            instruments: config
                .instruments
                .iter()
                .map(|i| (i.symbol.as_str().to_owned(), i.clone()))
                .collect(),
            records: BTreeMap::new(),
            by_sim: HashMap::new(),
            by_cid: HashMap::new(),
            trades: Vec::new(),
            next_order_id: 1_000,
            next_trade_id: 5_000,
            listeners: HashMap::new(),
            drop_frames: 0,
            income: Vec::new(),
            next_income_id: 90_000,
            settled_rates: Vec::new(),
            other_wallets: config
                .accounts
                .iter()
                .enumerate()
                .map(|(n, a)| (n, a.other_wallet.iter().cloned().collect()))
                .collect(),
            transfers: Vec::new(),
            settings: AccountSettings::for_accounts(&config.accounts),
            arriving: Vec::new(),
        }
    }

    /// The account holding `api_key`.
    pub fn account_by_key(&self, api_key: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.api_key == api_key)
    }

    /// The open order `cid` of `account`, if any.
    pub fn open_by_cid(&self, account: usize, cid: &str) -> Option<&Record> {
        self.by_cid
            .get(&(account, cid.to_owned()))
            .and_then(|id| self.records.get(id))
            .filter(|r| r.is_open())
    }

    /// The latest order named `cid` of `account`, open or not.
    pub fn find(
        &self,
        account: usize,
        cid: Option<&str>,
        order_id: Option<i64>,
    ) -> Option<&Record> {
        match (order_id, cid) {
            (Some(id), _) => self.records.get(&id).filter(|r| r.account == account),
            (None, Some(cid)) => self
                .by_cid
                .get(&(account, cid.to_owned()))
                .and_then(|id| self.records.get(id)),
            (None, None) => None,
        }
    }

    /// The open order of `account` named by `cid` or `order_id`, or `error`.
    fn open_record(
        &self,
        account: usize,
        cid: Option<&str>,
        order_id: Option<i64>,
        error: ApiError,
    ) -> Result<Record, ApiError> {
        self.find(account, cid, order_id)
            .filter(|r| r.is_open())
            .cloned()
            .ok_or(error)
    }

    /// The record of `order_id` as it stands now.
    pub(crate) fn current(&self, order_id: i64) -> Result<Record, ApiError> {
        self.records
            .get(&order_id)
            .cloned()
            .ok_or_else(|| ApiError::new(500, -1000, "An unknown error occurred."))
    }

    /// The quantity a `closePosition` order without one is placed with. Binance closes
    /// whatever position is held when it executes; the simulated venue cuts a close-position
    /// order to the position then, so it gets the largest quantity the symbol allows when a
    /// position on the other side exists (the market-order cap; no margin is needed to reduce), else one lot (it
    /// expires on trigger if still flat).
    pub fn close_position_qty(&self, account: usize, symbol: &str, side: Side) -> Quantity {
        let held = self
            .books(account)
            .and_then(|b| b.position(&Symbol::new(symbol)))
            .map_or(Decimal::ZERO, |p| p.qty.get());
        let lot = self
            .instruments
            .get(symbol)
            .map_or(Quantity::ZERO, |i| i.lot_size);
        if held * side.sign() < Decimal::ZERO {
            // closePosition orders are market-like: the market-order cap bounds them.
            self.instruments
                .get(symbol)
                .and_then(|i| i.limits.market_max_qty)
                .or_else(|| Quantity::new(crate::config::MAX_ORDER_QTY).ok())
                .unwrap_or(lot)
        } else {
            lot
        }
    }

    /// Cancels `account`'s order.
    ///
    /// # Errors
    /// `-2011 Unknown order sent.` when it is not open.
    pub fn cancel(
        &mut self,
        account: usize,
        cid: Option<&str>,
        order_id: Option<i64>,
    ) -> Result<Record, ApiError> {
        let record = self.open_record(
            account,
            cid,
            order_id,
            ApiError::new(400, -2011, "Unknown order sent."),
        )?;
        let sim_cid = sim_cid(account, record.order_id);
        self.sim.cancel(
            &chimera_kernel::order::CancelRequest {
                portfolio_id: portfolio(account),
                client_order_id: sim_cid,
                symbol: Symbol::new(&record.symbol),
                created_at: Timestamp(now_ms()),
            },
            Timestamp(now_ms()),
        );
        self.drain();
        self.current(record.order_id)
    }

    /// Changes a futures order's price and quantity (`PUT /fapi/v1/order`).
    ///
    /// # Errors
    /// `-2013` unknown order; the sim's refusal otherwise.
    pub fn amend(
        &mut self,
        account: usize,
        cid: Option<&str>,
        order_id: Option<i64>,
        qty: Quantity,
        price: Decimal,
    ) -> Result<Record, ApiError> {
        let record = self.open_record(
            account,
            cid,
            order_id,
            ApiError::new(400, -2013, "Order does not exist."),
        )?;
        let sim_cid = sim_cid(account, record.order_id);
        let amendment = self
            .sim
            .open_orders(&portfolio(account))
            .into_iter()
            .find(|o| o.intent.client_order_id == sim_cid)
            .map_or(1, |o| o.amendments + 1);
        self.sim.amend(
            &chimera_kernel::order::AmendRequest {
                portfolio_id: portfolio(account),
                client_order_id: sim_cid,
                symbol: Symbol::new(&record.symbol),
                price: chimera_kernel::value::Price::new(price).ok(),
                qty,
                amendment,
                created_at: Timestamp(now_ms()),
            },
            Timestamp(now_ms()),
        );
        let mut refusal = None;
        for (id, error) in self.drain() {
            if id == record.order_id && error.is_some() {
                refusal = error;
            }
        }
        if let Some(e) = refusal {
            return Err(e);
        }
        self.current(record.order_id)
    }

    /// Feeds a market event and hands out what it fills.
    pub fn on_market(&mut self, event: &MarketEvent) {
        self.sim.on_market(event);
        self.drain();
    }

    /// Takes the simulated venue's reports: updates records and trades, sends user events.
    /// Returns, per report of a known order, its id and (for refusals) Binance's error.
    pub(crate) fn drain(&mut self) -> Vec<(i64, Option<ApiError>)> {
        let mut out = Vec::new();
        while let Some(report) = self.sim.pop_report() {
            let Some(&order_id) = self.by_sim.get(&report.client_order_id) else {
                continue;
            };
            out.push((order_id, self.apply(order_id, &report)));
        }
        out
    }

    fn apply(&mut self, order_id: i64, report: &ExecutionReport) -> Option<ApiError> {
        let now = report.ts.0.max(now_ms());
        let product = self.product;
        let record = self.records.get_mut(&order_id)?;
        let mut trade = None;
        match &report.kind {
            ReportKind::Rejected { message, .. } if self.arriving.contains(&order_id) => {
                // Refused on arrival: the REST call fails; no event (Binance creates no order).
                let (code, msg) = split_message(message);
                return Some(ApiError::new(400, code, msg));
            }
            ReportKind::AmendRejected { message, .. } => {
                let (code, msg) = split_message(message);
                return Some(ApiError::new(400, code, msg));
            }
            ReportKind::CancelRejected { .. } => return None,
            ReportKind::Accepted => record.status = "NEW",
            ReportKind::PartiallyFilled(f)
            | ReportKind::Filled(f)
            | ReportKind::Liquidated { fill: f, .. } => {
                record.executed += f.qty.get();
                record.cum_quote += f.qty.get() * f.price.get();
                record.status = if matches!(report.kind, ReportKind::PartiallyFilled(_)) {
                    "PARTIALLY_FILLED"
                } else {
                    "FILLED"
                };
                self.next_trade_id += 1;
                trade = Some(AccountTrade {
                    account: record.account,
                    symbol: record.symbol.clone(),
                    id: self.next_trade_id,
                    order_id,
                    side: record.side,
                    price: f.price.get(),
                    qty: f.qty.get(),
                    commission: f.fee.amount,
                    commission_asset: f.fee.asset.as_str().to_owned(),
                    time: now,
                    maker: f.liquidity == chimera_kernel::event::Liquidity::Maker,
                });
            }
            ReportKind::Canceled => record.status = "CANCELED",
            ReportKind::Expired | ReportKind::Rejected { .. } => record.status = "EXPIRED",
            ReportKind::Amended { price, qty, .. } => {
                if let Some(p) = price {
                    record.price = p.get();
                }
                record.orig_qty = qty.get();
            }
        }
        record.update_time = now;
        let record = record.clone();
        if let Some(t) = &trade {
            self.trades.push(t.clone());
        }
        let frame = events::order_event(product, &record, &report.kind, trade.as_ref(), now);
        self.send_to(record.account, &frame.to_string());
        None
    }

    /// Sends a user-data frame to `account`'s listeners (unless frames are being dropped).
    pub fn send_to(&mut self, account: usize, frame: &str) {
        if self.drop_frames > 0 {
            self.drop_frames -= 1;
            return;
        }
        if let Some(list) = self.listeners.get_mut(&account) {
            list.retain(|tx| tx.send(frame.to_owned()).is_ok());
        }
    }

    /// Closes every user-data connection (their senders are dropped).
    pub fn close_user_streams(&mut self) {
        self.listeners.clear();
    }

    /// The simulated account of `account`.
    pub fn books(&self, account: usize) -> Option<&chimera_kernel::portfolio::Portfolio> {
        self.sim.account_of(&portfolio(account))
    }
}

/// The simulated venue writes `"<code> <text> (<detail>)"`; Binance sends the code and text.
fn split_message(message: &str) -> (i64, String) {
    let (code, rest) = message.split_once(' ').unwrap_or(("-1000", message));
    let text = match rest.rfind(" (") {
        Some(i) if rest.ends_with(')') => &rest[..i],
        _ => rest,
    };
    (code.parse().unwrap_or(-1000), text.to_owned())
}
