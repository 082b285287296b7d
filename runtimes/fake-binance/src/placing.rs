//! Placing orders on the fake: an order's record and its trip through the matching core, for
//! single orders ([`Exchange::place`]) and order lists ([`crate::order_lists`]).

use crate::config::FakeProduct;
use crate::records::{AccountTrade, Record};
use crate::state::{now_ms, portfolio, sim_cid, Exchange, NewOrder};
use crate::wire::ApiError;
use chimera_kernel::ids::{IntentId, Symbol};
use chimera_kernel::order::OrderIntent;
use chimera_kernel::time::Timestamp;
use chimera_sim::SimExchange;
use rust_decimal::Decimal;

impl Exchange {
    /// Records a new order of `account` with `status` (`NEW`, or `PENDING_NEW` for the
    /// pending orders of a list) and returns its id and the matching core's intent for it.
    ///
    /// # Errors
    /// `-1121` unknown symbol; a duplicate client id among open orders.
    pub(crate) fn register(
        &mut self,
        account: usize,
        order: &NewOrder<'_>,
        status: &'static str,
    ) -> Result<(i64, OrderIntent), ApiError> {
        let NewOrder {
            symbol,
            side,
            qty,
            kind,
            tif,
            reduce_only,
            close_position,
            cid,
            type_name,
            algo,
        } = *order;
        if !self.instruments.contains_key(symbol) {
            return Err(ApiError::new(400, -1121, "Invalid symbol."));
        }
        self.next_order_id += 1;
        let order_id = self.next_order_id;
        let cid = cid.map_or_else(|| format!("fake{order_id}"), str::to_owned);
        if self.open_by_cid(account, &cid).is_some() {
            return Err(match self.product {
                FakeProduct::Spot => ApiError::new(400, -2010, "Duplicate order sent."),
                FakeProduct::Usdm => ApiError::new(400, -4116, "ClientOrderId is duplicated."),
            });
        }
        let now = now_ms();
        let sim_cid = sim_cid(account, order_id);
        let record = Record {
            account,
            cid: cid.clone(),
            order_id,
            symbol: symbol.to_owned(),
            side,
            type_name: type_name.to_owned(),
            tif,
            price: kind
                .limit_price()
                .map_or(Decimal::ZERO, chimera_kernel::value::Price::get),
            stop_price: kind
                .stop_price()
                .map_or(Decimal::ZERO, chimera_kernel::value::Price::get),
            orig_qty: qty.get(),
            executed: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            status,
            time: now,
            update_time: now,
            algo,
            reduce_only,
        };
        self.records.insert(order_id, record);
        self.by_sim.insert(sim_cid.clone(), order_id);
        let intent = OrderIntent {
            intent_id: IntentId::new(sim_cid.as_str()),
            client_order_id: sim_cid,
            portfolio_id: portfolio(account),
            symbol: Symbol::new(symbol),
            side,
            qty,
            kind,
            time_in_force: tif,
            reduce_only,
            close_position,
            created_at: Timestamp(now),
            tag: "".into(),
        };
        Ok((order_id, intent))
    }

    /// Hands `orders` (just registered) to the matching core through `send`; a refusal on
    /// arrival undoes them all and is the answer. Returns their trades.
    ///
    /// # Errors
    /// Binance's refusal of the first refused order.
    pub(crate) fn arrive(
        &mut self,
        account: usize,
        orders: &[(i64, String)],
        send: impl FnOnce(&mut SimExchange),
    ) -> Result<Vec<AccountTrade>, ApiError> {
        self.arriving = orders.iter().map(|(id, _)| *id).collect();
        send(&mut self.sim);
        let trades_before = self.trades.len();
        let refusal = self
            .drain()
            .into_iter()
            .find_map(|(id, refused)| refused.filter(|_| self.arriving.contains(&id)));
        self.arriving.clear();
        if let Some(error) = refusal {
            for (id, _) in orders {
                self.records.remove(id);
            }
            return Err(error);
        }
        for (id, cid) in orders {
            self.by_cid.insert((account, cid.clone()), *id);
        }
        Ok(self.trades[trades_before..]
            .iter()
            .filter(|t| orders.iter().any(|(id, _)| *id == t.order_id))
            .cloned()
            .collect())
    }

    /// Places `account`'s order: its record and the matching core's answer.
    ///
    /// # Errors
    /// Binance's refusal (filters, balance, duplicate client id, unknown symbol).
    pub fn place(
        &mut self,
        account: usize,
        order: &NewOrder<'_>,
    ) -> Result<(Record, Vec<AccountTrade>), ApiError> {
        let (order_id, intent) = self.register(account, order, "NEW")?;
        let cid = self.current(order_id)?.cid;
        let now = intent.created_at;
        let trades = self.arrive(account, &[(order_id, cid)], |sim| sim.submit(intent, now))?;
        Ok((self.current(order_id)?, trades))
    }
}
