//! The node's routers: read one topic, decode, dead-letter what cannot be decoded, hand each
//! message to the queues of the portfolios it concerns, and acknowledge a message on the bus
//! once every portfolio it went to has made its effects durable.

use super::queue::{ControlInput, Input, Origin, Pending, PortfolioQueue, Pressure};
use super::routes::{RouteTable, Routes};
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_kernel::ids::PortfolioId;
use chimera_messages::{decode, ControlCommand, Envelope, MessageType, ScheduleUpdate};
use chimera_ports::{Delivery, Subscription};
use chimera_runtime::runtime::{fatal, Runtime};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the routers hand the roster.
#[derive(Debug)]
pub(crate) enum RosterEvent {
    /// An assignment change.
    Schedule(ScheduleUpdate),
    /// Swap a portfolio to the configuration now in its record (control command
    /// `command_id`).
    Reload {
        portfolio: PortfolioId,
        command_id: String,
    },
}

/// A decoded message, ready to route.
enum Routed {
    Market(MarketEvent),
    Feedback(ExecutionReport),
    Control(ControlInput),
}

impl Routed {
    /// What a portfolio's queue receives.
    fn input(&self, origin: Origin, pending: Pending) -> Input {
        match self {
            Routed::Market(event) => Input::Market(event.clone(), origin, pending),
            Routed::Feedback(report) => Input::Feedback(report.clone(), origin, pending),
            Routed::Control(command) => Input::Control(command.clone(), origin, pending),
        }
    }
}

impl Routes {
    /// The portfolios of this node a message goes to: a market event to those trading its
    /// symbol, a report to its portfolio, a control command to its portfolio or to all.
    /// Borrowed on the hot path (market data): no allocation per event.
    fn targets(&self, routed: &Routed) -> Cow<'_, [(PortfolioId, Arc<PortfolioQueue>)]> {
        let one = |id: &PortfolioId| {
            self.by_portfolio
                .get(id)
                .map(|q| (id.clone(), Arc::clone(q)))
                .into_iter()
                .collect()
        };
        match routed {
            Routed::Market(event) => Cow::Borrowed(self.interest.get(event.symbol())),
            Routed::Feedback(report) => Cow::Owned(one(&report.portfolio_id)),
            // Not the engines': the scheduler's, or a reload (the roster's, sent there).
            Routed::Control(input) if input.command.to_control().is_none() => {
                Cow::Owned(Vec::new())
            }
            Routed::Control(input) => match input.command.portfolio() {
                Some(id) => Cow::Owned(one(id)),
                None => self
                    .by_portfolio
                    .iter()
                    .map(|(id, q)| (id.clone(), Arc::clone(q)))
                    .collect(),
            },
        }
    }
}

/// Deliveries in arrival order with the count of portfolios still handling each, kept without
/// their payloads ([`Delivery::acknowledgeable`]): behind a backlog they wait for the
/// portfolios' checkpoints by the tens of thousands.
struct Acks {
    fifo: VecDeque<(Delivery, Pending)>,
    /// When the last flush ran.
    flushed: std::time::Instant,
}

/// How often a busy router acknowledges what its portfolios have made durable.
const ACK_EVERY: Duration = Duration::from_millis(50);

impl Default for Acks {
    fn default() -> Self {
        Self {
            fifo: VecDeque::new(),
            flushed: std::time::Instant::now(),
        }
    }
}

impl Acks {
    /// Keeps `delivery` (decoded, or dead-lettered) until `pending` portfolios are done with it.
    fn hold(&mut self, delivery: Delivery, pending: Pending) {
        self.fifo.push_back((delivery.acknowledgeable(), pending));
    }

    /// Acknowledges, per partition, the newest of the deliveries every portfolio is done
    /// with (acknowledgement is cumulative).
    async fn flush(&mut self, sub: &mut Box<dyn Subscription>, rt: &Runtime) -> anyhow::Result<()> {
        self.flushed = std::time::Instant::now();
        let done = std::iter::from_fn(|| {
            self.fifo
                .front()
                .is_some_and(|(_, p)| p.load(Ordering::Acquire) == 0)
                .then(|| self.fifo.pop_front().map(|(d, _)| d))
                .flatten()
        });
        for d in &chimera_ports::newest_per_partition(done) {
            rt.ack(sub, d).await.map_err(|e| fatal("ack", &e))?;
        }
        Ok(())
    }
}

