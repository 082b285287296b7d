//! The repository contracts.

use crate::{
    ExecutionJournal, FillRecord, FillRepository, Inserted, OrderRepository, PositionRepository,
    PositionSnapshot, SignalRecord, SignalRepository,
};
use chimera_kernel::event::{Fill, Liquidity};
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, SignalId, Symbol, TradeId};
use chimera_kernel::instrument::MarketKind;
use chimera_kernel::order::{Order, OrderStatus, Side};
use chimera_kernel::portfolio::Position;
use chimera_kernel::testing::{px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Money, SignedQty};
use chimera_kernel::Decimal;

fn order(prefix: &str, n: u64) -> Order {
    chimera_kernel::testing::pending_order(&PortfolioId::new(format!("{prefix}-p")), n)
}

fn fill(trade: &str) -> Fill {
    Fill {
        trade_id: TradeId::new(trade),
        price: px(Decimal::new(4_200_050, 2)),
        qty: qty(Decimal::ONE),
        fee: Money::new(Decimal::new(-105, 4), Asset::new("USDT")),
        liquidity: Liquidity::Maker,
    }
}

/// [`OrderRepository`]: round trip, upsert by client order id, no regression, open listing.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn order_repository_suite(repo: &dyn OrderRepository, prefix: &str) {
    let mut o = order(prefix, 0);
    assert_eq!(
        repo.get_order(&o.intent.client_order_id)
            .await
            .expect("get"),
        None
    );
    repo.upsert_order(&o).await.expect("insert");
    assert_eq!(
        repo.get_order(&o.intent.client_order_id)
            .await
            .expect("get")
            .as_ref(),
        Some(&o),
        "round trip is lossless"
    );

    // progress: partially filled, then filled
    let stale = o.clone();
    o.status = OrderStatus::PartiallyFilled;
    o.filled_qty = qty(Decimal::ONE);
    o.cum_quote = Decimal::new(4_200_050, 2);
    o.fills.push(fill(&format!("{prefix}-t1")));
    o.fees.push(o.fills[0].fee.clone());
    o.updated_at = Timestamp(2_000);
    repo.upsert_order(&o).await.expect("update");
    repo.upsert_order(&o).await.expect("repeat is idempotent");
    repo.upsert_order(&stale)
        .await
        .expect("stale write is accepted but ignored");
    assert_eq!(
        repo.get_order(&o.intent.client_order_id)
            .await
            .expect("get")
            .as_ref(),
        Some(&o),
        "a stale write never regresses an order"
    );

    let other = order(prefix, 1);
    repo.upsert_order(&other).await.expect("insert second");
    let mut done = order(prefix, 2);
    done.status = OrderStatus::Canceled;
    repo.upsert_order(&done).await.expect("insert terminal");
    let mut revived = done.clone();
    revived.status = OrderStatus::Accepted;
    repo.upsert_order(&revived).await.expect("stale");
    assert_eq!(
        repo.get_order(&done.intent.client_order_id)
            .await
            .expect("get")
            .map(|o| o.status),
        Some(OrderStatus::Canceled),
        "terminal orders stay terminal"
    );

    let open = repo
        .open_orders(&o.intent.portfolio_id)
        .await
        .expect("open");
    let ids: Vec<_> = open
        .iter()
        .map(|o| o.intent.client_order_id.clone())
        .collect();
    assert_eq!(
        ids,
        vec![
            o.intent.client_order_id.clone(),
            other.intent.client_order_id.clone()
        ],
        "open orders, oldest first, terminal excluded"
    );
    assert!(repo
        .open_orders(&PortfolioId::new(format!("{prefix}-nobody")))
        .await
        .expect("open")
        .is_empty());
}

