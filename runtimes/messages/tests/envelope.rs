//! Envelopes round-trip every payload, keep decimals as strings, and dead-letter garbage.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::testing::{bar, fill_report, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_memory::MemoryEventBus;
use chimera_messages::{
    decode, encode, Alert, AlertLevel, DeadLetter, DeadLetters, Envelope, MessageType, Topic,
    Topics, SCHEMA_VERSION,
};
use chimera_ports::EventBus;
use std::time::Duration;

fn intent() -> OrderIntent {
    let intent_id = IntentId::new("p1-0");
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: PortfolioId::new("p1"),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Sell,
        qty: qty(Decimal::new(125, 3)),
        kind: OrderKind::Limit {
            price: px(Decimal::new(4_200_050, 2)),
            post_only: true,
        },
        time_in_force: TimeInForce::Gtc,
        reduce_only: true,
        close_position: false,
        created_at: Timestamp(1),
        tag: "close".into(),
    }
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    kind: MessageType,
    payload: T,
) -> String {
    let envelope = Envelope::new(
        kind,
        "m-1",
        Timestamp(1_700_000_000_000),
        "test",
        "k",
        payload,
    );
    let bytes = encode(&envelope);
    assert_eq!(decode::<T>(&bytes, kind).unwrap(), envelope);
    String::from_utf8(bytes).unwrap()
}

