//! The node's routers: read one topic, decode, dead-letter what cannot be decoded, hand each
//! message to the queues of the portfolios it concerns, and acknowledge a message on the bus
//! once every portfolio it went to has made its effects durable.

use super::queue::{Input, Origin, Pending, PortfolioQueue, Pressure};
use crate::runtime::{fatal, Runtime};
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_messages::{decode, MessageType};
use chimera_ports::{Delivery, Subscription};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which portfolios want what.
pub(crate) struct Routes {
    /// Symbol → queues of the portfolios trading it (the interest map).
    pub(crate) interest: HashMap<Symbol, Vec<(PortfolioId, Arc<PortfolioQueue>)>>,
    /// Portfolio → its queue.
    pub(crate) by_portfolio: HashMap<PortfolioId, Arc<PortfolioQueue>>,
}

/// Deliveries in arrival order with the count of portfolios still handling each.
#[derive(Default)]
struct Acks {
    fifo: VecDeque<(Delivery, Pending)>,
}

impl Acks {
    async fn flush(&mut self, sub: &mut Box<dyn Subscription>, rt: &Runtime) -> anyhow::Result<()> {
        let mut last: HashMap<(String, i32), Delivery> = HashMap::new();
        while self
            .fifo
            .front()
            .is_some_and(|(_, p)| p.load(Ordering::Acquire) == 0)
        {
            if let Some((d, _)) = self.fifo.pop_front() {
                last.insert((d.topic.clone(), d.partition), d);
            }
        }
        for d in last.values() {
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
}

pub(crate) async fn route(
    rt: Arc<Runtime>,
    routes: Arc<Routes>,
    mut sub: Box<dyn Subscription>,
    feed: Feed,
) -> anyhow::Result<()> {
    let mut acks = Acks::default();
    let mut shutdown = rt.shutdown.clone();
    let mut streams: HashMap<(String, i32), Arc<str>> = HashMap::new();
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
        let stream = streams
            .entry((delivery.topic.clone(), delivery.partition))
            .or_insert_with(|| format!("{}/{}", delivery.topic, delivery.partition).into())
            .clone();
        let origin = Origin {
            stream,
            offset: delivery.offset,
        };
        let pending: Pending = Arc::new(AtomicUsize::new(0));
        match feed {
            Feed::Market => {
                match decode::<MarketEvent>(&delivery.payload, MessageType::MarketEvent) {
                    Ok(envelope) => {
                        let event = envelope.payload;
                        let targets = routes
                            .interest
                            .get(event.symbol())
                            .map_or(&[][..], Vec::as_slice);
                        pending.store(targets.len(), Ordering::Release);
                        acks.fifo.push_back((delivery, Arc::clone(&pending)));
                        for (portfolio, queue) in targets {
                            let input =
                                Input::Market(event.clone(), origin.clone(), Arc::clone(&pending));
                            let (_, change) = queue.push(input).await;
                            pressure(&rt, portfolio, queue, change).await;
                        }
                    }
                    Err(error) => {
                        rt.dead_letter(&delivery, &error)
                            .await
                            .map_err(|e| fatal("dead letter", &e))?;
                        acks.fifo.push_back((delivery, pending));
                    }
                }
            }
            Feed::Feedback => {
                match decode::<ExecutionReport>(&delivery.payload, MessageType::ExecutionReport) {
                    Ok(envelope) => {
                        let report = envelope.payload;
                        if let Some(queue) = routes.by_portfolio.get(&report.portfolio_id) {
                            pending.store(1, Ordering::Release);
                            acks.fifo.push_back((delivery, Arc::clone(&pending)));
                            let portfolio = report.portfolio_id.clone();
                            let (_, change) = queue
                                .push(Input::Feedback(report, origin, Arc::clone(&pending)))
                                .await;
                            pressure(&rt, &portfolio, queue, change).await;
                        } else {
                            // Another node's portfolio.
                            acks.fifo.push_back((delivery, pending));
                        }
                    }
                    Err(error) => {
                        rt.dead_letter(&delivery, &error)
                            .await
                            .map_err(|e| fatal("dead letter", &e))?;
                        acks.fifo.push_back((delivery, pending));
                    }
                }
            }
        }
        if acks.fifo.len() >= 64 {
            acks.flush(&mut sub, &rt).await?;
        }
    }
    acks.flush(&mut sub, &rt).await
}

async fn pressure(
    rt: &Runtime,
    portfolio: &PortfolioId,
    queue: &PortfolioQueue,
    change: Option<Pressure>,
) {
    if let Some(level) = change {
        super::worker::pressure_alert(rt, portfolio, queue, level).await;
    }
}