/// Transaction costs as a gateway records them with a fill: latencies, the mid and the top
/// of the book at send, slippage.
fn costs(ts: i64) -> chimera_kernel::tca::FillCosts {
    let level = |p: i64, q: i64| chimera_kernel::event::BookLevel {
        price: px(Decimal::new(p, 1)),
        qty: chimera_kernel::testing::qty(Decimal::new(q, 3)),
    };
    chimera_kernel::tca::FillCosts {
        sent_at: Timestamp(ts - 7),
        ack_ms: Some(2),
        fill_ms: 7,
        mid_at_send: Some(Decimal::new(4_200_005, 2)),
        slippage_bps: Some(Decimal::new(-11_905, 4)),
        bids_at_send: vec![level(420_000, 1_500), level(419_999, 20)],
        asks_at_send: vec![level(420_001, 3)],
    }
}

/// [`FillRepository`]: unique by trade id, listed in insertion order, costs kept exactly,
/// counted as listed (a duplicate not counted, another portfolio's fills not counted).
///
/// # Panics
/// When the repository breaks the contract.
pub async fn fill_repository_suite(repo: &dyn FillRepository, prefix: &str) {
    let portfolio = PortfolioId::new(format!("{prefix}-p"));
    assert_eq!(repo.fill_count(&portfolio).await.expect("count"), 0);
    let record = |trade: &str, ts: i64| FillRecord {
        portfolio_id: portfolio.clone(),
        client_order_id: ClientOrderId::new(format!("{prefix}-c1")),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Sell,
        fill: fill(&format!("{prefix}-{trade}")),
        ts: Timestamp(ts),
        // One fill with costs, one without (a fill whose send the recorder never saw).
        costs: (ts > 5).then(|| costs(ts)),
    };
    assert_eq!(
        repo.record_fill(&record("t1", 10)).await.expect("insert"),
        Inserted::New
    );
    assert_eq!(
        repo.record_fill(&record("t1", 10)).await.expect("replay"),
        Inserted::Duplicate,
        "a replayed fill is a duplicate"
    );
    assert_eq!(
        repo.record_fill(&record("t2", 5)).await.expect("insert"),
        Inserted::New
    );
    let fills = repo.fills(&portfolio).await.expect("list");
    assert_eq!(
        fills,
        vec![record("t1", 10), record("t2", 5)],
        "round trip is lossless, insertion order"
    );
    assert_eq!(
        repo.fill_count(&portfolio).await.expect("count"),
        2,
        "counted as listed, the duplicate once"
    );
    let other = PortfolioId::new(format!("{prefix}-other"));
    assert_eq!(
        repo.fill_count(&other).await.expect("count"),
        0,
        "another portfolio's fills are not counted"
    );
}

/// [`ExecutionJournal`]: a batch stores every order's newest state (a stale one later in the
/// batch or in a later batch never regresses it) and each fill once, counting the new ones.
///
/// # Panics
/// When the journal breaks the contract.
pub async fn execution_journal_suite(repo: &dyn ExecutionJournal, prefix: &str) {
    let prefix = format!("{prefix}-journal");
    let portfolio = PortfolioId::new(format!("{prefix}-p"));
    assert_eq!(repo.record_execution(&[], &[]).await.expect("empty"), 0);

    let pending = order(&prefix, 0);
    let mut filled = pending.clone();
    let trade = fill(&format!("{prefix}-t1"));
    filled.status = OrderStatus::Filled;
    filled.filled_qty = qty(Decimal::from(2));
    filled.fills.push(trade.clone());
    filled.fees.push(trade.fee.clone());
    filled.updated_at = Timestamp(2_000);
    let other = order(&prefix, 1);
    let record = FillRecord {
        portfolio_id: portfolio.clone(),
        client_order_id: pending.intent.client_order_id.clone(),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        fill: trade,
        ts: Timestamp(2_000),
        costs: Some(costs(2_000)),
    };
    let new = repo
        .record_execution(
            &[
                pending.clone(),
                filled.clone(),
                pending.clone(),
                other.clone(),
            ],
            &[record.clone(), record.clone()],
        )
        .await
        .expect("batch");
    assert_eq!(new, 1, "a fill twice in one batch is stored once");
    let stored = |id: ClientOrderId| async move { repo.get_order(&id).await.expect("get") };
    assert_eq!(
        stored(pending.intent.client_order_id.clone())
            .await
            .as_ref(),
        Some(&filled),
        "the newest state wins, a stale one after it in the batch is ignored"
    );
    assert_eq!(
        stored(other.intent.client_order_id.clone()).await.as_ref(),
        Some(&other)
    );

    let again = repo
        .record_execution(
            std::slice::from_ref(&pending),
            std::slice::from_ref(&record),
        )
        .await
        .expect("replayed batch");
    assert_eq!(again, 0, "a replayed fill is not new");
    assert_eq!(
        stored(pending.intent.client_order_id.clone())
            .await
            .as_ref(),
        Some(&filled),
        "a later batch never regresses an order"
    );
    assert_eq!(
        repo.fills(&portfolio).await.expect("list"),
        vec![record.clone()],
        "each fill stored once"
    );
    journal_mixes_new_and_stored_orders(repo, &prefix, &record).await;
}

