//! What the engine knows of each symbol's market, for its execution algorithms: the best bid
//! and ask (from quotes, or from an L2 book it keeps when an algorithm may need it) and the
//! last price. Bars give a last price only (their mid is that close).

use crate::event::{MarketEvent, OrderBook};
use crate::execution::Top;
use crate::ids::Symbol;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
struct SymbolView {
    book: OrderBook,
    top: Top,
}

/// Per-symbol top of book.
#[derive(Debug, Default)]
pub(super) struct MarketView {
    symbols: BTreeMap<Symbol, SymbolView>,
    /// Whether to keep an L2 book from snapshots and deltas.
    keep_book: bool,
}

impl MarketView {
    pub(super) fn keep_book(&mut self, keep: bool) {
        self.keep_book = keep;
    }

    pub(super) fn update(&mut self, event: &MarketEvent) {
        let keep_book = self.keep_book;
        let is_book = matches!(
            event,
            MarketEvent::BookSnapshot(_) | MarketEvent::BookDelta(_)
        );
        if is_book && !keep_book {
            return;
        }
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
