//! An exclusive reader killed with SIGKILL (no leave, no commit on the way out) is replaced by a
//! process reading under the same group name, which resumes at once from the last acknowledged
//! offset: nothing acknowledged is redelivered, nothing unacknowledged is lost.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_kafka::{KafkaConfig, KafkaEventBus};
use chimera_ports::EventBus;
use std::time::Duration;

const ROLE: &str = "CHIMERA_KAFKA_CRASH_ROLE";

fn config(brokers: &str) -> KafkaConfig {
    let mut config = KafkaConfig::new(brokers);
    config.partitions = 1;
    config.exclusive = true;
    // tansu (the development broker) cannot serve a fetch starting inside a record batch.
    config.extra.insert("batch.num.messages".into(), "1".into());
    config
}

/// The child: reads everything, acknowledges the 10th message, reads on, then waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(spec) = std::env::var(ROLE) else {
        return;
    };
    let (brokers, topic, group) = {
        let mut parts = spec.split('|');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let bus = KafkaEventBus::connect(&config(&brokers)).unwrap();
    let mut sub = bus.subscribe(&topic, &group).await.unwrap();
    let mut seen = 0;
    while seen < 1500 {
        if let Some(d) = sub.poll(Duration::from_secs(10)).await.unwrap() {
            seen += 1;
            if d.offset == 9 {
                sub.ack(&d).await.unwrap();
                println!("ACKED");
            }
        }
    }
    println!("READY");
    tokio::time::sleep(Duration::from_mins(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_members_successor_resumes_from_the_acknowledged_offset() {
    if std::env::var_os(ROLE).is_some() {
        return;
    }
    let Ok(brokers) = std::env::var("CHIMERA_KAFKA_BROKERS") else {
        println!("skipped: CHIMERA_KAFKA_BROKERS is not set (scripts/test.sh starts a broker)");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let topic = format!("chimera-test-crash-{nanos}");
    let group = format!("chimera-test-crash-{nanos}.group");
    let bus = KafkaEventBus::connect(&config(&brokers)).unwrap();
    let batch: Vec<(String, Vec<u8>)> = (0..2000)
        .map(|i| ("k".to_owned(), format!("m{i}").into_bytes()))
        .collect();
    bus.publish_batch(&topic, &batch).await.unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, format!("{brokers}|{topic}|{group}"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if line.unwrap().contains("READY") {
                return true;
            }
        }
        false
    });
    assert!(reader.join().unwrap(), "the child read and acknowledged");
    child.kill().unwrap();
    child.wait().unwrap();

    let mut sub = bus.subscribe(&topic, &group).await.unwrap();
    let first = loop {
        if let Some(d) = sub.poll(Duration::from_secs(30)).await.unwrap() {
            break d.offset;
        }
    };
    assert_eq!(
        first, 10,
        "resumes right after the last acknowledged offset"
    );
}
