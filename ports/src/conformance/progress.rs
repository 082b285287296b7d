//! The [`ProgressJournal`] contract.

use crate::{
    AuditKind, AuditRecord, Checkpoint, Inserted, PositionSnapshot, Progress, ProgressJournal,
    SignalRecord,
};
use chimera_kernel::ids::{PortfolioId, SignalId, Symbol};
use chimera_kernel::instrument::MarketKind;
use chimera_kernel::portfolio::Position;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;

/// [`ProgressJournal`]: a portfolio's progress and its checkpoint are stored together, each
/// record once by its key; a stale checkpoint is refused as [`Inserted::Duplicate`] and leaves
/// the checkpoint as it was.
///
/// # Panics
/// When the journal breaks the contract.
pub async fn progress_journal_suite(repo: &dyn ProgressJournal, prefix: &str) {
    let portfolio = PortfolioId::new(format!("{prefix}-progress-p"));
    let signal = |n: u32| SignalRecord {
        signal_id: SignalId::new(format!("{prefix}-progress-s{n}")),
        portfolio_id: portfolio.clone(),
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(1_700_000_000_000 + i64::from(n)),
        features: [("atr".to_owned(), "12.5".to_owned())].into(),
        decision: "open".into(),
        reason: "rule:trend".into(),
        config_rev: "r1".into(),
        model_p: None,
        detail: None,
    };
    let event = |n: u32| AuditRecord {
        kind: AuditKind::StrategyEvent,
        key: format!("{prefix}-progress-e{n}"),
        source: portfolio.as_str().to_owned(),
        category: "order".into(),
        body: format!(r#"{{"n":{n}}}"#),
        ts: Timestamp(1_700_000_000_000 + i64::from(n)),
    };
    let snapshot = PositionSnapshot {
        portfolio_id: portfolio.clone(),
        ts: Timestamp(1_700_000_000_002),
        position: Position::flat(
            Symbol::new("BTCUSDT"),
            MarketKind::Perp,
            Decimal::ONE,
            Decimal::from(3),
        ),
    };
    let checkpoint = |revision: i64| Checkpoint {
        portfolio_id: portfolio.clone(),
        revision,
        state: format!(r#"{{"revision":{revision}}}"#),
        ts: Timestamp(revision),
    };

    let first = [signal(1), signal(2)];
    let events = [event(1)];
    let stored = repo
        .record_progress(Progress {
            signals: &first,
            events: &events,
            snapshots: std::slice::from_ref(&snapshot),
            checkpoint: &checkpoint(1),
        })
        .await
        .expect("progress");
    assert_eq!(stored, Inserted::New);
    for s in &first {
        assert_eq!(
            repo.get_signal(&s.signal_id).await.expect("get").as_ref(),
            Some(s)
        );
    }
    let recent = repo
        .recent(AuditKind::StrategyEvent, 100)
        .await
        .expect("recent");
    // (Compared by key: a JSON column may respace the body.)
    assert!(
        recent
            .iter()
            .any(|e| e.key == event(1).key && e.kind == event(1).kind),
        "the event is stored"
    );
    assert_eq!(
        repo.latest_snapshots(&portfolio).await.expect("snapshots"),
        vec![snapshot.clone()]
    );
    assert_eq!(
        repo.load_checkpoint(&portfolio).await.expect("load"),
        Some(checkpoint(1))
    );

    // A stale writer (same revision) is told so; the checkpoint stays.
    let stale = repo
        .record_progress(Progress {
            signals: &[signal(3)],
            events: &[],
            snapshots: &[],
            checkpoint: &Checkpoint {
                state: "{}".into(),
                ..checkpoint(1)
            },
        })
        .await
        .expect("stale progress");
    assert_eq!(stale, Inserted::Duplicate);
    assert_eq!(
        repo.load_checkpoint(&portfolio).await.expect("load"),
        Some(checkpoint(1)),
        "a stale checkpoint never replaces a newer one"
    );

    // The next one, repeating a record: stored once.
    let next = repo
        .record_progress(Progress {
            signals: &[signal(2), signal(4)],
            events: &[event(1), event(2)],
            snapshots: &[],
            checkpoint: &checkpoint(2),
        })
        .await
        .expect("next progress");
    assert_eq!(next, Inserted::New);
    let recent = repo
        .recent(AuditKind::StrategyEvent, 100)
        .await
        .expect("recent");
    let ours = recent
        .iter()
        .filter(|e| e.key.starts_with(&format!("{prefix}-progress-e")))
        .count();
    assert_eq!(ours, 2, "each event stored once");
    assert!(repo
        .get_signal(&signal(4).signal_id)
        .await
        .expect("get")
        .is_some());
    assert_eq!(
        repo.load_checkpoint(&portfolio).await.expect("load"),
        Some(checkpoint(2))
    );
}