/// A batch of new orders, then one mixing a stored order's newer state with a new order, then
/// fills alone: each stored whole (stores may write an all-new batch by another path).
async fn journal_mixes_new_and_stored_orders(
    repo: &dyn ExecutionJournal,
    prefix: &str,
    template: &FillRecord,
) {
    let fill_of = |o: &Order, trade: &str| FillRecord {
        client_order_id: o.intent.client_order_id.clone(),
        fill: fill(&format!("{prefix}-{trade}")),
        ..template.clone()
    };
    let (second, third) = (order(prefix, 2), order(prefix, 3));
    let new = repo
        .record_execution(&[second.clone(), third.clone()], &[fill_of(&second, "t2")])
        .await
        .expect("all-new batch");
    assert_eq!(new, 1, "the new fill of an all-new batch is counted");
    let mut advanced = third.clone();
    advanced.status = OrderStatus::PartiallyFilled;
    advanced.filled_qty = qty(Decimal::ONE);
    advanced.updated_at = Timestamp(3_000);
    let fourth = order(prefix, 4);
    let new = repo
        .record_execution(
            &[advanced.clone(), fourth.clone()],
            &[fill_of(&third, "t3"), fill_of(&second, "t2")],
        )
        .await
        .expect("mixed batch");
    assert_eq!(new, 1, "only the fill not stored before is new");
    for expected in [&second, &advanced, &fourth] {
        assert_eq!(
            repo.get_order(&expected.intent.client_order_id)
                .await
                .expect("get")
                .as_ref(),
            Some(expected),
            "a stored order takes its newer state and a new one is inserted in the same batch"
        );
    }
    let alone = [fill_of(&fourth, "t4")];
    assert_eq!(repo.record_execution(&[], &alone).await.expect("fills"), 1);
    assert_eq!(repo.record_execution(&[], &alone).await.expect("again"), 0);
    let stored = repo.fills(&template.portfolio_id).await.expect("list");
    assert_eq!(stored.len(), 4, "t1 to t4, each once: {stored:?}");
}

