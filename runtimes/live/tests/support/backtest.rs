//! The in-process backtest a live run must match, and the checks that it did: positions,
//! fill counts and, when they differ, the fills priced unlike the backtest's.

use super::{specs, BARS, SYMBOLS, T0};
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::portfolio::Position;
use chimera_live::portfolio_spec::PortfolioSpec;
use chimera_ports::{CheckpointRepository, FillRepository, PositionRepository};
use chimera_sim::{Backtest, SimConfig};
use chimera_sql::SqlStore;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Per portfolio: the positions, the number of fills and the fills themselves (to name the
/// ones a live run priced differently) the in-process backtest produced.
pub(crate) type Expected = BTreeMap<String, (Vec<Position>, u64, Vec<chimera_sim::FillRow>)>;

pub(crate) fn backtest(dir: &Path) -> Expected {
    backtest_of(dir, &specs())
}

/// [`backtest`] of the portfolios `specs`.
pub(crate) fn backtest_of(dir: &Path, specs: &[PortfolioSpec]) -> Expected {
    let mut bt = Backtest::new(SimConfig::default(), 3_600_000);
    for spec in specs {
        let engine = spec
            .build_engine(&chimera_kernel::strategy::StrategyRegistry::builtin())
            .unwrap();
        for i in engine.portfolio().instruments.values() {
            bt.add_instrument(i.clone());
        }
        bt.add_portfolio(engine);
    }
    let mut events = Vec::new();
    for (symbol, _) in SYMBOLS {
        let path = dir.join(format!("{symbol}.csv"));
        for e in chimera_replay::open_market_data(&path, None, &Symbol::new(symbol)).unwrap() {
            events.push(e.unwrap());
        }
    }
    events.sort_by_key(chimera_kernel::event::MarketEvent::ts);
    for e in &events {
        bt.step(e);
    }
    let mut expected: Expected = bt
        .engines()
        .map(|e| {
            (
                e.portfolio().id.as_str().to_owned(),
                (
                    e.portfolio().positions.values().cloned().collect(),
                    e.stats().fills,
                    Vec::new(),
                ),
            )
        })
        .collect();
    // The fills of the run itself: those of the strategies' stop hooks come after the last bar
    // (a live run does not stop its strategies).
    let last = events.last().map(chimera_kernel::event::MarketEvent::ts);
    for fill in bt.finish_results().fills {
        if Some(fill.ts) <= last {
            if let Some((_, _, fills)) = expected.get_mut(fill.portfolio_id.as_str()) {
                fills.push(fill);
            }
        }
    }
    expected
}

/// The recorded fills of `portfolio` whose price, quantity or fee differ from the backtest's
/// fill of the same order and trade (or that it does not have), one line each.
async fn fills_unlike_backtest(
    store: &SqlStore,
    portfolio: &PortfolioId,
    expected: &[chimera_sim::FillRow],
) -> Vec<String> {
    let wanted: BTreeMap<(String, String), &chimera_sim::FillRow> = expected
        .iter()
        .map(|f| ((f.client_order_id.to_string(), f.trade_id.to_string()), f))
        .collect();
    let mut unlike = Vec::new();
    for got in store.fills(portfolio).await.unwrap() {
        let key = (
            got.client_order_id.to_string(),
            got.fill.trade_id.to_string(),
        );
        match wanted.get(&key) {
            Some(w)
                if (w.price, w.qty, w.fee)
                    == (got.fill.price, got.fill.qty, got.fill.fee.amount) => {}
            Some(w) => unlike.push(format!(
                "{} {}: {} @ {} fee {} at {}, backtest {} @ {} fee {} at {}",
                key.0,
                key.1,
                got.fill.qty,
                got.fill.price,
                got.fill.fee.amount,
                got.ts,
                w.qty,
                w.price,
                w.fee,
                w.ts
            )),
            None => unlike.push(format!(
                "{} {}: {} @ {} at {}, not in the backtest",
                key.0, key.1, got.fill.qty, got.fill.price, got.ts
            )),
        }
    }
    unlike
}

/// Waits until every portfolio's checkpoint has applied the last bar and the fills recorded by
/// the gateway, unchanged for a second.
pub(crate) async fn wait_settled(
    store: &SqlStore,
    expected_fills: &BTreeMap<String, u64>,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    let last_bar = T0 + (BARS - 1) * 60_000;
    let mut stable_since: Option<(Instant, Vec<i64>)> = None;
    loop {
        let mut revisions = Vec::new();
        let mut done = true;
        for id in expected_fills.keys() {
            let pid = PortfolioId::new(id.as_str());
            let Some(cp) = store.load_checkpoint(&pid).await.unwrap() else {
                done = false;
                continue;
            };
            revisions.push(cp.revision);
            let state: serde_json::Value = serde_json::from_str(&cp.state).unwrap();
            let bars_done = state["last_bar"]
                .as_object()
                .is_some_and(|m| m.values().all(|v| v.as_i64() == Some(last_bar)) && !m.is_empty());
            let fills = store.fills(&pid).await.unwrap().len() as u64;
            let applied = state["engine"]["stats"]["fills"].as_u64().unwrap_or(0);
            let open = state["engine"]["open_orders"]
                .as_array()
                .map_or(0, Vec::len);
            done &= bars_done && applied == fills && open == 0;
        }
        let pending: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders WHERE terminal = 0")
            .fetch_one(store.pool())
            .await
            .unwrap();
        done &= pending.0 == 0;
        if done {
            match &stable_since {
                Some((t, r)) if *r == revisions && t.elapsed() > Duration::from_secs(1) => return,
                Some((_, r)) if *r == revisions => {}
                _ => stable_since = Some((Instant::now(), revisions)),
            }
        } else {
            stable_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "the live run did not settle within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asserts the database's positions and fills equal the backtest's.
pub(crate) async fn assert_matches_backtest(store: &SqlStore, expected: &Expected) {
    for (id, (positions, fills, rows)) in expected {
        let pid = PortfolioId::new(id.as_str());
        let unlike = fills_unlike_backtest(store, &pid, rows).await;
        if !unlike.is_empty() {
            println!(
                "{id}: {} fills unlike the backtest's:\n  {}",
                unlike.len(),
                unlike.join("\n  ")
            );
        }
        let stored = store.latest_snapshots(&pid).await.unwrap();
        assert_eq!(
            stored.len(),
            positions.len(),
            "{id}: one position per symbol"
        );
        for (s, p) in stored.iter().zip(positions) {
            let a = &s.position;
            assert_eq!(
                (
                    &a.symbol,
                    a.qty,
                    a.cost_basis,
                    a.realized_pnl,
                    a.fees,
                    a.funding
                ),
                (
                    &p.symbol,
                    p.qty,
                    p.cost_basis,
                    p.realized_pnl,
                    p.fees,
                    p.funding
                ),
                "{id}: live position equals the backtest's"
            );
        }
        let recorded = store.fills(&pid).await.unwrap();
        assert_eq!(
            recorded.len() as u64,
            *fills,
            "{id}: every fill recorded once"
        );
        println!(
            "{id}: {} fills, position {} @ basis {} realised {}",
            recorded.len(),
            stored[0].position.qty,
            stored[0].position.cost_basis,
            stored[0].position.realized_pnl
        );
    }
}
