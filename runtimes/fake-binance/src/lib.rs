//! # chimera-fake-binance
//!
//! A wire-level fake of Binance's spot and USDⓈ-M APIs for tests and offline trials: the REST
//! endpoints the connector uses (signature `-1022` and timestamp `-1021` checks, request
//! weight with `X-MBX-USED-WEIGHT-1M`, 429 then 418 with `Retry-After`), user-data streams
//! (USDⓈ-M listenKey, spot WebSocket API subscription) and fault injection ([`faults`]). The
//! matching is the simulated venue's ([`chimera_sim::SimExchange`]), so fills, filters and
//! refusals (with Binance's codes and wording) are the same as in a backtest.
//!
//! Not Binance: one "IP" for all clients, one market per symbol set through `/fake/quote` or
//! fed by replayed captures; endpoints the connector does not use answer `-1000`.

pub mod auth;
pub mod config;
pub mod events;
pub mod faults;
pub mod funding;
pub mod futures_settings;
pub mod limits;
pub mod market;
mod market_ws;
pub mod order_lists;
pub mod orders;
mod placing;
pub mod records;
mod replay;
mod server;
pub mod state;
pub mod transfers;
pub mod wire;
mod ws;

pub use config::{FakeAccount, FakeConfig, FakeKey, FakeProduct};

use axum::routing::{any, get, post};
use chimera_kernel::event::{MarketEvent, Quote};
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use state::{now_ms, Exchange};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use wire::{dec, ApiError};

/// A bound as Binance writes it: `0` for none.
fn opt(d: Option<Decimal>) -> String {
    dec(d.unwrap_or(Decimal::ZERO))
}

/// The running fake's shared state.
pub struct Fake {
    /// Its settings.
    pub config: FakeConfig,
    exchange: Mutex<Exchange>,
    market: Mutex<market::Market>,
    weights: Mutex<limits::Weights>,
    faults: Mutex<faults::Faults>,
    listen_keys: Mutex<HashMap<String, (usize, i64)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Fake {
    /// A fake with `config`.
    pub fn new(config: FakeConfig) -> Arc<Self> {
        Arc::new(Self {
            exchange: Mutex::new(Exchange::new(&config)),
            market: Mutex::new(market::Market::default()),
            weights: Mutex::new(limits::Weights::new(config.weight_per_minute)),
            faults: Mutex::new(faults::Faults::default()),
            listen_keys: Mutex::new(HashMap::new()),
            config,
        })
    }

    /// The exchange state.
    pub fn exchange(&self) -> MutexGuard<'_, Exchange> {
        lock(&self.exchange)
    }

