//! The registry contracts: portfolios and assignments, checkpoints, audit trail, API tokens.

use crate::{
    ApiToken, AuditKind, AuditQuery, AuditRecord, AuditRepository, Checkpoint,
    CheckpointRepository, Inserted, PortfolioRecord, PortfolioRepository, PortfolioStatus, Role,
    TokenRepository,
};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;

/// [`PortfolioRepository`]: upsert, lookup, per-node listing that skips stopped portfolios,
/// reassignment.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn portfolio_repository_suite(repo: &dyn PortfolioRepository, prefix: &str) {
    let node_a = format!("{prefix}-node-a");
    let node_b = format!("{prefix}-node-b");
    let record = |name: &str, status, node: &str| PortfolioRecord {
        id: PortfolioId::new(format!("{prefix}-{name}")),
        config: format!(r#"{{"strategy":"ema-cross","name":"{name}"}}"#),
        status,
        node_id: Some(node.to_owned()),
        updated_at: Timestamp(1_000),
    };
    let p2 = record("p2", PortfolioStatus::Active, &node_a);
    let p1 = record("p1", PortfolioStatus::Paused, &node_a);
    let p3 = record("p3", PortfolioStatus::Stopped, &node_a);
    for r in [&p2, &p1, &p3] {
        repo.upsert_portfolio(r).await.expect("upsert");
    }
    // The config is a JSON document: a store may normalise its spacing and key order.
    let with_json = |r: &PortfolioRecord| {
        let config: serde_json::Value = serde_json::from_str(&r.config).expect("config is JSON");
        (
            r.id.clone(),
            config,
            r.status,
            r.node_id.clone(),
            r.updated_at,
        )
    };
    assert_eq!(
        repo.get_portfolio(&p1.id)
            .await
            .expect("get")
            .as_ref()
            .map(with_json),
        Some(with_json(&p1)),
        "round trip is lossless"
    );
    assert_eq!(
        repo.get_portfolio(&PortfolioId::new(format!("{prefix}-none")))
            .await
            .expect("get"),
        None
    );
    let ids = |v: Vec<PortfolioRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(repo.portfolios_for_node(&node_a).await.expect("list")),
        vec![p1.id.clone(), p2.id.clone()],
        "assigned, not stopped, ordered by id"
    );

    let changed = PortfolioRecord {
        config: r#"{"strategy":"scripted"}"#.into(),
        status: PortfolioStatus::Active,
        updated_at: Timestamp(2_000),
        ..p1.clone()
    };
    repo.upsert_portfolio(&changed).await.expect("replace");
    assert_eq!(
        repo.get_portfolio(&p1.id)
            .await
            .expect("get")
            .as_ref()
            .map(with_json),
        Some(with_json(&changed)),
        "an upsert replaces config and status"
    );

    assert!(repo
        .assign(&p2.id, &node_b, Timestamp(3_000))
        .await
        .expect("assign"));
    assert!(!repo
        .assign(
            &PortfolioId::new(format!("{prefix}-none")),
            &node_b,
            Timestamp(3_000)
        )
        .await
        .expect("assign unknown"));
    assert_eq!(
        ids(repo.portfolios_for_node(&node_b).await.expect("list")),
        vec![p2.id.clone()],
        "fail-over moves the portfolio"
    );
    assert_eq!(
        ids(repo.portfolios_for_node(&node_a).await.expect("list")),
        vec![p1.id.clone()]
    );
    let all = ids(repo.list_portfolios().await.expect("list all"));
    let mine: Vec<PortfolioId> = all
        .into_iter()
        .filter(|id| id.as_str().starts_with(prefix))
        .collect();
    let mut expected = vec![p1.id.clone(), p2.id.clone(), p3.id.clone()];
    expected.sort();
    assert_eq!(mine, expected, "every portfolio, stopped ones too, by id");
    let moved = repo.get_portfolio(&p2.id).await.expect("get").expect("p2");
    assert_eq!(moved.updated_at, Timestamp(3_000));
    assert_eq!(moved.node_id.as_deref(), Some(node_b.as_str()));
}

