//! When the gateway publishes what its commands reported: on an in-process bus each command's
//! reports go out as soon as it has run, before the next command is read (a batch saves no
//! round trip there, and the first order of a pair need not wait for the second); on a bus
//! across a network, once per batch of commands, in one round trip.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use async_trait::async_trait;
use chimera_kernel::engine::Command;
use chimera_kernel::ids::{ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::CancelRequest;
use chimera_kernel::time::Timestamp;
use chimera_live::config::GatewayConfig;
use chimera_live::gateway;
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_messages::{MessageType, Topic, Topics};
use chimera_ports::{Delivery, EventBus, PortResult, Subscription};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The world's in-memory bus, seen by the gateway: counts the order commands its
/// subscriptions hand out, notes that count at each report published, and says it is in
/// process or not as told.
struct Watched {
    inner: Arc<dyn EventBus>,
    in_process: bool,
    commands_read: Arc<AtomicUsize>,
    /// Commands read when each report was published.
    read_at_report: Mutex<Vec<usize>>,
}

#[async_trait]
impl EventBus for Watched {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)> {
        if topic.ends_with("orders.feedback") {
            let read = self.commands_read.load(Ordering::SeqCst);
            self.read_at_report.lock().unwrap().push(read);
        }
        self.inner.publish(topic, key, payload).await
    }

    async fn subscribe(&self, topic: &str, group: &str) -> PortResult<Box<dyn Subscription>> {
        self.subscribe_from(topic, group, &BTreeMap::new()).await
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        after: &BTreeMap<i32, i64>,
    ) -> PortResult<Box<dyn Subscription>> {
        Ok(Box::new(Counted {
            inner: self.inner.subscribe_from(topic, group, after).await?,
            commands_read: Arc::clone(&self.commands_read),
        }))
    }

    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>> {
        self.inner.last_offsets(topic).await
    }

    fn in_process(&self) -> bool {
        self.in_process
    }
}

struct Counted {
    inner: Box<dyn Subscription>,
    commands_read: Arc<AtomicUsize>,
}

#[async_trait]
impl Subscription for Counted {
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>> {
        let polled = self.inner.poll(max_wait).await?;
        if let Some(d) = &polled {
            if chimera_messages::message_type(&d.payload) == Some(MessageType::OrderCommand) {
                self.commands_read.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(polled)
    }

    async fn ack(&mut self, delivery: &Delivery) -> PortResult<()> {
        self.inner.ack(delivery).await
    }
}

/// Runs a simulated venue's gateway over a bus that says it is `in_process` or not, on three
/// cancels of orders the venue never had, all on the bus before the gateway starts (so one
/// batch); returns how many commands it had read when it published each of the three
/// rejections.
async fn commands_read_at_each_report(in_process: bool) -> Vec<usize> {
    let world = embedded::World::new(&format!("gateway-publishing-{in_process}")).await;
    let (trigger, shutdown) = shutdown_pair();
    let node_rt = world.runtime("pub.", "n1", &shutdown);
    for n in 0..3 {
        let cancel = CancelRequest {
            portfolio_id: PortfolioId::new("pp"),
            client_order_id: ClientOrderId::new(format!("never-sent-{n}")),
            symbol: Symbol::new("BTCUSDT"),
            created_at: Timestamp(60_000),
        };
        node_rt
            .publish(
                Topic::OrdersSubmission,
                MessageType::OrderCommand,
                format!("cancel:{n}"),
                "pp",
                &Command::Cancel(cancel),
            )
            .await
            .unwrap();
    }
    let watched = Arc::new(Watched {
        inner: world.bus.clone(),
        in_process,
        commands_read: Arc::default(),
        read_at_report: Mutex::default(),
    });
    let gateway_rt = Arc::new(Runtime::new(
        Arc::clone(&watched) as Arc<dyn EventBus>,
        Topics::new("pub."),
        world.store.clone(),
        "g1",
        shutdown.clone(),
    ));
    let config: GatewayConfig = toml::from_str("id = \"g1\"").unwrap();
    let gateway_task = tokio::spawn(async move { gateway::run_gateway(gateway_rt, &config).await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while watched.read_at_report.lock().unwrap().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    trigger.trigger();
    gateway_task.await.unwrap().unwrap();
    world.remove().await;
    let read = watched.read_at_report.lock().unwrap().clone();
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_each_commands_reports_go_out_before_the_next_command_is_read() {
    assert_eq!(commands_read_at_each_report(true).await, vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_a_network_a_batch_of_commands_reports_in_one_round_trip() {
    assert_eq!(commands_read_at_each_report(false).await, vec![3, 3, 3]);
}
