//! Resting limit orders meeting the market. On bars, quotes and trades without a book an
//! order fills, whole, when the market trades strictly through its price. On an L2 book it
//! follows [`crate::QueueModel`]: with the queue model, trades at its price first eat the
//! volume that was ahead of it, and only what trades beyond that fills it (possibly in
//! parts); a trade through its price, or the other side of the book reaching it, fills the
//! rest. Fills are maker fills at the order's price.

use super::SimExchange;
use crate::config::QueueModel;
use chimera_kernel::event::{Liquidity, MarketEvent};
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};

/// What an event does to one resting order.
enum Touch {
    /// Nothing.
    None,
    /// Fill everything left.
    All,
    /// Fill up to this much.
    Part(Quantity),
}

impl SimExchange {
    pub(super) fn match_resting(&mut self, event: &MarketEvent) {
        let symbol = event.symbol();
        if !self.resting.any_live() {
            return;
        }
        let Some(market) = self.markets.get(symbol) else {
            return;
        };
        let model = self.config.queue;
        // Volume of this trade still available to our orders at its price, in time priority.
        let mut trade_left = match event {
            MarketEvent::Trade(t) => Some(t.qty),
            _ => None,
        };
        let mut touched: Vec<(u64, Price, Touch)> = Vec::new();
        for (&id, working) in self.resting.live_mut() {
            if working.rested_at >= self.event_seq
                || working.armed.is_some()
                || working.order.intent.symbol != *symbol
            {
                continue;
            }
            let side = working.order.intent.side;
            let Some(price) = working.order.intent.kind.triggered().limit_price() else {
                continue;
            };
            let touch = match working.queue_ahead.as_mut() {
                None => {
                    if market.trades_through(event, side, price) {
                        Touch::All
                    } else {
                        Touch::None
                    }
                }
                Some(ahead) => {
                    let crossed = match side {
                        Side::Buy => market.ask.is_some_and(|a| a <= price),
                        Side::Sell => market.bid.is_some_and(|b| b >= price),
                    };
                    match event {
                        MarketEvent::Trade(t) => {
                            let through = match side {
                                Side::Buy => t.price < price,
                                Side::Sell => t.price > price,
                            };
                            let hits_us = t.aggressor != Some(side);
                            if through && hits_us {
                                Touch::All
                            } else if t.price == price && hits_us {
                                match model {
                                    QueueModel::Touch => Touch::All,
                                    QueueModel::Queue => {
                                        let left = trade_left.unwrap_or(Quantity::ZERO);
                                        let beyond = left.checked_sub(*ahead);
                                        *ahead = ahead.checked_sub(left).unwrap_or(Quantity::ZERO);
                                        match beyond {
                                            Some(q) if !q.is_zero() => Touch::Part(q),
                                            _ => Touch::None,
                                        }
                                    }
                                }
                            } else {
                                Touch::None
                            }
                        }
                        MarketEvent::Bar(_) => {
                            if market.trades_through(event, side, price) {
                                Touch::All
                            } else {
                                Touch::None
                            }
                        }
                        _ if crossed => Touch::All,
                        MarketEvent::BookDelta(_) | MarketEvent::BookSnapshot(_) => {
                            if market.book.is_synced() {
                                *ahead = (*ahead).min(market.book.level_qty(side, price));
                            }
                            Touch::None
                        }
                        _ => Touch::None,
                    }
                }
            };
            if let Touch::Part(q) = &touch {
                if let Some(left) = trade_left.as_mut() {
                    let used = (*q).min(working.order.remaining());
                    *left = left.checked_sub(used).unwrap_or(Quantity::ZERO);
                }
            }
            if !matches!(touch, Touch::None) {
                touched.push((id, price, touch));
            }
        }
        let at = self.clock(symbol, Timestamp(0));
        for (id, price, touch) in touched {
            let Some(working) = self.resting.remove(id) else {
                continue;
            };
            let available = match touch {
                Touch::Part(q) => Some(q),
                _ => None,
            };
            let super::Working {
                order, rested_at, ..
            } = working;
            let client_order_id = order.intent.client_order_id.clone();
            let rest = self.execute_partial(
                order,
                &[(price, available)],
                Liquidity::Maker,
                at,
                available.is_none(),
            );
            match rest {
                // Partly filled from the queue: keeps its place, nothing left ahead of it.
                Some(order) => {
                    self.resting.insert(
                        id,
                        super::Working {
                            order,
                            rested_at,
                            armed: None,
                            queue_ahead: Some(Quantity::ZERO),
                        },
                    );
                }
                None => {
                    self.resting_index.remove(&client_order_id);
                }
            }
        }
    }
}