#[test]
fn every_payload_round_trips_with_decimals_as_strings() {
    let json = round_trip(
        MessageType::MarketEvent,
        bar("BTCUSDT", 3, Decimal::new(4_200_050, 2)),
    );
    assert!(json.contains(r#""close":"42000.5""#), "{json}");
    assert!(
        json.contains(r#""schema":1"#) && json.contains(r#""type":"market_event""#),
        "{json}"
    );
    let json = round_trip(MessageType::OrderCommand, Command::Submit(intent()));
    assert!(
        json.contains(r#""qty":"0.125""#) && json.contains(r#""price":"42000.5""#),
        "{json}"
    );
    let report: ExecutionReport = fill_report(
        &ClientOrderId::new("c-p1-0"),
        "t-1",
        Decimal::new(4_200_050, 2),
        Decimal::ONE,
        Decimal::new(-105, 4),
        true,
    );
    let json = round_trip(MessageType::ExecutionReport, report);
    assert!(json.contains(r#""amount":"-0.0105""#), "{json}");
    round_trip(
        MessageType::Alert,
        Alert {
            level: AlertLevel::Critical,
            code: chimera_messages::AlertCode::QueuePressure,
            message: "95%".into(),
            portfolio: Some(PortfolioId::new("p1")),
        },
    );
}

#[test]
fn decoding_refuses_wrong_type_future_schema_and_garbage_keeping_the_bytes() {
    let envelope = Envelope::new(
        MessageType::MarketEvent,
        "m",
        Timestamp(0),
        "t",
        "k",
        bar("X", 0, Decimal::ONE),
    );
    let bytes = encode(&envelope);
    let err = decode::<ExecutionReport>(&bytes, MessageType::ExecutionReport).unwrap_err();
    assert!(
        err.reason.contains("expected a ExecutionReport"),
        "{}",
        err.reason
    );
    assert_eq!(err.bytes, bytes);
    let future = String::from_utf8(bytes).unwrap().replace(
        r#""schema":1"#,
        &format!(r#""schema":{}"#, SCHEMA_VERSION + 1),
    );
    assert!(
        decode::<MarketEvent>(future.as_bytes(), MessageType::MarketEvent)
            .unwrap_err()
            .reason
            .contains("unsupported schema")
    );
    let garbage = decode::<MarketEvent>(b"\xff\x00not json", MessageType::MarketEvent).unwrap_err();
    assert_eq!(garbage.bytes, b"\xff\x00not json");
    let bad_payload = br#"{"schema":1,"type":"market_event","id":"m","ts":0,"source":"s","key":"k","payload":{"type":"bar","close":"-1"}}"#;
    assert!(decode::<MarketEvent>(bad_payload, MessageType::MarketEvent)
        .unwrap_err()
        .reason
        .contains("bad MarketEvent payload"));
}

#[tokio::test]
async fn undecodable_deliveries_are_dead_lettered_with_reason_and_bytes() {
    let bus = MemoryEventBus::new();
    let topics = Topics::new("chimera.test.");
    let market = topics.name(Topic::MarketData);
    bus.publish(&market, "BTCUSDT", b"\xfe garbage")
        .await
        .unwrap();
    let mut sub = bus.subscribe(&market, "node").await.unwrap();
    let delivery = sub.poll(Duration::from_secs(1)).await.unwrap().unwrap();
    let error = decode::<MarketEvent>(&delivery.payload, MessageType::MarketEvent).unwrap_err();
    let dead = DeadLetters::new(&topics, "node-1");
    dead.publish(&bus, &delivery, &error, Timestamp(5))
        .await
        .unwrap();
    sub.ack(&delivery).await.unwrap();
    assert_eq!(dead.count(), 1);

    let mut letters = bus
        .subscribe(&topics.name(Topic::DeadLetters), "ops")
        .await
        .unwrap();
    let got = letters.poll(Duration::from_secs(1)).await.unwrap().unwrap();
    let letter = decode::<DeadLetter>(&got.payload, MessageType::DeadLetter).unwrap();
    assert_eq!(letter.payload.topic, market);
    assert_eq!(
        letter.payload.raw_hex.as_deref(),
        Some("fe2067617262616765")
    );
    assert!(letter.payload.reason.contains("not an envelope"));
    assert_eq!(letter.source, "node-1");
}

#[test]
fn alert_codes_and_levels_are_stored_by_their_serde_names() {
    for code in chimera_messages::AlertCode::ALL {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::Value::String(code.as_str().to_owned())
        );
    }
    for level in [AlertLevel::Warning, AlertLevel::Critical, AlertLevel::Error] {
        assert_eq!(
            serde_json::to_value(level).unwrap(),
            serde_json::Value::String(level.as_str().to_owned())
        );
    }
}

#[test]
fn the_type_is_read_off_the_first_bytes_or_from_the_whole_message() {
    use chimera_messages::message_type;
    let progress = chimera_messages::Progress {
        portfolio_id: PortfolioId::new("p1"),
        clock: Timestamp(60_000),
    };
    let env = Envelope::new(
        MessageType::Progress,
        "m-1",
        Timestamp(1),
        "node-1",
        "p1",
        &progress,
    );
    let bytes = encode(&env);
    assert!(bytes.starts_with(br#"{"schema":1,"type":"progress","#));
    assert_eq!(message_type(&bytes), Some(MessageType::Progress));
    // Another field order is parsed in full.
    let reordered = br#"{"type":"epoch_claim","id":"m","schema":1,"payload":{}}"#;
    assert_eq!(message_type(reordered), Some(MessageType::EpochClaim));
    let spaced = br#"{ "schema": 1, "type": "order_command", "payload": {} }"#;
    assert_eq!(message_type(spaced), Some(MessageType::OrderCommand));
    // Neither way: an unknown type, an escaped or unterminated name, garbage.
    for bad in [
        &br#"{"schema":1,"type":"bogus","payload":{}}"#[..],
        br#"{"schema":1,"type":"progr\u0065ss","payload":{}}"#,
        br#"{"schema":1,"type":"progress"#,
        br#"{"schema":,"type":"progress","payload":{}}"#,
        b"not json",
    ] {
        let got = message_type(bad);
        // An escaped name is valid JSON: the full parse reads it.
        let expected = (bad == br#"{"schema":1,"type":"progr\u0065ss","payload":{}}"#)
            .then_some(MessageType::Progress);
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(bad));
    }
}
