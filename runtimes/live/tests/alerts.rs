//! A runtime's alerts are raised without waiting (`Runtime::alert` queues them for a task of
//! the runtime's own) and still reach the alerts topic and the audit trail, in the order they
//! were raised, once `settle_alerts` returns — what the runtime processes wait for on their
//! way out.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::ids::PortfolioId;
use chimera_live::runtime::shutdown_pair;
use chimera_messages::{decode, Alert, AlertCode, AlertLevel, MessageType, Topic};
use chimera_ports::{AuditKind, AuditRepository, EventBus};
use std::time::Duration;

#[tokio::test]
async fn alerts_raised_without_waiting_are_published_and_recorded_in_order_once_settled() {
    let world = embedded::World::new("alerts").await;
    let (_trigger, shutdown) = shutdown_pair();
    let rt = world.runtime("alerts.", "node-a", &shutdown);
    let topic = rt.topics.name(Topic::Alerts);
    let mut reader = world.bus.subscribe(&topic, "reader").await.unwrap();

    let raised = [
        (AlertLevel::Warning, AlertCode::QueuePressure, "first"),
        (AlertLevel::Critical, AlertCode::QueuePressure, "second"),
        (AlertLevel::Warning, AlertCode::QueueRecovered, "third"),
    ];
    for (level, code, message) in raised {
        rt.alert(
            level,
            code,
            message.to_owned(),
            Some(PortfolioId::new("p1")),
        );
    }
    // Raising only queued them: nothing was published on the caller's time.
    assert_eq!(world.bus.len(&topic), 0, "published inline");
    rt.settle_alerts(Duration::from_secs(10)).await;
    assert_eq!(
        world.bus.len(&topic),
        3,
        "settling waits for the queued alerts"
    );

    let mut published = Vec::new();
    while let Some(delivery) = reader.poll(Duration::from_millis(1)).await.unwrap() {
        let envelope = decode::<Alert>(&delivery.payload, MessageType::Alert).unwrap();
        assert_eq!(envelope.source, "node-a");
        assert_eq!(&*delivery.key, "p1", "keyed by the portfolio");
        published.push((
            envelope.payload.level,
            envelope.payload.code,
            envelope.payload.message,
        ));
    }
    let expected: Vec<_> = raised
        .iter()
        .map(|(level, code, message)| (*level, *code, (*message).to_owned()))
        .collect();
    assert_eq!(published, expected, "published in the order raised");

    let recorded = rt.store.recent(AuditKind::Alert, 10).await.unwrap();
    let mut bodies: Vec<String> = recorded
        .iter()
        .map(|r| serde_json::from_str::<Alert>(&r.body).unwrap().message)
        .collect();
    bodies.reverse(); // newest first
    assert_eq!(bodies, ["first", "second", "third"], "recorded in order");
    assert!(recorded.iter().all(|r| r.source == "node-a"));

    // Settling with nothing raised, or nothing left, returns at once.
    let quiet = world.runtime("alerts.", "node-b", &shutdown);
    tokio::time::timeout(
        Duration::from_secs(1),
        quiet.settle_alerts(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    world.remove().await;
}

#[test]
fn an_alert_raised_outside_a_tokio_runtime_is_logged_and_dropped_not_a_panic() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let world = tokio.block_on(embedded::World::new("alerts-outside"));
    let (_trigger, shutdown) = shutdown_pair();
    let rt = world.runtime("alerts.", "node-c", &shutdown);
    rt.alert(
        AlertLevel::Error,
        AlertCode::DeadLetter,
        "no runtime here".to_owned(),
        None,
    );
    tokio.block_on(async {
        rt.settle_alerts(Duration::from_secs(1)).await;
        assert_eq!(world.bus.len(&rt.topics.name(Topic::Alerts)), 0);
        // Inside a runtime the next one goes out.
        rt.alert(
            AlertLevel::Warning,
            AlertCode::DeadLetter,
            "inside".to_owned(),
            None,
        );
        rt.settle_alerts(Duration::from_secs(10)).await;
        assert_eq!(world.bus.len(&rt.topics.name(Topic::Alerts)), 1);
        world.remove().await;
    });
}
