//! The feed over the market-data port: any [`MarketDataSource`] (a venue's feed, here a
//! scripted one) is published to `market.data`; an undecodable record is dead-lettered with
//! its reason and bytes, a transient failure is retried, and nothing else is lost. Runs on the
//! in-memory bus and a SQLite file, so it needs no servers.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use async_trait::async_trait;
use chimera_kernel::event::{Bar, MarketEvent};
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_live::feed::{publish_source, FeedOptions};
use chimera_live::runtime::shutdown_pair;
use chimera_messages::{decode, Envelope, MessageType};
use chimera_ports::{
    AuditKind, AuditRepository, EventBus, MarketDataSource, PortError, PortResult,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// What a scripted venue feed yields, in order.
enum Step {
    Event(i64),
    Garbage(&'static str),
    Outage,
}

struct ScriptedVenueFeed(VecDeque<Step>);

#[async_trait]
impl MarketDataSource for ScriptedVenueFeed {
    async fn next(&mut self) -> PortResult<Option<MarketEvent>> {
        match self.0.pop_front() {
            None => Ok(None),
            Some(Step::Event(ts)) => {
                let p = "100".parse().unwrap();
                Ok(Some(MarketEvent::Bar(Bar {
                    symbol: Symbol::new("BTCUSDT"),
                    ts: Timestamp(ts),
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: "1".parse().unwrap(),
                })))
            }
            Some(Step::Garbage(raw)) => Err(PortError::Codec {
                message: "frame is not a kline".into(),
                bytes: raw.as_bytes().to_vec(),
            }),
            Some(Step::Outage) => Err(PortError::transient("websocket", "connection reset")),
        }
    }
}

#[tokio::test]
async fn a_venue_feed_is_published_with_bad_records_dead_lettered() {
    let world = embedded::World::new("feed-source").await;
    let (store, bus) = (world.store.clone(), world.bus.clone());
    let (_trigger, shutdown) = shutdown_pair();
    let rt = Arc::new(world.runtime("t.", "feed-ws", &shutdown));
    let mut market = bus.subscribe("t.market.data", "reader").await.unwrap();
    let mut letters = bus.subscribe("t.dead.letters", "reader").await.unwrap();
    let mut source = ScriptedVenueFeed(VecDeque::from([
        Step::Event(60_000),
        Step::Garbage("{\"e\":\"kline\",\"k\":"),
        Step::Outage,
        Step::Event(120_000),
        Step::Outage,
        Step::Event(180_000),
    ]));
    let options = FeedOptions {
        id: "ws".into(),
        speed: 0.0,
        resumable: false,
        duration: None,
    };
    let published = publish_source(rt, &mut source, &options).await.unwrap();
    assert_eq!(published, 3, "every decodable event, across two outages");

    let mut times = Vec::new();
    while let Some(d) = market.poll(Duration::from_millis(100)).await.unwrap() {
        let envelope: Envelope<MarketEvent> = decode(&d.payload, MessageType::MarketEvent).unwrap();
        assert_eq!(&*d.key, "BTCUSDT", "keyed by symbol");
        times.push(envelope.payload.ts().0);
    }
    assert_eq!(times, [60_000, 120_000, 180_000]);

    let letter = letters
        .poll(Duration::from_millis(100))
        .await
        .unwrap()
        .expect("the garbage record is on the dead-letter topic");
    let text = String::from_utf8_lossy(&letter.payload).into_owned();
    assert!(text.contains("frame is not a kline"), "{text}");
    let recorded = store.recent(AuditKind::DeadLetter, 10).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert!(
        recorded[0].body.contains("source:ws"),
        "{}",
        recorded[0].body
    );
    assert!(
        recorded[0].body.contains(r#"{\"e\":\"kline\",\"k\":"#),
        "the raw bytes are kept: {}",
        recorded[0].body
    );
    world.remove().await;
}
