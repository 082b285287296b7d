//! What an analyst sees in plain SQL: enumerations by their canonical spelling on both
//! backends; on PostgreSQL decimals as `NUMERIC` (summable, exact) and bodies as `JSONB`
//! (fields addressable); on SQLite exact text. Every value converts to the column and back
//! without losing a digit.
#![expect(clippy::unwrap_used, reason = "tests")]

use chimera_kernel::event::{Fill, Liquidity};
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol, TradeId};
use chimera_kernel::order::{Order, OrderIntent, OrderKind, OrderStatus, Side, TimeInForce};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Money, Price, Quantity};
use chimera_ports::{FillRecord, FillRepository, OrderRepository};
use chimera_sql::{recreate_postgres_database, Backend, SqlConfig, SqlStore};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Quantities at the edges of what venues quote: many decimals, large, tiny.
const QTYS: [&str; 3] = ["0.00000001", "123456789.123456789012", "0.1"];

fn order(portfolio: &PortfolioId, n: u64, qty: &str) -> Order {
    let intent_id = IntentId::for_portfolio(portfolio, n);
    let mut order = Order::new(OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio.clone(),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Sell,
        qty: Quantity::from_str(qty).unwrap(),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Ioc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(1_000),
        tag: "entry".into(),
    });
    order.status = OrderStatus::Filled;
    order.filled_qty = order.intent.qty;
    order
}

fn fill(order: &Order, n: u64) -> FillRecord {
    FillRecord {
        portfolio_id: order.intent.portfolio_id.clone(),
        client_order_id: order.intent.client_order_id.clone(),
        symbol: order.intent.symbol.clone(),
        side: order.intent.side,
        fill: Fill {
            trade_id: TradeId::new(format!("{}-t{n}", order.intent.portfolio_id)),
            price: Price::from_str("38544.123456789").unwrap(),
            qty: order.intent.qty,
            fee: Money::new(
                Decimal::from_str("-0.000000019272").unwrap(),
                Asset::new("USDT"),
            ),
            liquidity: Liquidity::Taker,
        },
        ts: Timestamp(2_000),
        costs: Some(chimera_kernel::tca::FillCosts {
            sent_at: Timestamp(1_000),
            ack_ms: Some(3),
            fill_ms: 1_000,
            mid_at_send: Some(Decimal::from_str("38540.005").unwrap()),
            slippage_bps: Some(Decimal::from_str("-1.0405").unwrap()),
            bids_at_send: Vec::new(),
            asks_at_send: Vec::new(),
        }),
    }
}

/// Writes an order and a fill per quantity, reads them back equal, and returns the portfolio.
async fn round_trip(store: &SqlStore, prefix: &str) -> PortfolioId {
    let portfolio = PortfolioId::new(format!("{prefix}-typed"));
    let mut fills = Vec::new();
    for (n, qty) in QTYS.iter().enumerate() {
        let order = order(&portfolio, n as u64, qty);
        store.upsert_order(&order).await.unwrap();
        let stored = store.get_order(&order.intent.client_order_id).await;
        assert_eq!(stored.unwrap(), Some(order.clone()), "order with qty {qty}");
        let record = fill(&order, n as u64);
        store.record_fill(&record).await.unwrap();
        fills.push(record);
    }
    assert_eq!(
        store.fills(&portfolio).await.unwrap(),
        fills,
        "fills, losslessly"
    );
    let (status, side): (String, String) = sqlx::query_as(
        "SELECT o.status, f.side FROM orders o JOIN fills f \
         ON f.client_order_id = o.client_order_id WHERE o.portfolio_id = $1 LIMIT 1",
    )
    .bind(portfolio.as_str().to_owned())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((status.as_str(), side.as_str()), ("filled", "SELL"));
    portfolio
}

