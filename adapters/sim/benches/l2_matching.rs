//! Replay + local L2 book + matching on Binance's raw captures:
//! `CHIMERA_REFERENCE_DATA=../shared/data cargo bench -p chimera-sim --bench l2_matching`.
//!
//! For each capture it prints, in messages per second on one core:
//! - `decode`: the capture reader alone (gunzip + JSON + decimals), all messages in memory;
//! - `book`: the floor, the kernel's `OrderBook` applying the snapshot and diffs alone;
//! - `venue idle`: the simulated venue fed every message with no orders on it (book, clocks,
//!   marks): the venue's own cost over the floor;
//! - `venue`: the same while a quoting agent works orders on it (see [`Agent`]): resting
//!   quotes by queue position, market orders walking the book, stops waiting for triggers;
//! - `end to end`: decode and venue together, streaming from the file.
//!
//! It also prints what the agent's resting orders got under the queue-position model and under
//! fill-on-touch, the comparison the simulated venue's documentation refers to.
//! Skips with a message when `CHIMERA_REFERENCE_DATA` is unset.

use chimera_kernel::event::{MarketEvent, OrderBook};
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce, TriggerSource};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Price, Quantity};
use chimera_kernel::Decimal;
use chimera_replay::open_market_data;
use chimera_sim::{QueueModel, SimConfig, SimExchange};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUNS: usize = 5;
const FILES: [(&str, MarketKind); 3] = [
    ("binance/spot/btcusdt_20240808.gz", MarketKind::Spot),
    ("binance/usdm/btcusdt_20240808.gz", MarketKind::Perp),
    ("binance/usdm/ethusdt_20240808.gz", MarketKind::Perp),
];

fn read_all(path: &Path, symbol: &Symbol) -> Vec<MarketEvent> {
    open_market_data(path, None, symbol)
        .expect("capture opens")
        .filter_map(Result::ok)
        .collect()
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut fastest = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        fastest = fastest.min(start.elapsed());
        last = Some(out);
    }
    (fastest, last.expect("at least one run"))
}

/// A quoting agent: every `QUOTE_EVERY` messages it joins the best bid and best ask with
/// post-only orders, cancels what it quoted `QUOTE_EVERY` messages before, crosses the spread
/// with a small market order every `TAKE_EVERY` messages and keeps a stop below the market.
struct Agent {
    portfolio: PortfolioId,
    symbol: Symbol,
    next: u64,
    quoted: Vec<ClientOrderId>,
    orders: u64,
    fills: u64,
    maker_qty: Decimal,
}

const QUOTE_EVERY: usize = 200;
const TAKE_EVERY: usize = 2_000;

impl Agent {
    fn intent(&mut self, side: Side, kind: OrderKind, now: Timestamp) -> OrderIntent {
        self.next += 1;
        self.orders += 1;
        let intent_id = IntentId::for_portfolio(&self.portfolio, self.next);
        OrderIntent {
            client_order_id: ClientOrderId::for_intent(&intent_id),
            intent_id,
            portfolio_id: self.portfolio.clone(),
            symbol: self.symbol.clone(),
            side,
            qty: Quantity::new(Decimal::new(1, 2)).expect("positive"),
            kind,
            time_in_force: TimeInForce::Gtc,
            reduce_only: false,
            close_position: false,
            created_at: now,
            tag: "bench".into(),
        }
    }

    fn act(&mut self, x: &mut SimExchange, n: usize, now: Timestamp) {
        if n.is_multiple_of(QUOTE_EVERY) {
            for id in std::mem::take(&mut self.quoted) {
                x.cancel(
                    &chimera_kernel::order::CancelRequest {
                        portfolio_id: self.portfolio.clone(),
                        client_order_id: id,
                        symbol: self.symbol.clone(),
                        created_at: now,
                    },
                    now,
                );
            }
            let (bid, ask) = x.top_of_book(&self.symbol);
            for (side, price) in [(Side::Buy, bid), (Side::Sell, ask)] {
                let Some(price) = price else { continue };
                let intent = self.intent(
                    side,
                    OrderKind::Limit {
                        price,
                        post_only: true,
                    },
                    now,
                );
                self.quoted.push(intent.client_order_id.clone());
                x.submit(intent, now);
            }
        }
        if n.is_multiple_of(TAKE_EVERY) {
            let side = if (n / TAKE_EVERY).is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            };
            let intent = self.intent(side, OrderKind::Market, now);
            x.submit(intent, now);
            if let (Some(bid), _) = x.top_of_book(&self.symbol) {
                let stop = Price::new((bid.get() * Decimal::new(99, 2)).round_dp(1)).ok();
                if let Some(stop_price) = stop {
                    let kind = OrderKind::StopMarket {
                        stop_price,
                        trigger: TriggerSource::Last,
                    };
                    let intent = self.intent(Side::Sell, kind, now);
                    x.submit(intent, now);
                }
            }
        }
        while let Some(report) = x.pop_report() {
            if let Some(fill) = report.fill() {
                self.fills += 1;
                if fill.liquidity == chimera_kernel::event::Liquidity::Maker {
                    self.maker_qty += fill.qty.get();
                }
            }
        }
    }
}