/// Which topic a router reads.
#[derive(Clone, Copy)]
pub(crate) enum Feed {
    Market,
    Feedback,
    Control,
    Schedule,
}

/// Reads `sub` until shutdown, handing each message to the portfolios it concerns; schedule
/// updates and reloads go to the node's roster.
pub(crate) async fn route(
    rt: Arc<Runtime>,
    table: Arc<RouteTable>,
    mut sub: Box<dyn Subscription>,
    feed: Feed,
    roster: mpsc::UnboundedSender<RosterEvent>,
) -> anyhow::Result<()> {
    let mut acks = Acks::default();
    let mut shutdown = rt.shutdown.clone();
    let mut streams = Streams::default();
    tokio::select! {
        () = table.opened() => {}
        () = shutdown.wait() => return Ok(()),
    }
    loop {
        let polled = tokio::select! {
            polled = sub.poll(Duration::from_millis(50)) => polled,
            () = shutdown.wait() => break,
        };
        let delivery = match polled {
            Ok(Some(d)) => d,
            Ok(None) => {
                acks.flush(&mut sub, &rt).await?;
                continue;
            }
            Err(e) if e.is_transient() => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => return Err(fatal("poll", &e)),
        };
        let stream = streams.name(&delivery);
        let origin = Origin {
            stream,
            offset: delivery.offset,
            read_at: std::time::Instant::now(),
        };
        let pending: Pending = Arc::new(AtomicUsize::new(0));
        // In process a message may come with the envelope it was encoded from
        // (`Delivery::shared`): taken as it is, not decoded again.
        let shared = delivery.shared.as_ref();
        let decoded = match feed {
            Feed::Market => match shared.and_then(|s| s.get::<Envelope<MarketEvent>>()) {
                Some(env) => Ok(Routed::Market(env.payload.clone())),
                None => decode::<MarketEvent>(&delivery.payload, MessageType::MarketEvent)
                    .map(|env| Routed::Market(env.payload)),
            },
            Feed::Feedback => match shared.and_then(|s| s.get::<Envelope<ExecutionReport>>()) {
                Some(env) => Ok(Routed::Feedback(env.payload.clone())),
                None => decode::<ExecutionReport>(&delivery.payload, MessageType::ExecutionReport)
                    .map(|env| Routed::Feedback(env.payload)),
            },
            Feed::Control => {
                decode::<ControlCommand>(&delivery.payload, MessageType::ControlCommand).map(
                    |env| {
                        if let ControlCommand::Reload { portfolio_id } = &env.payload {
                            // The roster outlives the routers; if it is gone the node stops.
                            drop(roster.send(RosterEvent::Reload {
                                portfolio: portfolio_id.clone(),
                                command_id: env.id.clone(),
                            }));
                        }
                        Routed::Control(ControlInput {
                            id: env.id,
                            command: env.payload,
                        })
                    },
                )
            }
            Feed::Schedule => {
                // Read by the node itself: no portfolio consumes it.
                match decode::<ScheduleUpdate>(&delivery.payload, MessageType::ScheduleUpdate) {
                    // The roster outlives the routers; if it is gone the node is stopping.
                    Ok(env) => drop(roster.send(RosterEvent::Schedule(env.payload))),
                    Err(error) => rt
                        .dead_letter(&delivery, &error)
                        .await
                        .map_err(|e| fatal("dead letter", &e))?,
                }
                acks.hold(delivery, pending);
                continue;
            }
        };
        let routed = match decoded {
            Ok(routed) => routed,
            Err(error) => {
                rt.dead_letter(&delivery, &error)
                    .await
                    .map_err(|e| fatal("dead letter", &e))?;
                acks.hold(delivery, pending);
                continue;
            }
        };
        // Portfolios of other nodes are not in the maps: nothing to do, acknowledged in turn.
        let routes = table.route(&origin.stream, origin.offset);
        let targets = routes.targets(&routed);
        pending.store(targets.len(), Ordering::Release);
        for (portfolio, queue) in targets.iter() {
            let input = routed.input(origin.clone(), Arc::clone(&pending));
            let (_, change) = queue.push(input).await;
            pressure(&rt, portfolio, queue, change);
        }
        // After the hand-over: letting the payload go is not the portfolios' wait.
        acks.hold(delivery, pending);
        // An acknowledgement is a round trip to the bus (a synchronous commit on Kafka): at
        // most one per ACK_EVERY under load, at once when the topic goes quiet.
        if acks.fifo.len() >= 64 && acks.flushed.elapsed() >= ACK_EVERY {
            // The portfolios just handed this message decide it first: on one thread they
            // would otherwise wait for the flush (dropping the deliveries it releases took
            // 30-35 µs in process, the slowest bars' tick-to-order).
            tokio::task::yield_now().await;
            acks.flush(&mut sub, &rt).await?;
        }
    }
    acks.flush(&mut sub, &rt).await
}

