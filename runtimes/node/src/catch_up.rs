//! Catching a portfolio up when it starts on a node.
//!
//! The node's routers read its consumer groups, whose committed positions follow the
//! portfolios the node ran so far: a portfolio that arrives (moved here by the scheduler, or
//! restored after a crash in the middle of such a move) may have missed messages those groups
//! already passed. So before it takes its first routed input, the worker reads, for each topic
//! it consumes, everything after its checkpoint's applied offsets up to where each partition
//! ends at that moment ([`chimera_ports::EventBus::last_offsets`]), in a fresh consumer group
//! positioned right after those offsets ([`chimera_ports::EventBus::subscribe_from`]), and
//! stops earlier where the routers take over: they tell, per partition, the offset from which
//! they hand it everything ([`crate::routes::Joined::handed_from`]). A node starting up reads
//! each message once, through its routers, instead of once more per portfolio.
//!
//! The portfolio is registered with the routers before the catch-up starts, so whatever is
//! published later reaches its queue; the two overlap, never leave a gap, and the overlap is
//! skipped by offset like any redelivery. Feedback and control are read before market data:
//! a fill the previous node never applied is older than the bars that follow it.
//! Undecodable messages are skipped here (the routers dead-letter them).
//!
//! Around the catch-up, a worker that runs under a scheduler's epoch first claims the
//! portfolio on `orders.submission` (the gateway's fence point), and afterwards sends again the
//! orders its restored state is still waiting to hear about. On a bus that lives in the process
//! (`chimera up`'s in-memory bus), the last run's bus ended with it, and with it any command the
//! gateway had not read and any report this node had not applied: a restored worker sends
//! again every order still open in its state, and the gateway, idempotent by intent id, executes
//! what it never had and tells again what it did.

use super::queue::{ControlInput, Input, Origin};
use super::routes::{CatchUp, Joined};
use super::worker::Worker;
use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_messages::{decode, ControlCommand, MessageType, Topic};
use chimera_ports::Delivery;
use chimera_runtime::runtime::{fatal, Runtime};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The topics a portfolio consumes, in catch-up order.
const TOPICS: [(Topic, &str); 3] = [
    (Topic::OrdersFeedback, "feedback"),
    (Topic::ControlCommands, "control"),
    (Topic::MarketData, "market"),
];

