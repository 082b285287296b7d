//! The graded kill switch end to end: a node and the gateway (real code, in-memory transport and
//! state store, SQLite records) running a perpetual and a spot portfolio that buy on every bar.
//! Each mode and scope is engaged the way `chimera ctl kill` and the API do (stored, then
//! announced) and checked in the records: entries stop where the scope says and only there,
//! flatten closes both positions, the gateway refuses an entry sent past the node, a switch's
//! TTL lapses by itself, and an unreadable state fails closed. Prints the time from engaging
//! to the last order accepted.
#![allow(clippy::unwrap_used, reason = "tests")]

mod cluster;

use chimera_kernel::engine::{Command, FLATTEN_TAG};
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{Order, OrderIntent, OrderKind, OrderStatus, Side, TimeInForce};
use chimera_kernel::risk::KillMode;
use chimera_kernel::testing::bar;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Quantity;
use chimera_kernel::Decimal;
use chimera_live::kill_switch::{announce, KillSwitches};
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_live::runtime::wall_clock;
use chimera_messages::{KillScope, KillSwitch, MessageType, Topic, KILL_SWITCH_KEY};
use chimera_ports::{FillRepository, OrderRepository};
use cluster::{market, wait_for, Cluster};
use std::time::{Duration, Instant};

const BARS: i64 = 400;

/// A portfolio buying 0.01 of `symbol` at every bar, on a perpetual or on spot.
fn buyer(id: &str, symbol: &str, kind: &str) -> PortfolioSpec {
    let orders: Vec<String> = market(0, BARS)
        .iter()
        .map(|e| format!("{}:buy:0.01", e.ts()))
        .collect();
    let spec: PortfolioSpec = toml::from_str(&format!(
        "id = \"{id}\"\nstrategy = \"scripted\"\ninstruments = []\n\
         [params]\norders = \"{}\"\nsymbol = \"{symbol}\"\n[balances]\nUSDT = \"1000000\"\n",
        orders.join(",")
    ))
    .unwrap();
    let mut instrument = InstrumentSpec::perp_with_defaults(symbol, "5");
    if kind == "spot" {
        instrument.kind = "spot".into();
        instrument.leverage = "1".into();
    }
    PortfolioSpec {
        instruments: vec![instrument],
        ..spec
    }
}

/// Every order of `portfolio` the gateway recorded, in the node's sequence.
async fn orders(c: &Cluster, portfolio: &str) -> Vec<Order> {
    let id = PortfolioId::new(portfolio);
    let mut out = Vec::new();
    loop {
        let intent = IntentId::for_portfolio(&id, out.len() as u64);
        match c
            .store
            .get_order(&ClientOrderId::for_intent(&intent))
            .await
            .unwrap()
        {
            Some(order) => out.push(order),
            None => return out,
        }
    }
}

/// The position from the recorded fills.
async fn position(c: &Cluster, portfolio: &str) -> Decimal {
    c.store
        .fills(&PortfolioId::new(portfolio))
        .await
        .unwrap()
        .iter()
        .map(|f| f.fill.qty.get() * f.side.sign())
        .sum()
}

struct Feed {
    next: i64,
    /// When each bar was published.
    sent: Vec<(i64, Instant)>,
}

