//! A poll with a wait under a millisecond blocks on the server rather than spinning: watched
//! with `MONITOR` on the real Redis the test command starts (`CHIMERA_REDIS_URL`), each such
//! poll of an empty topic sends one or two blocking reads (each with the read that does not
//! block riding along, for what comes with the entry that ends the wait), not the dozens of
//! reads a truncated `BLOCK 0` (read and return at once) made until the wait ran out.

use chimera_ports::EventBus;
use chimera_redis::RedisStreamsEventBus;
use futures_util::StreamExt;
use std::time::Duration;

mod support;

const POLLS: usize = 10;

#[tokio::test]
async fn a_sub_millisecond_wait_blocks_instead_of_spinning() {
    let Some(config) = support::config("short-waits") else {
        return;
    };
    let prefix = config.key_prefix.clone();
    let bus = RedisStreamsEventBus::connect(&config)
        .await
        .expect("connect");
    bus.publish("quiet", "k", b"only").await.expect("publish");
    let mut subscription = bus.subscribe("quiet", "g").await.expect("subscribe");
    let first = subscription
        .poll(Duration::from_secs(5))
        .await
        .expect("poll");
    assert!(first.is_some(), "the one message is read");

    let client = redis::Client::open(config.url.as_str()).expect("url");
    let mut commands = client
        .get_async_monitor()
        .await
        .expect("monitor")
        .into_on_message::<String>();
    let end = format!("{prefix}end");
    let started = std::time::Instant::now();
    for _ in 0..POLLS {
        let polled = subscription
            .poll(Duration::from_micros(900))
            .await
            .expect("poll");
        assert!(polled.is_none(), "nothing else was published");
    }
    let took = started.elapsed();
    // A marker after the polls: everything before it has been seen once it is.
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: String = redis::cmd("ECHO")
        .arg(&end)
        .query_async(&mut connection)
        .await
        .expect("echo");
    let (mut blocking, mut not_blocking) = (0, 0);
    let stream = format!("{prefix}stream:quiet");
    while let Some(line) = tokio::time::timeout(Duration::from_secs(10), commands.next())
        .await
        .expect("the marker reaches the monitor")
    {
        if line.contains(&end) {
            break;
        }
        if line.contains("\"XREADGROUP\"") && line.contains(&stream) {
            if line.contains("\"BLOCK\"") {
                blocking += 1;
            } else {
                not_blocking += 1;
            }
        }
    }
    assert!(
        took >= Duration::from_micros(900) * u32::try_from(POLLS).unwrap(),
        "each poll waited its time: {took:?}"
    );
    assert!(
        (POLLS..=2 * POLLS).contains(&blocking) && not_blocking <= 2 * POLLS,
        "{POLLS} polls of 900 µs sent {blocking} blocking reads and {not_blocking} others in {took:?}"
    );
}