impl Worker {
    /// Reads, on every topic, what the checkpoint has not applied and the routers will not
    /// hand it (what they had read before it joined them); returns the inputs applied.
    /// `Ok(None)` when shutdown was asked or the portfolio was moved away meanwhile.
    ///
    /// # Errors
    /// A fatal bus or database failure.
    pub(crate) async fn catch_up(
        &mut self,
        rt: &std::sync::Arc<Runtime>,
        plan: &CatchUp,
    ) -> anyhow::Result<Option<u64>> {
        let mut applied = 0;
        for (topic, short) in TOPICS {
            let name = rt.topics.name(topic);
            // At node start-up the routers subscribe while the first portfolios start: wait for
            // the topic's router, whose subscription tells where it begins.
            let mut shutdown = rt.shutdown.clone();
            let mut stop = self.stop.clone();
            tokio::select! {
                () = plan.joined.router_subscribed(&name) => {}
                () = shutdown.wait() => return Ok(None),
                _ = stop.wait_for(|stop| *stop) => return Ok(None),
            }
            let last = rt
                .retry("read last offsets", || rt.bus.last_offsets(&name))
                .await
                .map_err(|e| fatal("read last offsets", &e))?;
            let after: BTreeMap<i32, i64> = self
                .applied
                .iter()
                .filter_map(|(stream, &offset)| {
                    let (t, partition) = stream.rsplit_once('/')?;
                    (t == name).then(|| partition.parse().ok().map(|p| (p, offset)))?
                })
                .collect();
            let mut gaps = Gaps::new(&name, &last, &after);
            gaps.narrow(&plan.joined);
            if gaps.is_empty() {
                continue;
            }
            let group = rt.topics.group(&format!("{}.{short}", plan.group));
            let mut sub = rt
                .retry("subscribe for catch-up", || {
                    rt.bus.subscribe_from(&name, &group, &after)
                })
                .await
                .map_err(|e| fatal("subscribe for catch-up", &e))?;
            let mut batch = Vec::with_capacity(self.batch_max);
            let mut newest: Option<Delivery> = None;
            while !gaps.is_empty() {
                if self.stopping() {
                    return Ok(None);
                }
                let polled = tokio::select! {
                    polled = sub.poll(Duration::from_millis(200)) => polled,
                    () = shutdown.wait() => return Ok(None),
                };
                let delivery = match polled {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        gaps.narrow(&plan.joined);
                        continue;
                    }
                    Err(e) if e.is_transient() => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    Err(e) => return Err(fatal("catch-up poll", &e)),
                };
                gaps.reached(delivery.partition, delivery.offset);
                gaps.narrow(&plan.joined);
                if let Some(input) = self.relevant(topic, &delivery) {
                    batch.push(input);
                }
                if batch.len() >= self.batch_max || (gaps.is_empty() && !batch.is_empty()) {
                    self.process(rt, &batch).await?;
                    applied += batch.len() as u64;
                    batch.clear();
                }
                newest = Some(delivery);
            }
            // Acknowledged so the throw-away group keeps nothing pending on the bus.
            if let Some(delivery) = newest {
                if let Err(e) = sub.ack(&delivery).await {
                    tracing::debug!(portfolio = %self.id, "catch-up ack: {e}");
                }
            }
        }
        if applied > 0 {
            tracing::info!(portfolio = %self.id, "caught up: {applied} input(s) applied");
        }
        Ok(Some(applied))
    }

    /// Claims the portfolio under this worker's epoch on `orders.submission`, before sending
    /// anything for it: from that point of the stream on, the gateway refuses older epochs
    /// ([`chimera_messages::EpochClaim`]). Nothing to claim without a scheduler (epoch 0).
    pub(crate) async fn claim(&mut self, rt: &Runtime) -> anyhow::Result<()> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if epoch == 0 {
            return Ok(());
        }
        let claim = chimera_messages::EpochClaim {
            portfolio_id: self.id.clone(),
            epoch,
            node: rt.source.clone(),
        };
        rt.publish_fenced(
            Topic::OrdersSubmission,
            MessageType::EpochClaim,
            format!("claim:{}:{epoch}", self.id),
            self.id.as_str(),
            &claim,
            Some(epoch),
        )
        .await
        .map_err(|e| fatal("claim the portfolio", &e))?;
        Ok(())
    }

    /// Sends again, under this worker's epoch, every order of `restored` ([`Self::restored_pending`])
    /// still open and, but on a bus that lived in the last process, still pending, that catching
    /// up has not resolved: the previous owner's copy may still be queued behind this worker's
    /// claim, where the gateway refuses it, which would leave the order pending forever. The
    /// gateway is idempotent by intent id, so a copy it did execute is answered with its
    /// recorded reports instead of being executed twice. On a bus that lived in the last
    /// process, an order whose cancel was asked gets its cancel again too (the cancel may have
    /// died with the bus; a second one is answered as rejected, which changes nothing).
    pub(crate) async fn resend_pending(
        &mut self,
        rt: &Runtime,
        restored: &[chimera_kernel::ids::ClientOrderId],
    ) -> anyhow::Result<()> {
        let any_open = rt.bus.in_process();
        let mut pending: Vec<Command> = Vec::new();
        for order in self.set.engine(0).open_orders().filter(|o| {
            (any_open || o.status == chimera_kernel::order::OrderStatus::PendingNew)
                && restored.contains(&o.intent.client_order_id)
        }) {
            pending.push(Command::Submit(order.intent.clone()));
            if any_open && order.cancel_requested {
                pending.push(Command::Cancel(chimera_kernel::order::CancelRequest {
                    portfolio_id: order.intent.portfolio_id.clone(),
                    client_order_id: order.intent.client_order_id.clone(),
                    symbol: order.intent.symbol.clone(),
                    created_at: order.updated_at,
                }));
            }
        }
        if !pending.is_empty() {
            tracing::info!(
                portfolio = %self.id,
                "sending {} pending order(s) again under epoch {}",
                pending.len(),
                self.epoch.load(Ordering::Acquire)
            );
            self.publish(&mut pending, std::time::Instant::now())
                .await?;
        }
        Ok(())
    }

    /// The orders to send again after catching up ([`Self::resend_pending`]): on a bus that
    /// lived in the last process, every order the restored state has open (a command or a
    /// report of any of them may have died with that bus); otherwise, when the worker runs
    /// under a scheduler's epoch (only then can a previous owner's copy have been fenced), those
    /// it has sent but heard nothing of.
    pub(crate) fn restored_pending(&self, rt: &Runtime) -> Vec<chimera_kernel::ids::ClientOrderId> {
        let any_open = rt.bus.in_process();
        if self.epoch.load(Ordering::Acquire) == 0 && !any_open {
            return Vec::new();
        }
        self.set
            .engine(0)
            .open_orders()
            .filter(|o| any_open || o.status == chimera_kernel::order::OrderStatus::PendingNew)
            .map(|o| o.intent.client_order_id.clone())
            .collect()
    }

    /// The input `delivery` is for this portfolio, if it is one of its own.
    fn relevant(&self, topic: Topic, delivery: &Delivery) -> Option<Input> {
        let origin = Origin {
            stream: format!("{}/{}", delivery.topic, delivery.partition).into(),
            offset: delivery.offset,
            read_at: std::time::Instant::now(),
        };
        if self
            .applied
            .get(origin.stream.as_ref())
            .is_some_and(|&done| done >= origin.offset)
        {
            return None;
        }
        // Counted by no router: the worker's decrement after applying is harmless.
        let pending = Arc::new(AtomicUsize::new(1));
        let payload = &delivery.payload;
        match topic {
            Topic::MarketData => {
                let event = decode::<MarketEvent>(payload, MessageType::MarketEvent)
                    .ok()?
                    .payload;
                let trades = self
                    .set
                    .engine(0)
                    .portfolio()
                    .instruments
                    .contains_key(event.symbol());
                trades.then_some(Input::Market(event, origin, pending))
            }
            Topic::OrdersFeedback => {
                let report = decode::<ExecutionReport>(payload, MessageType::ExecutionReport)
                    .ok()?
                    .payload;
                let mine = report.portfolio_id == self.id;
                mine.then_some(Input::Feedback(report, origin, pending))
            }
            Topic::ControlCommands => {
                let envelope =
                    decode::<ControlCommand>(payload, MessageType::ControlCommand).ok()?;
                let command = envelope.payload;
                // Scheduler commands and reloads are not the engine's (a reload missed while the
                // portfolio moved is the new configuration's, read at restore).
                let mine = command.portfolio().is_none_or(|p| *p == self.id)
                    && command.to_control().is_some();
                mine.then_some(Input::Control(
                    ControlInput {
                        id: envelope.id,
                        command,
                    },
                    origin,
                    pending,
                ))
            }
            _ => None,
        }
    }
}

