//! Control commands end to end, in one process ([`cluster`]): each is answered on
//! `system.events` with its outcome: a pause by the node that runs the portfolio; a migrate
//! and a drain by the scheduler (and the portfolios move while the nodes run); a migrate to an
//! unknown node refused with its reason; a reload to an invalid configuration refused with
//! every problem listed (the old one trading on), and to a valid one applied with the state
//! carried over, timed.
#![allow(clippy::unwrap_used, reason = "tests")]

mod cluster;

use chimera_kernel::ids::PortfolioId;
use chimera_messages::{CommandOutcome, ControlCommand, RefusalCode};
use chimera_ports::{PortfolioRecord, PortfolioRepository};
use cluster::{market, spec, wait_for, Cluster};
use std::time::{Duration, Instant};

const PORTFOLIOS: [&str; 3] = ["p1", "p2", "p3"];

fn refusal(outcome: &CommandOutcome) -> Option<RefusalCode> {
    match outcome {
        CommandOutcome::Applied => None,
        CommandOutcome::Refused { reason, .. } => Some(*reason),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_are_answered_and_portfolios_move_and_reload_while_running() {
    let c = Cluster::new("ctl").await;
    let specs: Vec<_> = PORTFOLIOS.iter().map(|p| spec(p, "0.01")).collect();
    c.register("n1", &specs).await;
    let nodes = [c.start_node("n1"), c.start_node("n2")];
    let gateway = c.start_gateway();
    let scheduler = c.start_scheduler();
    wait_for("adoption", Duration::from_secs(20), || async {
        c.schedule().await.is_some_and(|s| {
            s.placements().values().all(Option::is_some) && s.placements().len() == 3
        })
    })
    .await;
    let mut events = c.events("ctl").await;

    // A pause, answered by the node running p1.
    c.send(
        "cmd-pause",
        &ControlCommand::Pause {
            portfolio_id: Some(PortfolioId::new("p1")),
            reason: "test".into(),
        },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-pause").await;
    assert_eq!(ack.outcome, CommandOutcome::Applied, "{ack:?}");
    assert_eq!(ack.portfolio_id, Some(PortfolioId::new("p1")));
    let p1_node = c.assignments(&["p1"]).await["p1"].clone().unwrap();
    assert_eq!(ack.by, p1_node, "answered by the node that runs it");

    // Migrate p1 to the other node: the scheduler answers, the portfolio moves.
    let other = if p1_node == "n1" { "n2" } else { "n1" };
    c.send(
        "cmd-migrate",
        &ControlCommand::Migrate {
            portfolio_id: PortfolioId::new("p1"),
            to_node: other.into(),
        },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-migrate").await;
    assert_eq!(
        (ack.outcome.clone(), ack.by.as_str()),
        (CommandOutcome::Applied, "s1")
    );
    wait_for("p1 on the other node", Duration::from_secs(10), || async {
        c.assignments(&["p1"]).await["p1"].as_deref() == Some(other)
    })
    .await;
    c.send(
        "cmd-migrate-nowhere",
        &ControlCommand::Migrate {
            portfolio_id: PortfolioId::new("p1"),
            to_node: "n9".into(),
        },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-migrate-nowhere").await;
    assert_eq!(
        refusal(&ack.outcome),
        Some(RefusalCode::NodeUnavailable),
        "{ack:?}"
    );

    // Reload p3 to an invalid configuration: refused, every problem listed, p3 trades on.
    let record = c
        .store
        .get_portfolio(&PortfolioId::new("p3"))
        .await
        .unwrap()
        .unwrap();
    let mut bad: serde_json::Value = serde_json::from_str(&record.config).unwrap();
    bad["strategy"] = "no-such-strategy".into();
    c.store
        .upsert_portfolio(&PortfolioRecord {
            config: bad.to_string(),
            ..record.clone()
        })
        .await
        .unwrap();
    c.send(
        "cmd-reload-bad",
        &ControlCommand::Reload {
            portfolio_id: PortfolioId::new("p3"),
        },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-reload-bad").await;
    match &ack.outcome {
        CommandOutcome::Refused { reason, detail } => {
            assert_eq!(*reason, RefusalCode::InvalidConfig);
            assert!(detail.contains("no-such-strategy"), "{detail}");
        }
        CommandOutcome::Applied => panic!("an invalid configuration was applied"),
    }
    c.publish(&market(0, 40), 0).await;
    wait_for(
        "p3 trades on its old configuration",
        Duration::from_secs(20),
        || async { c.fills("p3").await.iter().any(|f| f.ends_with(" 0.01")) },
    )
    .await;

    // Reload p3 to a valid new configuration (twice the size): applied, state carried over.
    c.store
        .upsert_portfolio(&PortfolioRecord {
            config: serde_json::to_string(&spec("p3", "0.02")).unwrap(),
            ..record
        })
        .await
        .unwrap();
    let asked = Instant::now();
    c.send(
        "cmd-reload",
        &ControlCommand::Reload {
            portfolio_id: PortfolioId::new("p3"),
        },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-reload").await;
    let switch = asked.elapsed();
    assert_eq!(ack.outcome, CommandOutcome::Applied, "{ack:?}");
    let before = c.fills("p3").await.len();
    c.publish(&market(40, 80), 40).await;
    wait_for(
        "p3 trades its new size",
        Duration::from_secs(20),
        || async {
            c.fills("p3")
                .await
                .iter()
                .skip(before)
                .any(|f| f.ends_with(" 0.02"))
        },
    )
    .await;
    // The same decisions as p2 across the reload (p3 trades twice the size): nothing lost,
    // nothing replayed.
    wait_for("p3 trades like p2", Duration::from_secs(20), || async {
        let (p2, p3) = (c.fills("p2").await, c.fills("p3").await);
        p2.len() == p3.len()
            && p2
                .iter()
                .zip(&p3)
                .all(|(a, b)| a.split(' ').next() == b.split(' ').next())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.fills("p2").await.len(), c.fills("p3").await.len());

    // Drain the node that runs p2: everything ends up on the other one.
    let p2_node = c.assignments(&["p2"]).await["p2"].clone().unwrap();
    c.send(
        "cmd-drain",
        &ControlCommand::DrainNode {
            node: p2_node.clone(),
        },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-drain").await;
    assert_eq!(ack.outcome, CommandOutcome::Applied, "{ack:?}");
    wait_for("drained", Duration::from_secs(10), || async {
        c.assignments(&PORTFOLIOS)
            .await
            .values()
            .all(|n| n.as_deref() != Some(p2_node.as_str()))
    })
    .await;
    println!("config switch (reload command to acknowledgement): {switch:?}");
    c.trigger.trigger();
    for node in nodes {
        node.await.unwrap().unwrap();
    }
    gateway.await.unwrap().unwrap();
    scheduler.await.unwrap().unwrap();
}

/// A kill switch engaged by a control command (for a sender with only the bus): the scheduler
/// stores it, announces it, and answers; releasing an unknown one is refused with its code.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_switch_commands_are_stored_by_the_scheduler_and_answered() {
    use chimera_kernel::risk::KillMode;
    use chimera_live::kill_switch::KillSwitches;
    use chimera_messages::{KillScope, KillSwitch};
    let c = Cluster::new("ctlkill").await;
    c.register("n1", &[spec("k1", "0.01")]).await;
    let node = c.start_node("n1");
    let scheduler = c.start_scheduler();
    wait_for("adoption", Duration::from_secs(20), || async {
        c.schedule()
            .await
            .is_some_and(|s| s.placements().values().all(Option::is_some))
    })
    .await;
    let mut events = c.events("ctlkill").await;
    let switch = KillSwitch {
        id: "bus-1".into(),
        mode: KillMode::ReduceOnly,
        scope: KillScope::Portfolio {
            portfolio_id: PortfolioId::new("k1"),
        },
        reason: "risk desk".into(),
        engaged_by: "risk-module".into(),
        engaged_at: 0,
        expires_at: None,
    };
    c.send(
        "cmd-kill",
        &ControlCommand::EngageKillSwitch {
            switch: switch.clone(),
        },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-kill").await;
    assert_eq!(ack.outcome, CommandOutcome::Applied, "{ack:?}");
    let board = KillSwitches::new(c.state.clone()).read().await.unwrap();
    assert_eq!(board.switches, vec![switch]);
    c.send(
        "cmd-release-none",
        &ControlCommand::ReleaseKillSwitch { id: "nope".into() },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-release-none").await;
    assert_eq!(refusal(&ack.outcome), Some(RefusalCode::UnknownKillSwitch));
    c.send(
        "cmd-release",
        &ControlCommand::ReleaseKillSwitch { id: "bus-1".into() },
    )
    .await;
    let ack = c.ack(&mut events, "cmd-release").await;
    assert_eq!(ack.outcome, CommandOutcome::Applied, "{ack:?}");
    assert!(KillSwitches::new(c.state.clone())
        .read()
        .await
        .unwrap()
        .switches
        .is_empty());
    c.trigger.trigger();
    node.await.unwrap().unwrap();
    scheduler.await.unwrap().unwrap();
}
