//! Fail-over with the real binaries over Kafka, PostgreSQL and Redis: a scheduler, a gateway, a
//! feed and node processes. The scheduler adopts the portfolios where node-1 runs them and
//! balances one onto node-2 when it joins. node-1 is SIGKILLed mid-run: after the default 3 s
//! its portfolios move to node-2, which restores them from their checkpoints and catches up.
//! Then node-3 joins and node-2 is frozen (SIGSTOP) until its portfolios have moved on, and
//! thawed (SIGCONT): the revived zombie must not trade them again. The run ends exactly as the
//! backtest of the same bars, with one order per backtest fill: nothing lost, nothing doubled.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_frozen_nodes_fail_over_with_nothing_lost_or_doubled() {
    let Some(services) = services() else { return };
    let Some(redis_url) = services.redis_url.clone() else {
        println!("skipped: CHIMERA_REDIS_URL must be set (scripts/test.sh starts Redis)");
        return;
    };
    let setup = setup("failover", &services).await;
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let extra = format!(
        "\n[state]\nkind = \"redis\"\nurl = \"{redis_url}\"\nlease_ms = 1500\n\n\
         [scheduler]\nid = \"scheduler-1\"\n"
    );
    std::fs::write(
        &setup.config,
        text.replace(
            "register_portfolios = true\n",
            "register_portfolios = true\nheartbeat_ms = 500\n",
        ) + &extra,
    )
    .unwrap();
    let expected = backtest(&setup.dir);
    let store = store(&setup).await;
    let (node, gateway, feed, scheduler) = (
        binary("chimera-node"),
        binary("chimera-gateway"),
        binary("chimera-feed"),
        binary("chimera-scheduler"),
    );
    let _gateway = spawn(&gateway, &setup, "gateway");
    let mut node1 = spawn(&node, &setup, "node-1");
    let _scheduler = spawn(&scheduler, &setup, "scheduler");
    // Adopted where they run (after the scheduler's first 3 s of listening).
    wait_log(
        &setup,
        "scheduler",
        "assigned to node-1",
        3,
        Duration::from_mins(1),
    )
    .await;
    let as_node = |id: &str| {
        vec![
            ("CHIMERA__NODE__ID", id.to_owned()),
            ("CHIMERA__NODE__REGISTER_PORTFOLIOS", "false".to_owned()),
        ]
    };
    let mut node2 = spawn_env(&node, &setup, "node-2", &as_node("node-2"));
    let balanced = wait_log(
        &setup,
        "scheduler",
        "assigned to node-2",
        1,
        Duration::from_secs(30),
    )
    .await;
    wait_log(
        &setup,
        "node-2",
        "started (epoch",
        1,
        Duration::from_secs(30),
    )
    .await;
    println!("node-2 joined: one portfolio moved to it in {balanced:?}");
    let mut feed = spawn(&feed, &setup, "feed");
    let started = Instant::now();
    while count(&store, "SELECT COUNT(*) FROM fills").await < 30 {
        assert!(started.elapsed() < Duration::from_mins(2), "no fills");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // SIGKILL node-1: its two portfolios move to node-2 after the 3 s timeout.
    let fills_at_kill = count(&store, "SELECT COUNT(*) FROM fills").await;
    sigkill(&mut node1);
    let killed = Instant::now();
    let moved = wait_log(
        &setup,
        "node-2",
        "started (epoch",
        3,
        Duration::from_secs(30),
    )
    .await;
    let mut trading_again = None;
    while trading_again.is_none() && killed.elapsed() < Duration::from_mins(1) {
        if count(&store, "SELECT COUNT(*) FROM fills").await > fills_at_kill + 3 {
            trading_again = Some(killed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "node-1 killed → its portfolios started on node-2 after {moved:?}; fills flowing again \
         after {trading_again:?}"
    );

    // node-3 joins; node-2 is frozen until its portfolios have moved to node-3, then thawed.
    let mut node3 = spawn_env(&node, &setup, "node-3", &as_node("node-3"));
    wait_log(
        &setup,
        "node-3",
        "started (epoch",
        1,
        Duration::from_secs(30),
    )
    .await;
    signal(&node2, "STOP");
    wait_log(
        &setup,
        "node-3",
        "started (epoch",
        3,
        Duration::from_secs(30),
    )
    .await;
    signal(&node2, "CONT");
    assert!(feed.wait().unwrap().success(), "feed finished");
    let fills = expected
        .iter()
        .map(|(k, (_, f, _))| (k.clone(), *f))
        .collect();
    wait_settled(&store, &fills, Duration::from_mins(4)).await;
    // The zombie gave its portfolios up (or stopped on its lost leases): it runs nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let zombie = log(&setup, "node-2");
    assert!(
        zombie.contains("given up")
            || zombie.contains("lease lost")
            || node2.try_wait().unwrap().is_some(),
        "the thawed node let go of its portfolios:\n{zombie}"
    );
    terminate(&mut node3);
    let _ = node2.kill();
    assert_matches_backtest(&store, &expected).await;
    let orders = count(&store, "SELECT COUNT(*) FROM orders").await as u64;
    let backtest_fills: u64 = expected.values().map(|(_, f, _)| f).sum();
    assert_eq!(
        orders, backtest_fills,
        "one order per intent: none duplicated across the moves"
    );
}
