//! `/metrics` and `/health` on the node, the gateway and the scheduler: after a short run the
//! Prometheus text carries each component's figures (events, orders, fills, queue depth, the
//! tick-to-order and order-to-fill histograms, leadership) and `/health` answers JSON with the
//! component's level and details. Plain HTTP/1.1 over a TCP socket, as a scraper sends it. The
//! gateway's order-to-fill histogram is fed on a bus across a network too, where a batch's
//! records are made before its reports go out (in process, after).
#![allow(clippy::unwrap_used, reason = "tests")]

mod cluster;
mod embedded;

use cluster::{market, spec, wait_for, Cluster};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use embedded::free_port;

/// `GET path` → (status code, body).
async fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of the first sample of `metric` whose labels include every one of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(metric) && !l.starts_with('#'))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_runtime_serves_its_metrics_and_health() {
    let c = Cluster::new("telemetry").await;
    c.register("n1", &[spec("p1", "0.01")]).await;
    let ports = [free_port(), free_port(), free_port()];
    let listen = |port: u16| format!("metrics_listen = \"127.0.0.1:{port}\"\n");
    let node = c.start_node_with("n1", &listen(ports[0]));
    let gateway = c.start_gateway_with(&listen(ports[1]));
    let scheduler = c.start_scheduler_with(&listen(ports[2]));
    c.publish(&market(0, 60), 0).await;
    wait_for("fills", Duration::from_secs(20), || async {
        c.fills("p1").await.len() >= 4
    })
    .await;
    wait_for(
        "the heartbeat exports the node's figures",
        Duration::from_secs(10),
        || async {
            let (_, text) = get(ports[0], "/metrics").await;
            sample(
                &text,
                "chimera_fills_total",
                &["component=\"n1\"", "portfolio=\"p1\""],
            )
            .is_some_and(|v| v >= 4.0)
        },
    )
    .await;
    // The gateway exports its figures at its checkpoints (every 250 ms at most).
    wait_for(
        "the gateway exports its fills",
        Duration::from_secs(10),
        || async {
            let (_, text) = get(ports[1], "/metrics").await;
            sample(&text, "chimera_gateway_fills_total", &["component=\"g1\""])
                .is_some_and(|v| v >= 4.0)
        },
    )
    .await;
    wait_for("the scheduler leads", Duration::from_secs(10), || async {
        let (_, text) = get(ports[2], "/metrics").await;
        sample(&text, "chimera_scheduler_leader", &["component=\"s1\""]) == Some(1.0)
    })
    .await;

    let (status, text) = get(ports[0], "/metrics").await;
    assert_eq!(status, 200);
    for (metric, labels) in [
        (
            "chimera_events_total",
            vec!["component=\"n1\"", "portfolio=\"p1\""],
        ),
        (
            "chimera_orders_total",
            vec!["component=\"n1\"", "portfolio=\"p1\""],
        ),
        ("chimera_queue_capacity", vec!["portfolio=\"p1\""]),
        (
            "chimera_tick_to_order_seconds_count",
            vec!["component=\"n1\""],
        ),
        (
            "chimera_order_to_fill_seconds_count",
            vec!["component=\"g1\""],
        ),
        ("chimera_gateway_fills_total", vec!["component=\"g1\""]),
        ("chimera_node_leases", vec!["component=\"n1\""]),
    ] {
        let value = sample(&text, metric, &labels);
        assert!(
            value.is_some_and(|v| v > 0.0),
            "{metric} {labels:?}: {value:?}\n{text}"
        );
    }
    for (port, component) in [(ports[0], "n1"), (ports[1], "g1"), (ports[2], "s1")] {
        let (status, body) = get(port, "/health").await;
        assert_eq!(status, 200, "{component}: {body}");
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["component"], component, "{health}");
        assert_eq!(health["status"], "ok", "{health}");
    }
    let (_, body) = get(ports[0], "/health").await;
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        health["details"]["portfolios"],
        serde_json::json!(["p1"]),
        "{health}"
    );
    let (status, _) = get(ports[0], "/nothing").await;
    assert_eq!(status, 404);
    c.trigger.trigger();
    node.await.unwrap().unwrap();
    gateway.await.unwrap().unwrap();
    scheduler.await.unwrap().unwrap();
}