impl Feed {
    /// Publishes `n` bars `gap` apart; waits until the gateway recorded every buy the two
    /// portfolios sent for them (or nothing more came for half a second).
    async fn bars(&mut self, c: &Cluster, n: i64, gap: Duration) {
        let rt = c.runtime("feed");
        for _ in 0..n {
            let btc = market(self.next, self.next + 1).remove(0);
            let eth = bar("ETHUSDT", btc.ts().0 / 60_000, Decimal::from(2_000));
            for event in [btc, eth] {
                rt.publish(
                    Topic::MarketData,
                    MessageType::MarketEvent,
                    format!("bar:{}:{}", event.symbol(), self.next),
                    event.symbol().as_str(),
                    &event,
                )
                .await
                .unwrap();
            }
            self.sent.push((self.next, Instant::now()));
            self.next += 1;
            tokio::time::sleep(gap).await;
        }
        let mut last = (0, 0);
        let mut same_since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = (
                orders(c, "kperp").await.len(),
                orders(c, "kspot").await.len(),
            );
            if now != last {
                last = now;
                same_since = Instant::now();
            } else if same_since.elapsed() > Duration::from_millis(500) {
                return;
            }
        }
    }

    /// When the bar of event time `ts` was published.
    fn published(&self, ts: Timestamp) -> Option<Instant> {
        let first = market(0, 1)[0].ts().0;
        let index = (ts.0 - first) / 60_000;
        self.sent
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, at)| *at)
    }
}

fn buys(orders: &[Order]) -> usize {
    orders
        .iter()
        .filter(|o| o.intent.side == Side::Buy && o.status != OrderStatus::Rejected)
        .count()
}

async fn engage(
    c: &Cluster,
    id: &str,
    mode: KillMode,
    scope: KillScope,
    ttl_ms: Option<i64>,
) -> Instant {
    let now = wall_clock().0;
    let switch = KillSwitch {
        id: id.into(),
        mode,
        scope,
        reason: "test".into(),
        engaged_by: "test".into(),
        engaged_at: now,
        expires_at: ttl_ms.map(|t| now + t),
    };
    let at = Instant::now();
    let (board, changed) = KillSwitches::new(c.state.clone())
        .engage(switch)
        .await
        .unwrap();
    assert!(changed);
    announce(&c.runtime("ctl"), board.version, format!("{id} engaged")).await;
    at
}

async fn release(c: &Cluster, id: &str) {
    let (board, released) = KillSwitches::new(c.state.clone())
        .release(id)
        .await
        .unwrap();
    assert!(released.is_some());
    announce(&c.runtime("ctl"), board.version, format!("{id} released")).await;
}

/// Buys accepted per portfolio while `feed` publishes `n` more bars.
async fn buys_during(c: &Cluster, feed: &mut Feed, n: i64) -> (usize, usize) {
    let before = (
        buys(&orders(c, "kperp").await),
        buys(&orders(c, "kspot").await),
    );
    feed.bars(c, n, Duration::from_millis(10)).await;
    (
        buys(&orders(c, "kperp").await) - before.0,
        buys(&orders(c, "kspot").await) - before.1,
    )
}