/// [`CheckpointRepository`]: monotonic revisions, lossless state.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn checkpoint_repository_suite(repo: &dyn CheckpointRepository, prefix: &str) {
    let id = PortfolioId::new(format!("{prefix}-p"));
    let cp = |revision: i64, state: &str| Checkpoint {
        portfolio_id: id.clone(),
        revision,
        state: state.to_owned(),
        ts: Timestamp(revision * 10),
    };
    assert_eq!(repo.load_checkpoint(&id).await.expect("load"), None);
    assert_eq!(repo.checkpoint_revision(&id).await.expect("revision"), None);
    assert_eq!(
        repo.save_checkpoint(&cp(1, r#"{"a":1}"#))
            .await
            .expect("save"),
        Inserted::New
    );
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(200_000));
    assert_eq!(
        repo.save_checkpoint(&cp(2, &big)).await.expect("save"),
        Inserted::New
    );
    assert_eq!(
        repo.save_checkpoint(&cp(2, "{}"))
            .await
            .expect("same revision"),
        Inserted::Duplicate,
        "an equal revision is refused"
    );
    assert_eq!(
        repo.save_checkpoint(&cp(1, "{}")).await.expect("zombie"),
        Inserted::Duplicate,
        "an older revision is refused"
    );
    assert_eq!(
        repo.load_checkpoint(&id).await.expect("load"),
        Some(cp(2, &big)),
        "the newest revision, lossless"
    );
    assert_eq!(
        repo.checkpoint_revision(&id).await.expect("revision"),
        Some(2),
        "the revision alone"
    );
    let other = PortfolioId::new(format!("{prefix}-other"));
    assert_eq!(
        repo.save_checkpoint(&Checkpoint {
            portfolio_id: other.clone(),
            ..cp(1, "{}")
        })
        .await
        .expect("save"),
        Inserted::New
    );
    assert!(repo.discard_checkpoint(&id).await.expect("discard"));
    assert_eq!(repo.load_checkpoint(&id).await.expect("load"), None);
    assert!(
        !repo.discard_checkpoint(&id).await.expect("discard"),
        "nothing left to discard"
    );
    assert_eq!(
        repo.save_checkpoint(&cp(1, "{}")).await.expect("save"),
        Inserted::New,
        "revisions start over"
    );
    assert_eq!(
        repo.checkpoint_revision(&other).await.expect("revision"),
        Some(1),
        "another portfolio's checkpoint is kept"
    );
}

/// [`AuditRepository`]: once per `(kind, key)`, newest first, kinds kept apart.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn audit_repository_suite(repo: &dyn AuditRepository, prefix: &str) {
    let rec = |kind, key: &str, ts: i64| AuditRecord {
        kind,
        key: format!("{prefix}-{key}"),
        source: format!("{prefix}-node"),
        category: "warning".into(),
        body: format!(r#"{{"key":"{key}","text":"déjà vu ✓"}}"#),
        ts: Timestamp(ts),
    };
    for (kind, key, ts) in [
        (AuditKind::Alert, "a1", 1),
        (AuditKind::Alert, "a2", 2),
        (AuditKind::DeadLetter, "a1", 3),
        (AuditKind::StrategyEvent, "e1", 4),
    ] {
        assert_eq!(
            repo.record(&rec(kind, key, ts)).await.expect("record"),
            Inserted::New,
            "{kind:?} {key}"
        );
    }
    assert_eq!(
        repo.record(&rec(AuditKind::Alert, "a1", 9))
            .await
            .expect("replay"),
        Inserted::Duplicate,
        "a replayed record is a duplicate"
    );
    // Bodies are JSON documents: a store may normalise their spacing and key order
    // (PostgreSQL's jsonb does), never their content.
    let as_json = |r: AuditRecord| {
        let body: serde_json::Value = serde_json::from_str(&r.body).expect("body is JSON");
        (r.kind, r.key, r.source, r.category, body, r.ts)
    };
    let alerts: Vec<_> = repo
        .recent(AuditKind::Alert, 10)
        .await
        .expect("recent")
        .into_iter()
        .filter(|r| r.key.starts_with(prefix))
        .map(as_json)
        .collect();
    assert_eq!(
        alerts,
        vec![
            as_json(rec(AuditKind::Alert, "a2", 2)),
            as_json(rec(AuditKind::Alert, "a1", 1))
        ],
        "newest first, lossless, kinds apart"
    );
    let dead = repo.recent(AuditKind::DeadLetter, 1).await.expect("recent");
    assert_eq!(dead.len(), 1, "limit applies");
}

