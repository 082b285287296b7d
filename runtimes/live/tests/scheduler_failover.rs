//! The control plane end to end, in one process ([`cluster`]): a scheduler adopts four
//! portfolios where they run, balances them when a second node joins (moving two of them off
//! the running node, without a restart), then one node is killed (its task aborted: no clean
//! release, its heartbeats and lease renewals just stop); its portfolios move to the other
//! node, catch up from their checkpoints and trade on. All four portfolios run the same
//! strategy on the same bars, so their fills must be identical: none lost, none doubled across
//! the moves. A zombie's order (the killed node's epoch) is fenced by the gateway.
#![allow(clippy::unwrap_used, reason = "tests")]

mod cluster;

use chimera_kernel::engine::Command;
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId};
use chimera_messages::{encode, Envelope, MessageType, Topic, Topics};
use chimera_ports::{EventBus, FillRepository, OrderRepository};
use cluster::{market, spec, wait_for, Cluster};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PORTFOLIOS: [&str; 4] = ["p1", "p2", "p3", "p4"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_nodes_portfolios_trade_on_elsewhere_with_nothing_lost_or_doubled() {
    let c = Cluster::new("failover").await;
    let specs: Vec<_> = PORTFOLIOS.iter().map(|p| spec(p, "0.01")).collect();
    c.register("n1", &specs).await;
    let node1 = c.start_node("n1");
    let gateway_task = c.start_gateway();
    let scheduler_task = c.start_scheduler();

    // The scheduler adopts the four where they run (n1); when n2 joins, two move to it live.
    let adopted = wait_for("adoption", Duration::from_secs(20), || async {
        c.schedule().await.is_some_and(|s| {
            s.placements()
                .values()
                .filter(|p| p.as_ref().is_some_and(|p| p.node == "n1"))
                .count()
                == 4
        })
    })
    .await;
    println!("the scheduler adopted the four portfolios on n1 in {adopted:?}");
    let node2 = c.start_node("n2");
    let balanced = wait_for(
        "balancing over two nodes",
        Duration::from_secs(20),
        || async {
            let at = c.assignments(&PORTFOLIOS).await;
            at.values().filter(|n| n.as_deref() == Some("n2")).count() == 2
        },
    )
    .await;
    println!("balanced 2 + 2 over the running nodes in {balanced:?}");
    c.publish(&market(0, 60), 0).await;
    wait_for(
        "every portfolio trades",
        Duration::from_secs(30),
        || async {
            for p in PORTFOLIOS {
                if c.fills(p).await.is_empty() {
                    return false;
                }
            }
            true
        },
    )
    .await;
    let on_n1: Vec<String> = c
        .assignments(&PORTFOLIOS)
        .await
        .into_iter()
        .filter(|(_, n)| n.as_deref() == Some("n1"))
        .map(|(p, _)| p)
        .collect();
    let old_epochs: BTreeMap<String, u64> = c
        .schedule()
        .await
        .unwrap()
        .placements()
        .iter()
        .filter_map(|(p, at)| at.as_ref().map(|a| (p.to_string(), a.epoch)))
        .collect();
    let mut before = BTreeMap::new();
    for p in &on_n1 {
        before.insert(p.clone(), c.fills(p).await.len());
    }

    // Kill n1: no final checkpoint beyond its last batch, no lease release.
    node1.abort();
    let killed = Instant::now();
    c.publish(&market(60, 120), 60).await;
    let moved = wait_for("fail-over to n2", Duration::from_secs(30), || async {
        c.assignments(&PORTFOLIOS)
            .await
            .values()
            .all(|n| n.as_deref() == Some("n2"))
    })
    .await;
    wait_for(
        "the moved portfolios trade again",
        Duration::from_secs(30),
        || async {
            for p in &on_n1 {
                if c.fills(p).await.len() <= before[p] {
                    return false;
                }
            }
            true
        },
    )
    .await;
    let trading_again = killed.elapsed();
    println!(
        "node killed → portfolios reassigned in {moved:?}, trading again (first new fill) in \
         {trading_again:?}"
    );

    // A zombie n1 sends an order under its old epoch: the gateway refuses it.
    let zombie = &on_n1[0];
    let template = c.store.fills(&PortfolioId::new(zombie)).await.unwrap()[0]
        .client_order_id
        .clone();
    let mut intent = c.store.get_order(&template).await.unwrap().unwrap().intent;
    intent.intent_id = IntentId::new("zombie-intent");
    intent.client_order_id = ClientOrderId::new("zombie-order");
    let envelope = Envelope::new(
        MessageType::OrderCommand,
        "zombie-intent",
        chimera_kernel::time::Timestamp(0),
        "n1",
        zombie.as_str(),
        Command::Submit(intent),
    )
    .with_epoch(Some(old_epochs[zombie]));
    c.bus
        .publish(
            &Topics::new("failover.").name(Topic::OrdersSubmission),
            zombie,
            &encode(&envelope),
        )
        .await
        .unwrap();

    // Everything settles; the four portfolios saw the same 120 bars and made the same trades.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reference = c.fills("p1").await;
    assert!(reference.len() >= 4, "the strategy traded: {reference:?}");
    for p in PORTFOLIOS {
        assert_eq!(
            c.fills(p).await,
            reference,
            "{p}: the same fills as p1, none lost or doubled across the moves"
        );
    }
    assert!(
        c.store
            .get_order(&ClientOrderId::new("zombie-order"))
            .await
            .unwrap()
            .is_none(),
        "the zombie's order never reached the venue"
    );
    c.trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    assert_eq!(figures.fenced, 1, "the gateway fenced the zombie's order");
    let scheduler_figures = scheduler_task.await.unwrap().unwrap();
    assert!(scheduler_figures.changes >= 4, "{scheduler_figures:?}");
    node2.await.unwrap().unwrap();
    println!(
        "{} fills per portfolio, identical on all four; zombie order fenced; scheduler took over \
         in {:?}",
        reference.len(),
        scheduler_figures.slowest_takeover
    );
}