/// The name (`topic/partition`) of each stream a router reads, made once per stream.
#[derive(Default)]
struct Streams {
    /// The stream of the last delivery: nearly every delivery is of the same one, found
    /// without hashing its topic.
    last: Option<(Arc<str>, i32, Arc<str>)>,
    named: HashMap<(Arc<str>, i32), Arc<str>>,
}

impl Streams {
    fn name(&mut self, d: &Delivery) -> Arc<str> {
        if let Some((topic, partition, name)) = &self.last {
            if *partition == d.partition && (Arc::ptr_eq(topic, &d.topic) || *topic == d.topic) {
                return Arc::clone(name);
            }
        }
        let name = Arc::clone(
            self.named
                .entry((Arc::clone(&d.topic), d.partition))
                .or_insert_with(|| format!("{}/{}", d.topic, d.partition).into()),
        );
        self.last = Some((Arc::clone(&d.topic), d.partition, Arc::clone(&name)));
        name
    }
}

fn pressure(
    rt: &Runtime,
    portfolio: &PortfolioId,
    queue: &PortfolioQueue,
    change: Option<Pressure>,
) {
    if let Some(level) = change {
        super::queue::pressure_alert(rt, portfolio, queue, level);
    }
}

#[cfg(test)]
mod tests {
    use super::{Acks, Streams};
    use chimera_ports::Delivery;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn delivery(topic: &str, partition: i32) -> Delivery {
        Delivery {
            topic: Arc::from(topic),
            key: Arc::from("BTCUSDT"),
            payload: Vec::new().into(),
            partition,
            offset: 0,
            shared: None,
        }
    }

    #[test]
    fn each_stream_is_named_once_whatever_the_order_deliveries_come_in() {
        let mut streams = Streams::default();
        let first = streams.name(&delivery("market.data", 0));
        assert_eq!(&*first, "market.data/0");
        let other = streams.name(&delivery("market.data", 1));
        assert_eq!(&*other, "market.data/1");
        let again = streams.name(&delivery("market.data", 0));
        assert!(
            Arc::ptr_eq(&first, &again),
            "a stream seen before keeps its name"
        );
        assert!(Arc::ptr_eq(
            &again,
            &streams.name(&delivery("market.data", 0))
        ));
        assert_eq!(
            &*streams.name(&delivery("orders.feedback", 0)),
            "orders.feedback/0"
        );
    }

    #[test]
    fn what_waits_for_its_acknowledgement_keeps_no_payload() {
        let mut acks = Acks::default();
        let mut read = delivery("market.data", 3);
        read.offset = 41;
        read.payload = vec![b'x'; 500].into();
        acks.hold(read, Arc::new(AtomicUsize::new(1)));
        let (held, _) = acks.fifo.front().expect("held");
        assert!(held.payload.is_empty(), "the payload is let go");
        assert!(held.shared.is_none());
        assert_eq!(
            (&*held.topic, held.partition, held.offset),
            ("market.data", 3, 41),
            "what the acknowledgement needs is kept"
        );
    }
}