/// [`AuditRepository::query`]: by time window, category and source, newest first, limited.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn audit_query_suite(repo: &dyn AuditRepository, prefix: &str) {
    let source = format!("{prefix}-api");
    for (key, category, ts) in [
        ("q1", "applied", 100),
        ("q2", "refused", 200),
        ("q3", "applied", 300),
        ("q4", "applied", 400),
    ] {
        let record = AuditRecord {
            kind: AuditKind::ApiCall,
            key: format!("{prefix}-{key}"),
            source: source.clone(),
            category: category.into(),
            body: format!(r#"{{"call":"{key}"}}"#),
            ts: Timestamp(ts),
        };
        assert_eq!(repo.record(&record).await.expect("record"), Inserted::New);
    }
    let keys = |records: Vec<AuditRecord>| -> Vec<String> {
        records
            .into_iter()
            .map(|r| r.key.trim_start_matches(&format!("{prefix}-")).to_owned())
            .collect()
    };
    let mine = |q: AuditQuery| AuditQuery {
        source: Some(source.clone()),
        ..q
    };
    let all = repo
        .query(
            AuditKind::ApiCall,
            &mine(AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            }),
        )
        .await
        .expect("query");
    assert_eq!(keys(all), ["q4", "q3", "q2", "q1"], "newest first");
    let window = AuditQuery {
        since: Some(Timestamp(200)),
        until: Some(Timestamp(400)),
        limit: 10,
        ..AuditQuery::default()
    };
    let got = repo
        .query(AuditKind::ApiCall, &mine(window))
        .await
        .expect("window");
    assert_eq!(keys(got), ["q3", "q2"], "since inclusive, until exclusive");
    let applied = AuditQuery {
        category: Some("applied".into()),
        limit: 2,
        ..AuditQuery::default()
    };
    let got = repo
        .query(AuditKind::ApiCall, &mine(applied))
        .await
        .expect("category");
    assert_eq!(keys(got), ["q4", "q3"], "category, limited");
    let other = AuditQuery {
        source: Some(format!("{prefix}-nobody")),
        limit: 10,
        ..AuditQuery::default()
    };
    assert!(repo
        .query(AuditKind::ApiCall, &other)
        .await
        .expect("source")
        .is_empty());
    assert!(
        repo.query(
            AuditKind::Alert,
            &mine(AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
        )
        .await
        .expect("kind")
        .is_empty(),
        "kinds apart"
    );
}

/// [`TokenRepository`]: unique ids, lossless, revoked once.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn token_repository_suite(repo: &dyn TokenRepository, prefix: &str) {
    let token = |n: u32, role: Role, expires_at: Option<i64>| ApiToken {
        id: format!("{prefix}-t{n}"),
        name: format!("token «{n}»"),
        role,
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_by: "bootstrap".into(),
        created_at: Timestamp(1_000 + i64::from(n)),
        expires_at: expires_at.map(Timestamp),
        revoked_at: None,
    };
    let first = token(1, Role::Admin, None);
    let second = token(2, Role::Viewer, Some(5_000));
    repo.insert_token(&first).await.expect("insert");
    repo.insert_token(&second).await.expect("insert");
    assert!(
        matches!(
            repo.insert_token(&first).await,
            Err(crate::PortError::Conflict(_))
        ),
        "an id is unique"
    );
    assert_eq!(
        repo.get_token(&first.id).await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(
        repo.get_token(&format!("{prefix}-none"))
            .await
            .expect("get"),
        None
    );
    let listed: Vec<ApiToken> = repo
        .list_tokens()
        .await
        .expect("list")
        .into_iter()
        .filter(|t| t.id.starts_with(&format!("{prefix}-")))
        .collect();
    assert_eq!(listed, vec![first.clone(), second.clone()], "oldest first");
    assert!(repo
        .revoke_token(&second.id, Timestamp(2_000))
        .await
        .expect("revoke"));
    assert!(!repo
        .revoke_token(&second.id, Timestamp(3_000))
        .await
        .expect("again"));
    assert!(!repo
        .revoke_token(&format!("{prefix}-none"), Timestamp(3_000))
        .await
        .expect("none"));
    let revoked = repo
        .get_token(&second.id)
        .await
        .expect("get")
        .expect("there");
    assert_eq!(
        revoked.revoked_at,
        Some(Timestamp(2_000)),
        "the first revocation is kept"
    );
    assert!(!revoked.is_usable(Timestamp(2_500)));
    assert!(first.is_usable(Timestamp(10_000)));
    assert!(
        !token(3, Role::Trader, Some(5_000)).is_usable(Timestamp(5_000)),
        "expired"
    );
}
