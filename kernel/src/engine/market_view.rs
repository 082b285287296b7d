//! What the engine knows of each symbol's market, for its execution algorithms: the best bid
//! and ask (from quotes, or from the L2 book it keeps from snapshots and deltas) and the
//! last price. Bars give a last price only (their mid is that close).

use crate::event::{MarketEvent, OrderBook};
use crate::execution::Top;
use crate::ids::Symbol;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
struct SymbolView {
    book: OrderBook,
    top: Top,
}

/// Per-symbol top of book. The L2 book is kept whenever the data has one, so an algorithm
/// started by any order (an engine default or one order's own) finds a synchronised top.
#[derive(Debug, Clone, Default)]
pub(super) struct MarketView {
    symbols: BTreeMap<Symbol, SymbolView>,
}

impl MarketView {
    pub(super) fn update(&mut self, event: &MarketEvent) {
        let view = match self.symbols.get_mut(event.symbol()) {
            Some(view) => view,
            None => self.symbols.entry(event.symbol().clone()).or_default(),
        };
        match event {
            MarketEvent::Quote(q) => {
                if view.book.is_synced() {
                    // Newer than the book: it moves the book's top; older: the book knows better.
                    if view.book.apply_best(q) {
                        refresh(view);
                    }
                } else {
                    view.top.bid = Some(q.bid);
                    view.top.ask = Some(q.ask);
                }
            }
            MarketEvent::Trade(t) => view.top.last = Some(t.price),
            MarketEvent::Bar(b) => {
                view.top.last = Some(b.close);
                view.top.bid = None;
                view.top.ask = None;
            }
            MarketEvent::BookSnapshot(s) => {
                let _ = view.book.apply_snapshot(s);
                refresh(view);
            }
            MarketEvent::BookDelta(d) => {
                let _ = view.book.apply_delta(d);
                refresh(view);
            }
            MarketEvent::Funding(_) | MarketEvent::MarkPrice(_) => {}
        }
    }

    pub(super) fn top(&self, symbol: &Symbol) -> Top {
        self.symbols.get(symbol).map(|v| v.top).unwrap_or_default()
    }
}

fn refresh(view: &mut SymbolView) {
    if view.book.is_synced() {
        view.top.bid = view.book.best_bid().map(|l| l.price);
        view.top.ask = view.book.best_ask().map(|l| l.price);
    }
}