    /// The public market (replayed books, stream subscribers).
    pub fn market(&self) -> MutexGuard<'_, market::Market> {
        lock(&self.market)
    }

    /// The weight window.
    pub fn weights(&self) -> MutexGuard<'_, limits::Weights> {
        lock(&self.weights)
    }

    /// Sets faults to inject (replacing those pending).
    pub fn set_faults(&self, faults: faults::Faults) {
        let mut ex = self.exchange();
        ex.drop_frames = faults.drop_user_frames;
        if faults.close_user_streams {
            ex.close_user_streams();
        }
        drop(ex);
        let mut market = self.market();
        market.depth_gaps = faults.depth_gaps;
        market.lagging_snapshots = faults.lagging_snapshots;
        if faults.close_market_streams {
            market.disconnect_all();
        }
        drop(market);
        *lock(&self.faults) = faults;
    }

    fn take_order_fault(&self) -> Option<faults::OrderFault> {
        lock(&self.faults).take_order_fault()
    }

    fn take_transfer_fault(&self) -> Option<faults::OrderFault> {
        lock(&self.faults).take_transfer_fault()
    }

    /// Sets the best bid and ask of `symbol` (fills what they reach).
    ///
    /// # Errors
    /// `-1100` when a price is not positive.
    pub fn set_quote(&self, symbol: &str, bid: Decimal, ask: Decimal) -> Result<(), ApiError> {
        let bad = |what: &str| ApiError::new(400, -1100, format!("bad {what}"));
        let qty = Quantity::new(Decimal::from(1_000)).map_err(|_| bad("qty"))?;
        let event = MarketEvent::Quote(Quote {
            symbol: Symbol::new(symbol),
            ts: Timestamp(now_ms()),
            bid: Price::new(bid).map_err(|_| bad("bid"))?,
            bid_qty: qty,
            ask: Price::new(ask).map_err(|_| bad("ask"))?,
            ask_qty: qty,
            update_id: None,
        });
        self.exchange().on_market(&event);
        Ok(())
    }

    fn listen_key(&self, account: usize) -> String {
        let mut keys = lock(&self.listen_keys);
        // Binance returns the account's active key (extended) when there is one.
        if let Some((key, _)) = keys
            .iter()
            .find(|(_, (a, _))| *a == account)
            .map(|(k, v)| (k.clone(), *v))
        {
            keys.insert(
                key.clone(),
                (account, now_ms() + self.config.listen_key_ttl_ms),
            );
            return key;
        }
        let key = format!("lk{account}x{}", now_ms());
        keys.insert(
            key.clone(),
            (account, now_ms() + self.config.listen_key_ttl_ms),
        );
        key
    }

    fn keepalive(&self, account: usize) -> Result<Value, ApiError> {
        let mut keys = lock(&self.listen_keys);
        let Some(entry) = keys
            .values_mut()
            .find(|(a, until)| *a == account && *until > now_ms())
        else {
            return Err(ApiError::new(400, -1125, "This listenKey does not exist."));
        };
        entry.1 = now_ms() + self.config.listen_key_ttl_ms;
        Ok(json!({}))
    }

    /// Expires every listen key now (their streams end with `listenKeyExpired`).
    pub fn expire_listen_keys(&self) {
        for (_, until) in lock(&self.listen_keys).values_mut() {
            *until = 0;
        }
    }

    fn account_of_listen_key(&self, key: &str) -> Option<usize> {
        lock(&self.listen_keys)
            .get(key)
            .filter(|(_, until)| *until > now_ms())
            .map(|(a, _)| *a)
    }

    fn exchange_info(&self) -> Value {
        let symbols: Vec<Value> = self
            .config
            .instruments
            .iter()
            .map(|i| {
                let mut s = json!({
                    "symbol": i.symbol.as_str(), "status": "TRADING",
                    "baseAsset": i.base.as_str(), "quoteAsset": i.quote.as_str(),
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
                    "ocoAllowed": true, "otoAllowed": true,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": opt(i.limits.min_price.map(Price::get)), "maxPrice": opt(i.limits.max_price.map(Price::get)), "tickSize": dec(i.tick_size.get())},
                        {"filterType": "LOT_SIZE", "minQty": dec(i.lot_size.get()), "maxQty": opt(i.limits.max_qty.map(Quantity::get)), "stepSize": dec(i.lot_size.get())},
                        {"filterType": "MARKET_LOT_SIZE", "minQty": dec(i.lot_size.get()), "maxQty": opt(i.limits.market_max_qty.map(Quantity::get)), "stepSize": opt(i.limits.market_lot.map(Quantity::get))},
                    ],
                });
                let up = opt(i.limits.percent_up);
                let down = opt(i.limits.percent_down);
                let band = match self.config.product {
                    FakeProduct::Spot => json!({"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": up, "bidMultiplierDown": down, "askMultiplierUp": up, "askMultiplierDown": down, "avgPriceMins": 5}),
                    FakeProduct::Usdm => json!({"filterType": "PERCENT_PRICE", "multiplierUp": up, "multiplierDown": down, "multiplierDecimal": "4"}),
                };
                if let Some(f) = s["filters"].as_array_mut() {
                    f.push(band);
                }
                let notional = match self.config.product {
                    FakeProduct::Spot => json!({"filterType": "NOTIONAL", "minNotional": dec(i.min_notional.get()), "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5}),
                    FakeProduct::Usdm => json!({"filterType": "MIN_NOTIONAL", "notional": i.min_notional.get().normalize().to_string()}),
                };
                if let Some(f) = s["filters"].as_array_mut() {
                    f.push(notional);
                }
                if self.config.product == FakeProduct::Usdm {
                    s["contractType"] = json!("PERPETUAL");
                    s["marginAsset"] = json!(i.quote.as_str());
                }
                s
            })
            .collect();
        json!({
            "timezone": "UTC",
            "serverTime": now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": self.config.weight_per_minute},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": self.config.orders_per_10s},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200_000},
            ],
            "symbols": symbols,
        })
    }

    fn depth(&self, symbol: &str, limit: Option<&str>) -> Result<Value, ApiError> {
        let limit = market::depth_limit(self.config.product, limit)?;
        if let Some(answer) = self.market().depth(symbol, limit, now_ms()) {
            return Ok(answer);
        }
        let ex = self.exchange();
        if !ex.instruments.contains_key(symbol) {
            return Err(ApiError::new(400, -1121, "Invalid symbol."));
        }
        let (bids, asks) = ex.sim.depth(&Symbol::new(symbol), limit);
        let side = |levels: Vec<chimera_kernel::event::BookLevel>| -> Vec<Value> {
            levels
                .iter()
                .map(|l| json!([dec(l.price.get()), dec(l.qty.get())]))
                .collect()
        };
        Ok(
            json!({"lastUpdateId": 0, "E": now_ms(), "T": now_ms(), "bids": side(bids), "asks": side(asks)}),
        )
    }

    fn spot_account(&self, account: usize) -> Value {
        let ex = self.exchange();
        let balances: Vec<Value> = ex.books(account).map_or_else(Vec::new, |b| {
            b.balances
                .iter()
                .map(|(asset, amount)| json!({"asset": asset.as_str(), "free": dec(amount.get()), "locked": "0.00000000"}))
                .collect()
        });
        json!({"makerCommission": 10, "takerCommission": 10, "canTrade": true, "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"]})
    }

    fn futures_balance(&self, account: usize) -> Value {
        let ex = self.exchange();
        ex.books(account).map_or_else(|| json!([]), |b| {
            b.balances
                .iter()
                .map(|(asset, amount)| json!({"accountAlias": "fake", "asset": asset.as_str(), "balance": dec(amount.get()), "crossWalletBalance": dec(amount.get()), "availableBalance": dec(b.available_margin().get()), "updateTime": now_ms()}))
                .collect()
        })
    }

    fn position_risk(&self, account: usize) -> Value {
        let ex = self.exchange();
        ex.books(account).map_or_else(|| json!([]), |b| {
            b.positions
                .values()
                .map(|p| {
                    json!({"symbol": p.symbol.as_str(), "positionSide": "BOTH", "positionAmt": dec(p.qty.get()),
                           "entryPrice": dec(p.avg_entry()), "markPrice": dec(p.mark.map_or(Decimal::ZERO, Price::get)),
                           "unRealizedProfit": dec(p.unrealized_pnl().get()), "leverage": ex.leverage(account, &p.symbol).to_string(),
                           "updateTime": now_ms()})
                })
                .collect()
        })
    }

    /// The router: Binance's paths plus `/fake/*` administration.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        axum::Router::new()
            .route("/private/ws/{key}", get(ws::user_stream))
            .route("/ws/{key}", get(market_ws::ws_path))
            .route("/stream", get(market_ws::combined))
            .route("/public/stream", get(market_ws::combined_public))
            .route("/market/stream", get(market_ws::combined_market))
            .route("/public/ws/{stream}", get(market_ws::raw_public))
            .route("/market/ws/{stream}", get(market_ws::raw_market))
            .route("/ws-api/v3", get(ws::ws_api))
            .route("/fake/quote", post(admin_quote))
            .route("/fake/faults", post(admin_faults))
            .route("/fake/accounts/{n}", get(admin_account))
            .fallback(any(server::dispatch))
            .with_state(Arc::clone(self))
    }

    /// Serves on `listener` until the task is dropped; replays the configured captures as
    /// the market.
    pub fn serve(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> tokio::task::JoinHandle<()> {
        use axum::serve::ListenerExt as _;
        let router = self.router();
        let replay = (!self.config.captures.is_empty()).then(|| replay::spawn(Arc::clone(self)));
        // Frames go out as they happen, as Binance's do: with Nagle's algorithm on, a frame
        // written right after another waits for the client's delayed acknowledgement (40 ms
        // or more), which made a list's later events lag its first by that much.
        let listener = listener.tap_io(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "fake Binance: TCP_NODELAY not set on a connection");
            }
        });
        tokio::spawn(async move {
            let _replay = replay.map(AbortOnDrop);
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "fake Binance stopped");
            }
        })
    }

    /// Starts on a free loopback port: `(fake, "http://127.0.0.1:PORT", server task)`.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start(
        config: FakeConfig,
    ) -> std::io::Result<(Arc<Self>, String, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let fake = Self::new(config);
        let task = fake.serve(listener);
        Ok((fake, base, task))
    }
}

#[derive(serde::Deserialize)]
struct QuoteBody {
    symbol: String,
    bid: Decimal,
    ask: Decimal,
}

async fn admin_quote(
    axum::extract::State(fake): axum::extract::State<Arc<Fake>>,
    axum::Json(q): axum::Json<QuoteBody>,
) -> Result<axum::Json<Value>, ApiError> {
    fake.set_quote(&q.symbol, q.bid, q.ask)?;
    Ok(axum::Json(json!({})))
}

async fn admin_faults(
    axum::extract::State(fake): axum::extract::State<Arc<Fake>>,
    axum::Json(f): axum::Json<faults::Faults>,
) -> axum::Json<Value> {
    fake.set_faults(f);
    axum::Json(json!({}))
}

async fn admin_account(
    axum::extract::State(fake): axum::extract::State<Arc<Fake>>,
    axum::extract::Path(n): axum::extract::Path<usize>,
) -> axum::Json<Value> {
    let ex = fake.exchange();
    axum::Json(
        ex.books(n)
            .map_or(Value::Null, |b| serde_json::to_value(b).unwrap_or_default()),
    )
}

/// Stops a task when dropped (the replay ends with the server).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