/// Per partition of one topic, what catching up still has to read: up to the partition's end
/// when the catch-up began, or only up to where the routers take over
/// ([`Joined::handed_from`]), whichever comes first.
struct Gaps {
    topic: String,
    /// Partition → (last offset covered so far, last offset to cover).
    open: BTreeMap<i32, (i64, i64)>,
}

impl Gaps {
    /// `last`: each partition's newest offset now; `after`: what the checkpoint applied (a
    /// partition it does not name starts before offset 0).
    fn new(topic: &str, last: &BTreeMap<i32, i64>, after: &BTreeMap<i32, i64>) -> Self {
        let open = last
            .iter()
            .map(|(&p, &end)| (p, (after.get(&p).copied().unwrap_or(-1), end)))
            .filter(|(_, (covered, end))| covered < end)
            .collect();
        Self {
            topic: topic.to_owned(),
            open,
        }
    }

    /// Stops each partition where the routers take over, once that is known.
    fn narrow(&mut self, joined: &Joined) {
        let topic = &self.topic;
        self.open.retain(|p, (covered, end)| {
            if let Some(from) = joined.handed_from(&format!("{topic}/{p}")) {
                *end = (*end).min(from.saturating_sub(1));
            }
            covered < end
        });
    }

    /// The catch-up has read `offset` of `partition` (and what came before it there).
    fn reached(&mut self, partition: i32, offset: i64) {
        if let Some((covered, end)) = self.open.get_mut(&partition) {
            *covered = (*covered).max(offset);
            if covered >= end {
                self.open.remove(&partition);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::RouteTable;

    #[test]
    fn a_catch_up_reads_only_what_the_routers_will_not_hand_over() {
        let table = Arc::new(RouteTable::default());
        // The router has routed partition 0 up to 40 before the portfolio joined.
        table.route(&Arc::from("md/0"), 40);
        let queue = Arc::new(crate::queue::PortfolioQueue::new(4));
        let portfolio = chimera_kernel::portfolio::Portfolio::new(
            chimera_kernel::ids::PortfolioId::new("p"),
            chimera_kernel::ids::Asset::new("USDT"),
        );
        let joined = table.add(&portfolio, &queue);
        let last = BTreeMap::from([(0, 99), (1, 99), (2, 99), (3, 5)]);
        let after = BTreeMap::from([(0, 10), (3, 5)]);
        let mut gaps = Gaps::new("md", &last, &after);
        // Partition 3 is applied to its end already.
        assert_eq!(gaps.open.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
        gaps.narrow(&joined);
        assert_eq!(gaps.open[&0], (10, 40));
        assert_eq!(
            gaps.open[&1],
            (-1, 99),
            "not read by the routers yet: to the end"
        );
        // The routers start partition 1 at its beginning: nothing there to catch up on;
        // partition 2 at 60: up to 59.
        table.route(&Arc::from("md/1"), 0);
        table.route(&Arc::from("md/2"), 60);
        gaps.narrow(&joined);
        assert_eq!(gaps.open.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(gaps.open[&2], (-1, 59));
        gaps.reached(0, 40);
        gaps.reached(2, 58);
        assert!(!gaps.is_empty());
        gaps.reached(2, 61);
        assert!(gaps.is_empty());
    }
}
