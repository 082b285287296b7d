//! How long a gateway turn's record write takes on PostgreSQL, against a `SELECT 1` round
//! trip through the same pool (the floor, measured in the same run).
//!
//! A turn is one order, accepted and filled, with its fill: the common case, written by one
//! statement. A turn whose order was stored by an earlier turn takes the transaction path
//! (after the one-statement attempt finds the order), and is timed too.
//!
//! `cargo bench -p chimera-sql --bench journal_write` with `CHIMERA_DATABASE_URL` naming a
//! server (`. scripts/services.sh` starts one); `CHIMERA_BENCH_TURNS` sets the turns (2,000).
#![expect(clippy::unwrap_used, clippy::print_stdout, reason = "benchmark")]

use chimera_kernel::event::{Fill, Liquidity};
use chimera_kernel::ids::{Asset, PortfolioId, TradeId};
use chimera_kernel::order::{Order, OrderStatus};
use chimera_kernel::testing::{pending_order, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Money;
use chimera_kernel::Decimal;
use chimera_ports::{ExecutionJournal, FillRecord};
use chimera_sql::{recreate_postgres_database, SqlConfig, SqlStore};
use std::time::{Duration, Instant};

fn filled(portfolio: &PortfolioId, n: u64) -> (Order, Order, FillRecord) {
    let pending = pending_order(portfolio, n);
    let fill = Fill {
        trade_id: TradeId::new(format!("{}-t{n}", portfolio.as_str())),
        price: px(Decimal::new(4_200_050, 2)),
        qty: qty(Decimal::from(2)),
        fee: Money::new(Decimal::new(-105, 4), Asset::new("USDT")),
        liquidity: Liquidity::Maker,
    };
    let mut done = pending.clone();
    done.status = OrderStatus::Filled;
    done.filled_qty = qty(Decimal::from(2));
    done.fills.push(fill.clone());
    done.fees.push(fill.fee.clone());
    done.updated_at = Timestamp(2_000);
    let record = FillRecord {
        portfolio_id: portfolio.clone(),
        client_order_id: pending.intent.client_order_id.clone(),
        symbol: pending.intent.symbol.clone(),
        side: pending.intent.side,
        fill,
        ts: Timestamp(2_000),
        costs: None,
    };
    (pending, done, record)
}

fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times[i].as_secs_f64() * 1e3
    };
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e3 / times.len() as f64;
    println!(
        "{label:<52} n {:>6}  mean {mean:>6.3}  p50 {:>6.3}  p99 {:>6.3} ms",
        times.len(),
        at(0.5),
        at(0.99)
    );
}

async fn run(store: &SqlStore, turns: u64) {
    let mut floor = Vec::new();
    let mut new = Vec::new();
    let mut stored = Vec::new();
    for n in 0..turns {
        let started = Instant::now();
        sqlx::query("SELECT 1").execute(store.pool()).await.unwrap();
        floor.push(started.elapsed());

        let (_, done, record) = filled(&PortfolioId::new("bench-new"), n);
        let started = Instant::now();
        store.record_execution(&[done], &[record]).await.unwrap();
        new.push(started.elapsed());

        let (pending, done, record) = filled(&PortfolioId::new("bench-stored"), n);
        store.record_execution(&[pending], &[]).await.unwrap();
        let started = Instant::now();
        store.record_execution(&[done], &[record]).await.unwrap();
        stored.push(started.elapsed());
    }
    report("floor: SELECT 1 through the pool", floor);
    report("turn: new order filled + its fill (one statement)", new);
    report("turn: stored order filled + its fill (transaction)", stored);
}

fn main() {
    let Ok(admin) = std::env::var("CHIMERA_DATABASE_URL") else {
        println!(
            "skipped: CHIMERA_DATABASE_URL is not set (. scripts/services.sh starts PostgreSQL)"
        );
        return;
    };
    let turns = std::env::var("CHIMERA_BENCH_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = recreate_postgres_database(&admin, "chimera_bench_journal")
            .await
            .unwrap();
        let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
        // Warm the pool's connections and their statement caches.
        run_quietly(&store).await;
        run(&store, turns).await;
        store.close().await;
    });
}

async fn run_quietly(store: &SqlStore) {
    for n in 0..100 {
        let (pending, done, record) = filled(&PortfolioId::new("bench-warm"), n);
        store.record_execution(&[pending], &[]).await.unwrap();
        store.record_execution(&[done], &[record]).await.unwrap();
    }
}
