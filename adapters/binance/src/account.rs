//! [`VenueAccount`] for [`BinanceVenue`]: open orders, positions and balances as Binance sees
//! them, for reconciliation and start-up checks. An account shared by several portfolios
//! attributes an open order by the client order id the connector placed it under; orders it
//! did not place go to the account's first portfolio.

use crate::codec::rest::{FuturesBalance, OrderBody, PositionRisk, SpotAccount};
use crate::config::Product;
use crate::connector::BinanceVenue;
use crate::paths;
use crate::rest::{Auth, Method};
use crate::sign::Params;
use async_trait::async_trait;
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol, VenueOrderId};
use chimera_kernel::instrument::MarketKind;
use chimera_kernel::order::{Order, OrderIntent, OrderKind, OrderStatus, Side, TimeInForce};
use chimera_kernel::portfolio::Position;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Money, Price, Quantity, SignedQty};
use chimera_ports::{PortError, PortResult, VenueAccount};
use rust_decimal::Decimal;

impl BinanceVenue {
    fn account_for(
        &self,
        portfolio: &PortfolioId,
    ) -> PortResult<std::sync::Arc<crate::venue::Account>> {
        self.inner.account_of(portfolio).cloned().ok_or_else(|| {
            PortError::NotFound(format!("no Binance account for portfolio `{portfolio}`"))
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        portfolio: &PortfolioId,
        path: &str,
        weight: (u64, u64),
    ) -> PortResult<T> {
        let account = self.account_for(portfolio)?;
        self.inner
            .rest
            .call(
                Method::Get,
                path,
                Params::new(),
                Auth::Signed(&account.creds),
                paths::cost(self.inner.product, weight.0, weight.1),
            )
            .await
            .map_err(Into::into)
    }
}

impl BinanceVenue {
    /// Whether a spot holding of `i`'s base asset is reported as a position in `i`: a
    /// holding has no symbol, so it counts for the configured `symbols`, or, with none
    /// configured, for the USDT-quoted symbols.
    fn holds_as_position(&self, i: &chimera_kernel::instrument::Instrument) -> bool {
        if self.config.symbols.is_empty() {
            i.quote.as_str() == "USDT"
        } else {
            self.config.symbols.iter().any(|s| s == i.symbol.as_str())
        }
    }
}

fn order_from_body(body: &OrderBody, portfolio: &PortfolioId) -> Option<Order> {
    let side = match body.side.as_deref() {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        _ => return None,
    };
    let price = body.price.and_then(|p| Price::new(p).ok());
    let kind = match (body.order_type.as_deref(), price) {
        (Some("LIMIT_MAKER"), Some(price)) => OrderKind::Limit {
            price,
            post_only: true,
        },
        (Some("LIMIT"), Some(price)) => OrderKind::Limit {
            price,
            post_only: false,
        },
        _ => OrderKind::Market,
    };
    let intent_id = IntentId::new(&body.client_order_id);
    let mut order = Order::new(OrderIntent {
        intent_id,
        client_order_id: ClientOrderId::new(&body.client_order_id),
        portfolio_id: portfolio.clone(),
        symbol: Symbol::new(&body.symbol),
        side,
        qty: Quantity::new(body.orig_qty.unwrap_or_default()).ok()?,
        kind,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(body.time.unwrap_or_default()),
        tag: "".into(),
    });
    order.status = OrderStatus::Accepted;
    order.venue_order_id = Some(VenueOrderId::new(body.order_id.to_string()));
    order.filled_qty =
        Quantity::new(body.executed_qty.unwrap_or_default()).unwrap_or(Quantity::ZERO);
    Some(order)
}

#[async_trait]
impl VenueAccount for BinanceVenue {
    async fn open_orders(&self, portfolio: &PortfolioId) -> PortResult<Vec<Order>> {
        let account = self.account_for(portfolio)?;
        let first = account.portfolios.first().cloned();
        let bodies: Vec<OrderBody> = self
            .get(portfolio, self.inner.paths.open_orders, (80, 40))
            .await?;
        let tracker = self.inner.lock_tracker();
        Ok(bodies
            .iter()
            .filter_map(|b| {
                let id = ClientOrderId::new(&b.client_order_id);
                match tracker.get(&id) {
                    Some(t) if t.intent.portfolio_id == *portfolio => {
                        let mut o = Order::new(t.intent.clone());
                        o.status = OrderStatus::Accepted;
                        o.venue_order_id = Some(VenueOrderId::new(b.order_id.to_string()));
                        o.filled_qty = Quantity::new(t.filled).unwrap_or(Quantity::ZERO);
                        Some(o)
                    }
                    None if first.as_ref() == Some(portfolio) => order_from_body(b, portfolio),
                    Some(_) | None => None,
                }
            })
            .collect())
    }

    async fn positions(&self, portfolio: &PortfolioId) -> PortResult<Vec<Position>> {
        match self.inner.product {
            Product::Usdm => {
                let risks: Vec<PositionRisk> = self
                    .get(portfolio, paths::USDM_POSITION_RISK, (5, 5))
                    .await?;
                Ok(risks
                    .iter()
                    .filter(|r| !r.position_amt.is_zero())
                    .map(|r| {
                        let mut p = Position::flat(
                            Symbol::new(&r.symbol),
                            MarketKind::Perp,
                            Decimal::ONE,
                            r.leverage.unwrap_or(Decimal::ONE),
                        );
                        p.qty = SignedQty::new(r.position_amt);
                        p.cost_basis = Amount::new(r.entry_price * r.position_amt.abs());
                        p.mark = r.mark_price.and_then(|m| Price::new(m).ok());
                        p
                    })
                    .collect())
            }
            Product::Spot => {
                let account: SpotAccount =
                    self.get(portfolio, paths::SPOT_ACCOUNT, (20, 20)).await?;
                let instruments = self.instruments();
                Ok(instruments
                    .iter()
                    .filter_map(|i| {
                        let held = account
                            .balances
                            .iter()
                            .find(|b| b.asset == i.base.as_str())
                            .map(|b| b.free + b.locked)?;
                        if held.is_zero() || !self.holds_as_position(i) {
                            return None;
                        }
                        let mut p = Position::flat(
                            i.symbol.clone(),
                            MarketKind::Spot,
                            Decimal::ONE,
                            Decimal::ONE,
                        );
                        p.qty = SignedQty::new(held);
                        Some(p)
                    })
                    .collect())
            }
        }
    }

    async fn balances(&self, portfolio: &PortfolioId) -> PortResult<Vec<Money>> {
        match self.inner.product {
            Product::Usdm => {
                let balances: Vec<FuturesBalance> =
                    self.get(portfolio, paths::USDM_BALANCE, (5, 5)).await?;
                Ok(balances
                    .into_iter()
                    .map(|b| Money::new(b.balance, Asset::new(&b.asset)))
                    .collect())
            }
            Product::Spot => {
                let account: SpotAccount =
                    self.get(portfolio, paths::SPOT_ACCOUNT, (20, 20)).await?;
                Ok(account
                    .balances
                    .into_iter()
                    .filter(|b| !(b.free + b.locked).is_zero())
                    .map(|b| Money::new(b.free + b.locked, Asset::new(&b.asset)))
                    .collect())
            }
        }
    }
}