fn venue(kind: MarketKind, symbol: &Symbol, queue: QueueModel) -> (SimExchange, Agent) {
    let mut x = SimExchange::new(SimConfig {
        queue,
        ..SimConfig::default()
    });
    let quote = "USDT";
    let mut instrument = Instrument::linear(symbol.as_str(), quote, kind).expect("symbol");
    instrument.tick_size = Price::new(Decimal::new(1, 2)).expect("tick");
    x.add_instrument(instrument);
    let portfolio = PortfolioId::new("bench");
    x.deposit(
        &portfolio,
        Asset::new(quote),
        Amount::new(Decimal::from(10_000_000)),
    );
    x.deposit(
        &portfolio,
        Asset::new(symbol.as_str().trim_end_matches(quote)),
        Amount::new(Decimal::from(1_000)),
    );
    let agent = Agent {
        portfolio,
        symbol: symbol.clone(),
        next: 0,
        quoted: Vec::new(),
        orders: 0,
        fills: 0,
        maker_qty: Decimal::ZERO,
    };
    (x, agent)
}

fn run_venue<'a>(
    events: impl Iterator<Item = &'a MarketEvent>,
    kind: MarketKind,
    symbol: &Symbol,
    queue: QueueModel,
) -> (usize, Agent) {
    let (mut x, mut agent) = venue(kind, symbol, queue);
    let mut n = 0;
    for event in events {
        n += 1;
        x.on_market(event);
        agent.act(&mut x, n, event.ts());
    }
    (n, agent)
}

fn main() {
    let Some(data) = std::env::var_os("CHIMERA_REFERENCE_DATA").map(PathBuf::from) else {
        println!("skipped: set CHIMERA_REFERENCE_DATA to the reference data folder");
        return;
    };
    println!(
        "{:<34} {:>8} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "capture", "msgs", "decode/s", "book/s", "venue idle/s", "venue/s", "end-to-end/s"
    );
    let mut comparisons = Vec::new();
    for (file, kind) in FILES {
        let path = data.join(file);
        if !path.exists() {
            println!("{file}: missing, skipped");
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let symbol = Symbol::new(name.split('_').next().unwrap_or("").to_ascii_uppercase());
        let (decode, events) = best(RUNS, || read_all(&path, &symbol));
        let (book, _) = best(RUNS, || {
            let mut book = OrderBook::new();
            for event in &events {
                match event {
                    MarketEvent::BookSnapshot(s) => {
                        let _ = book.apply_snapshot(s);
                    }
                    MarketEvent::BookDelta(d) => {
                        let _ = book.apply_delta(d);
                    }
                    _ => {}
                }
            }
            book.best_bid()
        });
        let (idle, _) = best(RUNS, || {
            let (mut x, _) = venue(kind, &symbol, QueueModel::Queue);
            for event in &events {
                x.on_market(event);
            }
            x.now()
        });
        let (sim, (n, queue_agent)) = best(RUNS, || {
            run_venue(events.iter(), kind, &symbol, QueueModel::Queue)
        });
        let (_, (_, touch_agent)) = best(1, || {
            run_venue(events.iter(), kind, &symbol, QueueModel::Touch)
        });
        let (end_to_end, _) = best(RUNS, || {
            let reader = open_market_data(&path, None, &symbol).expect("opens");
            let (mut x, mut agent) = venue(kind, &symbol, QueueModel::Queue);
            let mut n = 0;
            for event in reader.filter_map(Result::ok) {
                n += 1;
                x.on_market(&event);
                agent.act(&mut x, n, event.ts());
            }
            n
        });
        println!(
            "{:<34} {:>8} {:>12.0} {:>12.0} {:>12.0} {:>12.0} {:>12.0}",
            file,
            n,
            rate(n, decode),
            rate(n, book),
            rate(n, idle),
            rate(n, sim),
            rate(n, end_to_end)
        );
        comparisons.push((file, queue_agent, touch_agent));
    }
    println!();
    println!(
        "{:<34} {:>7} {:>12} {:>12} {:>12} {:>12}",
        "agent (same orders)", "orders", "fills queue", "fills touch", "maker queue", "maker touch"
    );
    for (file, queue, touch) in comparisons {
        println!(
            "{:<34} {:>7} {:>12} {:>12} {:>12} {:>12}",
            file, queue.orders, queue.fills, touch.fills, queue.maker_qty, touch.maker_qty
        );
    }
}