/// [`PositionRepository`]: one snapshot per key, latest per symbol.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn position_repository_suite(repo: &dyn PositionRepository, prefix: &str) {
    let portfolio = PortfolioId::new(format!("{prefix}-p"));
    let snap = |symbol: &str, ts: i64, q: i64| {
        let mut position = Position::flat(
            Symbol::new(symbol),
            MarketKind::Perp,
            Decimal::ONE,
            Decimal::from(3),
        );
        position.qty = SignedQty::new(Decimal::new(q, 3));
        position.cost_basis = Amount::new(Decimal::new(q.abs() * 4_200_050, 5));
        position.realized_pnl = Amount::new(Decimal::new(-12_345, 4));
        position.mark = Some(px(Decimal::new(4_200_150, 2)));
        PositionSnapshot {
            portfolio_id: portfolio.clone(),
            ts: Timestamp(ts),
            position,
        }
    };
    repo.save_snapshot(&snap("ETHUSDT", 1, 5))
        .await
        .expect("save");
    repo.save_snapshot(&snap("BTCUSDT", 1, 1))
        .await
        .expect("save");
    repo.save_snapshot(&snap("BTCUSDT", 3, -2))
        .await
        .expect("save");
    repo.save_snapshot(&snap("BTCUSDT", 2, 7))
        .await
        .expect("save older after newer");
    repo.save_snapshot(&snap("BTCUSDT", 3, -2))
        .await
        .expect("repeat is idempotent");
    let latest = repo.latest_snapshots(&portfolio).await.expect("latest");
    assert_eq!(
        latest,
        vec![snap("BTCUSDT", 3, -2), snap("ETHUSDT", 1, 5)],
        "latest per symbol, by symbol, lossless"
    );
}

/// [`SignalRepository`]: unique by signal id.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn signal_repository_suite(repo: &dyn SignalRepository, prefix: &str) {
    let signal = SignalRecord {
        signal_id: SignalId::new(format!("{prefix}-s1")),
        portfolio_id: PortfolioId::new(format!("{prefix}-p")),
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(1_700_000_000_000),
        features: [
            ("atr".to_owned(), "12.5".to_owned()),
            ("spread_bp".to_owned(), "0.8".to_owned()),
        ]
        .into(),
        decision: "open".into(),
        reason: "rule:trend".into(),
        config_rev: "r42".into(),
        model_p: None,
        detail: None,
    };
    assert_eq!(repo.get_signal(&signal.signal_id).await.expect("get"), None);
    assert_eq!(
        repo.record_signal(&signal).await.expect("insert"),
        Inserted::New
    );
    let changed = SignalRecord {
        decision: "skip".into(),
        ..signal.clone()
    };
    assert_eq!(
        repo.record_signal(&changed).await.expect("replay"),
        Inserted::Duplicate
    );
    assert_eq!(
        repo.get_signal(&signal.signal_id).await.expect("get"),
        Some(signal),
        "first write wins, lossless"
    );
    // A decision record, with its model score and the whole decision, comes back as stored.
    let record = chimera_kernel::decision::DecisionRecord {
        signal_id: SignalId::new(format!("{prefix}-s2")),
        portfolio_id: PortfolioId::new(format!("{prefix}-p")),
        t0: Timestamp(1_700_000_060_000),
        symbol: Symbol::new("ETHUSDT"),
        side: chimera_kernel::order::Side::Sell,
        signal: "cross_down".into(),
        value: Some(chimera_kernel::Decimal::new(-125, 2)),
        features: [("atr:14".to_owned(), "3.25".to_owned())].into(),
        regime: Some(chimera_kernel::features::RegimeLabel::Extreme),
        decision: chimera_kernel::decision::Decision {
            trace: vec![chimera_kernel::decision::TraceStep::Budget {
                granted: false,
                detail: Some("risk:{concurrency}:ETHUSDT exhausted".into()),
            }],
            ..chimera_kernel::decision::Decision::pending()
        },
        model_p: Some(chimera_kernel::Decimal::new(6125, 4)),
        config_rev: 9,
        intent_id: None,
    };
    let mut skipped = record.clone();
    skipped
        .decision
        .skip(chimera_kernel::decision::DecisionReason::RiskBudget);
    let stored = SignalRecord::from_decision(&skipped);
    assert_eq!(
        (stored.decision.as_str(), stored.reason.as_str()),
        ("skip", "RISK_BUDGET")
    );
    assert_eq!(
        repo.record_signal(&stored).await.expect("insert decision"),
        Inserted::New
    );
    assert_eq!(
        repo.get_signal(&stored.signal_id)
            .await
            .expect("get decision"),
        Some(stored),
        "the decision and its trace come back as stored"
    );
}