/// An entry for `kperp` sent straight to the gateway, past the node.
/// Stamped `at` in event time: the simulated venue waits for market data up to an order's time.
async fn entry_past_the_node(c: &Cluster, n: u64, at: Timestamp) -> ClientOrderId {
    let intent_id = IntentId::new(format!("manual-{n}"));
    let intent = OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: PortfolioId::new("kperp"),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: Quantity::new(Decimal::new(1, 2)).unwrap(),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: at,
        tag: "manual".into(),
    };
    let coid = intent.client_order_id.clone();
    c.runtime("rogue")
        .publish(
            Topic::OrdersSubmission,
            MessageType::OrderCommand,
            format!("manual-{n}"),
            "kperp",
            &Command::Submit(intent),
        )
        .await
        .unwrap();
    coid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_mode_and_scope_stops_what_it_covers_and_flatten_closes_perp_and_spot() {
    let c = Cluster::new("kill").await;
    // Different symbols: one simulated venue holds one instrument per symbol.
    c.register(
        "n1",
        &[
            buyer("kperp", "BTCUSDT", "perp"),
            buyer("kspot", "ETHUSDT", "spot"),
        ],
    )
    .await;
    let node = c.start_node("n1");
    let gateway = c.start_gateway();
    let mut feed = Feed {
        next: 0,
        sent: Vec::new(),
    };
    feed.bars(&c, 10, Duration::from_millis(10)).await;
    assert!(
        buys(&orders(&c, "kperp").await) >= 8,
        "trading before any switch"
    );

    // halt_entries on one portfolio: it stops within the poll period, the other goes on.
    let engaged = engage(
        &c,
        "k1",
        KillMode::HaltEntries,
        KillScope::Portfolio {
            portfolio_id: "kperp".into(),
        },
        None,
    )
    .await;
    let first_bar = feed.next;
    feed.bars(&c, 50, Duration::from_millis(20)).await;
    let perp = orders(&c, "kperp").await;
    let last_accepted = perp
        .iter()
        .filter(|o| o.intent.side == Side::Buy && o.status != OrderStatus::Rejected)
        .map(|o| o.intent.created_at)
        .filter(|ts| feed.published(*ts).is_some_and(|at| at >= engaged))
        .max();
    let took = last_accepted
        .and_then(|ts| feed.published(ts))
        .map_or(Duration::ZERO, |at| at.duration_since(engaged));
    let after: Vec<&Order> = perp
        .iter()
        .filter(|o| {
            o.intent.side == Side::Buy
                && feed
                    .published(o.intent.created_at)
                    .is_some_and(|at| at >= engaged)
        })
        .collect();
    let by_gateway = after
        .iter()
        .filter(|o| o.status == OrderStatus::Rejected)
        .count();
    // The node refuses from the first bar after engaging that produced no order.
    let node_from = (first_bar..feed.next)
        .find(|i| {
            let ts = market(*i, *i + 1)[0].ts();
            !perp.iter().any(|o| o.intent.created_at == ts)
        })
        .and_then(|i| feed.sent.iter().find(|(j, _)| *j == i))
        .map(|(_, at)| at.duration_since(engaged));
    println!(
        "kill switch: last order through the gateway {} ms after engaging; the node sent {} more \
         (the gateway refused {by_gateway}) and refused itself from the bar {:?} after engaging \
         (bars every 20 ms, switches polled every 100 ms)",
        took.as_millis(),
        after.len(),
        node_from,
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(
        node_from.is_some_and(|d| d < Duration::from_secs(1)),
        "{node_from:?}"
    );
    let spot_after: usize = orders(&c, "kspot")
        .await
        .iter()
        .filter(|o| {
            feed.published(o.intent.created_at).is_some_and(|_| {
                o.intent.created_at.0 >= market(first_bar, first_bar + 1)[0].ts().0
            })
        })
        .count();
    assert!(
        spot_after >= 45,
        "the other portfolio kept trading: {spot_after}"
    );

    // The gateway refuses an entry sent past the node while the switch holds.
    let now = market(feed.next - 1, feed.next)[0].ts();
    let rogue = entry_past_the_node(&c, 1, now).await;
    wait_for(
        "the gateway rejects the rogue entry",
        Duration::from_secs(5),
        || async {
            c.store
                .get_order(&rogue)
                .await
                .unwrap()
                .is_some_and(|o| o.status == OrderStatus::Rejected)
        },
    )
    .await;
    release(&c, "k1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(buys_during(&c, &mut feed, 5).await, (5, 5), "released");

    // reduce_only on one symbol stops only the portfolio trading it; cancel_all everywhere
    // stops both.
    for (id, mode, scope, expected) in [
        (
            "k2",
            KillMode::ReduceOnly,
            KillScope::Symbol {
                symbol: Symbol::new("BTCUSDT"),
            },
            (0, 10),
        ),
        ("k3", KillMode::CancelAll, KillScope::Global, (0, 0)),
    ] {
        engage(&c, id, mode, scope, None).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(buys_during(&c, &mut feed, 10).await, expected, "{mode}");
        release(&c, id).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            buys_during(&c, &mut feed, 3).await,
            (3, 3),
            "{mode} released"
        );
    }

    // A switch with a TTL lapses by itself.
    engage(
        &c,
        "k4",
        KillMode::HaltEntries,
        KillScope::Global,
        Some(400),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        buys_during(&c, &mut feed, 3).await,
        (0, 0),
        "within the TTL"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(buys_during(&c, &mut feed, 3).await, (3, 3), "after the TTL");

    // Flatten closes the perpetual and the spot position, and keeps them closed.
    assert!(position(&c, "kperp").await > Decimal::ZERO);
    assert!(position(&c, "kspot").await > Decimal::ZERO);
    let engaged = engage(&c, "k5", KillMode::Flatten, KillScope::Global, None).await;
    let closes_sent = wait_for("both closes sent", Duration::from_secs(5), || async {
        let mut sent = 0;
        for p in ["kperp", "kspot"] {
            sent += usize::from(orders(&c, p).await.iter().any(|o| {
                o.intent.tag.as_str() == FLATTEN_TAG
                    && o.intent.side == Side::Sell
                    && o.intent.reduce_only
            }));
        }
        sent == 2
    })
    .await;
    // The closes are market orders: the simulated venue fills them on the next bar.
    feed.bars(&c, 2, Duration::from_millis(10)).await;
    wait_for("both flat", Duration::from_secs(10), || async {
        position(&c, "kperp").await.is_zero() && position(&c, "kspot").await.is_zero()
    })
    .await;
    println!(
        "flatten: both closes recorded by the gateway {} ms after engaging (polled every 25 ms)",
        (closes_sent.min(engaged.elapsed())).as_millis()
    );
    assert_eq!(buys_during(&c, &mut feed, 5).await, (0, 0), "held flat");
    assert!(position(&c, "kperp").await.is_zero() && position(&c, "kspot").await.is_zero());
    release(&c, "k5").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        buys_during(&c, &mut feed, 3).await,
        (3, 3),
        "flatten released"
    );

    // Unreadable switches fail closed, and readable ones open again.
    c.state
        .set(KILL_SWITCH_KEY, b"not a board", None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(buys_during(&c, &mut feed, 5).await, (0, 0), "fail closed");
    c.state.delete(KILL_SWITCH_KEY).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        buys_during(&c, &mut feed, 3).await,
        (3, 3),
        "readable again"
    );

    c.trigger.trigger();
    node.await.unwrap().unwrap();
    let figures = gateway.await.unwrap().unwrap();
    assert!(figures.killed >= 1, "the gateway refused the rogue entry");
}

/// A node started while a switch holds (or while the switches cannot be read) runs its
/// portfolios under it from their first input: nothing is bought until it is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn portfolios_start_under_the_switches_in_force() {
    for unreadable in [false, true] {
        let c = Cluster::new(if unreadable {
            "killstartc"
        } else {
            "killstart"
        })
        .await;
        c.register(
            "n1",
            &[
                buyer("kperp", "BTCUSDT", "perp"),
                buyer("kspot", "ETHUSDT", "spot"),
            ],
        )
        .await;
        if unreadable {
            c.state
                .set(KILL_SWITCH_KEY, b"[not a board", None)
                .await
                .unwrap();
        } else {
            engage(&c, "k0", KillMode::HaltEntries, KillScope::Global, None).await;
        }
        let node = c.start_node("n1");
        let gateway = c.start_gateway();
        let mut feed = Feed {
            next: 0,
            sent: Vec::new(),
        };
        feed.bars(&c, 10, Duration::from_millis(10)).await;
        assert_eq!(
            (
                buys(&orders(&c, "kperp").await),
                buys(&orders(&c, "kspot").await)
            ),
            (0, 0),
            "unreadable: {unreadable}"
        );
        if unreadable {
            c.state.delete(KILL_SWITCH_KEY).await.unwrap();
        } else {
            release(&c, "k0").await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            buys_during(&c, &mut feed, 3).await,
            (3, 3),
            "unreadable: {unreadable}"
        );
        c.trigger.trigger();
        node.await.unwrap().unwrap();
        gateway.await.unwrap().unwrap();
    }
}