/// The world's in-memory bus, seen as one across a network (`in_process` false).
struct AcrossANetwork(std::sync::Arc<dyn chimera_ports::EventBus>);

#[async_trait::async_trait]
impl chimera_ports::EventBus for AcrossANetwork {
    async fn publish(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> chimera_ports::PortResult<(i32, i64)> {
        self.0.publish(topic, key, payload).await
    }

    async fn publish_batch(
        &self,
        topic: &str,
        messages: &[(String, Vec<u8>)],
    ) -> chimera_ports::PortResult<()> {
        self.0.publish_batch(topic, messages).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
    ) -> chimera_ports::PortResult<Box<dyn chimera_ports::Subscription>> {
        self.0.subscribe(topic, group).await
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        after: &std::collections::BTreeMap<i32, i64>,
    ) -> chimera_ports::PortResult<Box<dyn chimera_ports::Subscription>> {
        self.0.subscribe_from(topic, group, after).await
    }

    async fn last_offsets(
        &self,
        topic: &str,
    ) -> chimera_ports::PortResult<std::collections::BTreeMap<i32, i64>> {
        self.0.last_offsets(topic).await
    }

    fn in_process(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_measures_order_to_fill_across_a_network_too() {
    use chimera_kernel::testing::bar;
    use chimera_kernel::time::Timestamp;
    use chimera_kernel::Decimal;
    use chimera_messages::{Topic, Topics};
    use std::sync::Arc;

    let world = embedded::World::new("telemetry-network").await;
    let (trigger, shutdown) = chimera_live::runtime::shutdown_pair();
    let node_rt = world.runtime("net.", "n1", &shutdown);
    let spec = embedded::never_trades("pp");
    chimera_live::node::register_portfolios(&node_rt, "n1", &[spec])
        .await
        .unwrap();
    let bars: Vec<_> = (0..5)
        .map(|minute| bar("BTCUSDT", minute, Decimal::from(40_000)))
        .collect();
    embedded::publish_btcusdt(&world.runtime("net.", "feed", &shutdown), &bars, 0).await;
    let order = embedded::market_buy("pp", 1, Timestamp(60_000));
    node_rt
        .publish_encoded(
            Topic::OrdersSubmission,
            &embedded::submit_messages(&node_rt, 1, order, true),
        )
        .await
        .unwrap();
    let port = free_port();
    let gateway_rt = Arc::new(chimera_live::runtime::Runtime::new(
        Arc::new(AcrossANetwork(world.bus.clone())) as Arc<dyn chimera_ports::EventBus>,
        Topics::new("net."),
        world.store.clone(),
        "g-net",
        shutdown.clone(),
    ));
    let config: chimera_live::config::GatewayConfig = toml::from_str(&format!(
        "id = \"g-net\"\nmetrics_listen = \"127.0.0.1:{port}\""
    ))
    .unwrap();
    let gateway_task =
        tokio::spawn(async move { chimera_live::gateway::run_gateway(gateway_rt, &config).await });
    embedded::wait_listening(port, "the gateway's metrics listener").await;
    wait_for(
        "the gateway's first fill measured",
        Duration::from_secs(10),
        || async {
            let (_, text) = get(port, "/metrics").await;
            sample(
                &text,
                "chimera_order_to_fill_seconds_count",
                &["component=\"g-net\""],
            )
            .is_some_and(|v| v >= 1.0)
        },
    )
    .await;
    trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    assert_eq!(figures.fills, 1, "{figures:?}");
    world.remove().await;
}
