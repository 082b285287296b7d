//! The SQL adapter against the shared repository contracts, on SQLite (always) and on
//! PostgreSQL (when `CHIMERA_DATABASE_URL` names a server; `scripts/test.sh` starts one). Each
//! test gets a database of its own.
#![expect(clippy::unwrap_used, reason = "tests")]

use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::OrderStatus;
use chimera_kernel::order::{Order, OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::testing::qty;
use chimera_ports::conformance;
use chimera_ports::OrderRepository;
use chimera_sql::{recreate_postgres_database, Backend, SqlConfig, SqlStore};

async fn suites(store: &SqlStore, prefix: &str) {
    conformance::order_repository_suite(store, prefix).await;
    conformance::fill_repository_suite(store, prefix).await;
    conformance::execution_journal_suite(store, prefix).await;
    conformance::progress_journal_suite(store, prefix).await;
    conformance::position_repository_suite(store, prefix).await;
    conformance::signal_repository_suite(store, prefix).await;
    conformance::portfolio_repository_suite(store, prefix).await;
    conformance::checkpoint_repository_suite(store, prefix).await;
    conformance::audit_repository_suite(store, prefix).await;
    conformance::audit_query_suite(store, prefix).await;
    conformance::token_repository_suite(store, prefix).await;
    conformance::treasury_repository_suite(store, prefix).await;
}

fn sqlite_url(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("chimera-sql-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("chimera.db").display());
    (dir, url)
}

async fn postgres(name: &str) -> Option<SqlStore> {
    let Ok(admin) = std::env::var("CHIMERA_DATABASE_URL") else {
        println!("skipped: CHIMERA_DATABASE_URL is not set (scripts/test.sh starts PostgreSQL)");
        return None;
    };
    let url = recreate_postgres_database(&admin, name).await.unwrap();
    Some(SqlStore::connect(&SqlConfig::new(url)).await.unwrap())
}

#[tokio::test]
async fn sqlite_conforms() {
    let (dir, url) = sqlite_url("conform");
    let store = SqlStore::connect(&SqlConfig::new(&url)).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    let (journal,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(journal, "wal", "SQLite runs with a write-ahead log");
    suites(&store, "sqlite").await;
    store.close().await;
    // Reopening applies no migration twice and keeps the data.
    let again = SqlStore::connect(&SqlConfig::new(&url)).await.unwrap();
    conformance::signal_repository_suite(&again, "sqlite-2").await;
    again.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    let Some(store) = postgres("chimera_t_sql_conform").await else {
        return;
    };
    assert_eq!(store.backend(), Backend::Postgres);
    suites(&store, "pg").await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_order_writers_never_regress() {
    let Some(store) = postgres("chimera_t_sql_race").await else {
        return;
    };
    let portfolio = PortfolioId::new("race-p");
    let intent_id = IntentId::for_portfolio(&portfolio, 1);
    let base = Order::new(OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio,
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: qty(rust_decimal::Decimal::ONE),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Ioc,
        reduce_only: false,
        close_position: false,
        created_at: chimera_kernel::time::Timestamp(1_000),
        tag: "entry".into(),
    });
    store.upsert_order(&base).await.unwrap();
    // 40 writers race with versions 1..=40 of the same order; the most filled must win.
    let mut tasks = Vec::new();
    for n in 1..=40_i64 {
        let store = store.clone();
        let mut o = base.clone();
        o.status = OrderStatus::PartiallyFilled;
        o.filled_qty = qty(rust_decimal::Decimal::new(n, 3));
        o.updated_at = chimera_kernel::time::Timestamp(o.updated_at.0 + n);
        tasks.push(tokio::spawn(async move { store.upsert_order(&o).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stored = store
        .get_order(&base.intent.client_order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.filled_qty, qty(rust_decimal::Decimal::new(40, 3)));
    store.close().await;
}

/// Several processes starting at once on a fresh SQLite file (a node, `chimera ctl`) each apply
/// the schema or find it applied; none fails on a table another has just created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opened_at_once_on_a_fresh_sqlite_file_all_connect() {
    for round in 0..5 {
        let (dir, url) = sqlite_url(&format!("race-{round}"));
        let url = format!("{url}?mode=rwc");
        let opened = futures_join(
            (0..4)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { SqlStore::connect(&SqlConfig::new(url)).await })
                })
                .collect(),
        )
        .await;
        for store in opened {
            store.unwrap().close().await;
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

async fn futures_join(
    tasks: Vec<tokio::task::JoinHandle<Result<SqlStore, chimera_sql::SqlAdapterError>>>,
) -> Vec<Result<SqlStore, chimera_sql::SqlAdapterError>> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn bad_config_lists_every_field() {
    let err = SqlStore::connect(&SqlConfig {
        url: "mysql://u:secret@h/db".into(),
        max_connections: Some(0),
        acquire_timeout_ms: 0,
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("url")
            && err.contains("max_connections")
            && err.contains("acquire_timeout_ms"),
        "{err}"
    );
    assert!(!err.contains("secret"), "passwords are redacted: {err}");
}