#[tokio::test]
async fn sqlite_keeps_exact_text_and_canonical_names() {
    let dir = std::env::temp_dir().join(format!("chimera-sql-typed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("chimera.db").display());
    let store = SqlStore::connect(&SqlConfig::new(&url)).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    let portfolio = round_trip(&store, "sqlite").await;
    let (qty, kind, reason): (String, String, String) = sqlx::query_as(
        "SELECT qty, typeof(qty), json_extract(body, '$.liquidity') FROM fills \
         WHERE portfolio_id = $1 ORDER BY seq LIMIT 1",
    )
    .bind(portfolio.as_str().to_owned())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((qty.as_str(), kind.as_str()), (QTYS[0], "text"));
    assert_eq!(reason, "taker");
    let (slippage, liquidity, ack): (String, String, i64) = sqlx::query_as(
        "SELECT slippage_bps, liquidity, ack_ms FROM fills WHERE portfolio_id = $1 LIMIT 1",
    )
    .bind(portfolio.as_str().to_owned())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        (slippage.as_str(), liquidity.as_str(), ack),
        ("-1.0405", "taker", 3)
    );
    store.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_has_numeric_and_jsonb_columns() {
    let Ok(admin) = std::env::var("CHIMERA_DATABASE_URL") else {
        println!("skipped: CHIMERA_DATABASE_URL is not set (scripts/test.sh starts PostgreSQL)");
        return;
    };
    let url = recreate_postgres_database(&admin, "chimera_t_sql_typed")
        .await
        .unwrap();
    let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
    let portfolio = round_trip(&store, "pg").await;
    // Exact sums in plain SQL, and JSON fields addressable.
    let (total, liquidity, fee): (String, String, String) = sqlx::query_as(
        "SELECT sum(qty)::text, min(body->>'liquidity'), min(body->'fee'->>'amount') \
         FROM fills WHERE portfolio_id = $1 AND side = 'SELL'",
    )
    .bind(portfolio.as_str().to_owned())
    .fetch_one(store.pool())
    .await
    .unwrap();
    let expected: Decimal = QTYS.iter().map(|q| Decimal::from_str(q).unwrap()).sum();
    assert_eq!(Decimal::from_str(&total).unwrap(), expected);
    assert_eq!(liquidity, "taker");
    assert_eq!(fee, "-0.000000019272");
    // Transaction costs as columns: averaged, grouped, filtered in plain SQL.
    let (slippage, maker, fees, ack): (String, i64, String, i64) = sqlx::query_as(
        "SELECT avg(slippage_bps)::text, count(*) FILTER (WHERE liquidity = 'maker'), \
         sum(fee)::text, max(ack_ms) FROM fills WHERE portfolio_id = $1",
    )
    .bind(portfolio.as_str().to_owned())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        Decimal::from_str(&slippage).unwrap(),
        Decimal::from_str("-1.0405").unwrap()
    );
    assert_eq!((maker, ack), (0, 3));
    assert_eq!(fees, "-0.000000057816");
    let (types,): (String,) = sqlx::query_as(
        "SELECT string_agg(table_name || '.' || column_name || ' ' || data_type, ', ' \
         ORDER BY table_name, column_name) FROM information_schema.columns \
         WHERE (table_name, column_name) IN (('fills', 'qty'), ('fills', 'price'), \
         ('fills', 'body'), ('orders', 'filled_qty'), ('orders', 'body'), \
         ('positions_snapshots', 'qty'), ('strategy_events', 'body'), ('portfolios', 'config'))",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        types,
        "fills.body jsonb, fills.price numeric, fills.qty numeric, orders.body jsonb, \
         orders.filled_qty numeric, portfolios.config jsonb, positions_snapshots.qty numeric, \
         strategy_events.body jsonb"
    );
    // Enumerations are checked by the database itself.
    let refused = sqlx::query("UPDATE orders SET status = 'Filled' WHERE portfolio_id = $1")
        .bind(portfolio.as_str().to_owned())
        .execute(store.pool())
        .await;
    assert!(refused.is_err(), "a non-canonical status is refused");
    store.close().await;
}
