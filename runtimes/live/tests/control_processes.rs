//! The control plane with the real binaries over Kafka and PostgreSQL, and a Redis of the
//! test's own with persistence on (append-only file, fsync always) so it can be killed: a
//! gateway, a node, the scheduler, the HTTP API and the feed. During the run the scheduler is
//! restarted (gracefully, then after SIGKILL) and Redis is killed and restarted: assignments
//! and fencing epochs survive each, and the portfolios keep trading. Then the kill switch is
//! engaged through the API with the bootstrap admin token: halt entries stops every new
//! exposure, flatten closes every position, releasing is audited. Prints the recovery figures.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::schedule::Schedule;
use chimera_messages::SCHEDULE_STATE_KEY;
use chimera_ports::{FillRepository, StateStore};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A Redis server of the test's own, persisting every write before answering.
struct Redis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    async fn wait_up(&self) {
        wait_listening(self.port, "redis-server").await;
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        *self = Self::start(self.port, &self.dir.clone());
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.1 request; the status and the JSON body.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let json = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

async fn placements(state: &dyn StateStore) -> Vec<(String, Option<(String, u64)>)> {
    // The first call after Redis restarted may find the old connection broken.
    let mut tries = 0;
    let bytes = loop {
        match state.get(SCHEDULE_STATE_KEY).await {
            Ok(bytes) => break bytes.expect("the schedule is saved"),
            Err(e) if e.is_transient() && tries < 50 => tries += 1,
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let schedule: Schedule = serde_json::from_slice(&bytes).unwrap();
    schedule
        .placements()
        .iter()
        .map(|(id, p)| {
            (
                id.to_string(),
                p.as_ref().map(|p| (p.node.clone(), p.epoch)),
            )
        })
        .collect()
}

async fn net_positions(store: &chimera_sql::SqlStore) -> Vec<rust_decimal::Decimal> {
    let mut out = Vec::new();
    for spec in specs() {
        let fills = store
            .fills(&PortfolioId::new(spec.id.as_str()))
            .await
            .unwrap();
        out.push(fills.iter().map(|f| f.fill.qty.get() * f.side.sign()).sum());
    }
    out
}

/// Orders that could add exposure and were not refused (the gateway records the ones it
/// refuses under a kill switch as rejected).
/// The node's refusals under a kill switch: entries decided `KILL_SWITCH` (the decision
/// pipeline's records) and orders refused `kill_switch` (strategy events).
const REFUSED: &str = "SELECT (SELECT COUNT(*) FROM signals WHERE reason = 'KILL_SWITCH') \
     + (SELECT COUNT(*) FROM strategy_events WHERE body::text LIKE '%kill_switch%')";

const ENTRIES: &str = "SELECT COUNT(*) FROM orders WHERE status <> 'rejected' \
     AND NOT COALESCE((body::jsonb -> 'intent' ->> 'reduce_only')::boolean, false)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_survives_restarts_and_the_kill_switch_stops_and_flattens() {
    let Some(services) = services() else { return };
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: redis-server is not installed (scripts/test.sh installs it)");
        return;
    }
    let setup = setup("control", &services).await;
    let redis_dir = setup.dir.join("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let mut redis = Redis::start(free_port(), &redis_dir);
    redis.wait_up().await;
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let api_port = free_port();
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let extra = format!(
        "\n[state]\nkind = \"redis\"\nurl = \"{redis_url}\"\nlease_ms = 4000\n\n\
         [scheduler]\nid = \"scheduler-1\"\n\n\
         [api]\nid = \"api-1\"\nlisten = \"127.0.0.1:{api_port}\"\n"
    );
    std::fs::write(
        &setup.config,
        text.replace(
            "register_portfolios = true\n",
            "register_portfolios = true\nheartbeat_ms = 500\n",
        )
        .replace("[feed]\n", "[feed]\nspeed = 1500.0\n")
            + &extra,
    )
    .unwrap();
    let store = store(&setup).await;
    let state = chimera_redis::RedisStateStore::connect(
        // The processes key their state under the topic prefix.
        &toml::from_str(&format!(
            "url = \"{redis_url}\"\nkey_prefix = \"{}\"",
            setup.prefix
        ))
        .unwrap(),
    )
    .await
    .unwrap();
    let (node, gateway, feed, scheduler, api) = (
        binary("chimera-node"),
        binary("chimera-gateway"),
        binary("chimera-feed"),
        binary("chimera-scheduler"),
        binary("chimera-api"),
    );
    let _gateway = spawn(&gateway, &setup, "gateway");
    let mut node1 = spawn(&node, &setup, "node-1");
    let mut scheduler1 = spawn(&scheduler, &setup, "scheduler-1");
    let mut api1 = spawn(&api, &setup, "api");
    wait_log(
        &setup,
        "scheduler-1",
        "assigned to node-1",
        3,
        Duration::from_mins(1),
    )
    .await;

    // The first admin token, made on the server.
    let made = Command::new(&api)
        .arg("--config")
        .arg(&setup.config)
        .args(["token", "create", "--role", "admin", "--name", "ops"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("chm_"), "{token}");

    let _feed = spawn(&feed, &setup, "feed");
    let started = Instant::now();
    while count(&store, "SELECT COUNT(*) FROM fills").await < 20 {
        assert!(started.elapsed() < Duration::from_mins(2), "no fills");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = placements(&state).await;
    assert_eq!(before.len(), 3);

    // The scheduler restarted gracefully, then killed and restarted: same placements, epochs.
    terminate(&mut scheduler1);
    let spawned = Instant::now();
    let mut scheduler2 = spawn(&scheduler, &setup, "scheduler-2");
    wait_log(&setup, "scheduler-2", "leads (", 1, Duration::from_secs(30)).await;
    let graceful = spawned.elapsed();
    let ready = log(&setup, "scheduler-2");
    assert_eq!(
        placements(&state).await,
        before,
        "a restarted scheduler keeps the placements"
    );
    sigkill(&mut scheduler2);
    let spawned = Instant::now();
    let _scheduler3 = spawn(&scheduler, &setup, "scheduler-3");
    wait_log(&setup, "scheduler-3", "leads (", 1, Duration::from_secs(30)).await;
    let after_kill = spawned.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        placements(&state).await,
        before,
        "a scheduler started after a crash keeps them"
    );
    let took_lease = ready
        .lines()
        .find(|l| l.contains("leads ("))
        .and_then(|l| l.split("ready ").nth(1))
        .and_then(|s| s.split(" ms").next())
        .unwrap_or("?")
        .to_owned();
    println!(
        "scheduler restarted: leading {graceful:?} after its process started ({took_lease} ms after \
         taking the lease); after a SIGKILL, {after_kill:?} (the dead leader's lease lapses first)"
    );

    // Redis killed and restarted from its append-only file: the schedule is still there and
    // trading goes on without any portfolio moving.
    let fills_before = count(&store, "SELECT COUNT(*) FROM fills").await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarted = Instant::now();
    redis.restart();
    redis.wait_up().await;
    assert_eq!(
        placements(&state).await,
        before,
        "the schedule survived Redis' restart"
    );
    while count(&store, "SELECT COUNT(*) FROM fills").await < fills_before + 5 {
        assert!(
            restarted.elapsed() < Duration::from_mins(1),
            "no fills after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "Redis restarted: fills flowing again {:?} after it came back",
        restarted.elapsed()
    );
    assert!(
        !log(&setup, "node-1").contains("lease lost"),
        "{}",
        log(&setup, "node-1")
    );
    assert_eq!(placements(&state).await, before);

    // Flatten through the API while positions are open: every position closes.
    let started = Instant::now();
    while net_positions(&store)
        .await
        .iter()
        .all(rust_decimal::Decimal::is_zero)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no position ever open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let open = net_positions(&store).await;
    let (status, body) = http(
        api_port,
        "POST",
        "/v1/kill-switch",
        &token,
        Some(r#"{"id":"flat","mode":"flatten","scope":"global","reason":"e2e"}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let flatten = Instant::now();
    while net_positions(&store).await.iter().any(|p| !p.is_zero()) {
        assert!(
            flatten.elapsed() < Duration::from_secs(30),
            "not flat: {:?}",
            net_positions(&store).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "flatten (real processes): positions {open:?} all closed {:?} after engaging",
        flatten.elapsed()
    );
    let (status, _) = http(api_port, "DELETE", "/v1/kill-switch/flat", &token, None).await;
    assert_eq!(status, 200);

    // Trading resumes; then halt entries: the node refuses entries (recorded as its strategy
    // events) and no order that adds exposure gets through after that.
    let entries_before = count(&store, ENTRIES).await;
    let resumed = Instant::now();
    while count(&store, ENTRIES).await == entries_before {
        assert!(
            resumed.elapsed() < Duration::from_secs(20),
            "no entry after the release"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refusals_before = count(&store, REFUSED).await;
    let (status, body) = http(
        api_port,
        "POST",
        "/v1/kill-switch",
        &token,
        Some(r#"{"id":"halt","mode":"halt_entries","scope":"global","reason":"e2e"}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let engaged = Instant::now();
    let mut entries = count(&store, ENTRIES).await;
    let mut last_entry = Duration::ZERO;
    let mut first_refusal = None;
    while engaged.elapsed() < Duration::from_secs(4) {
        let now = count(&store, ENTRIES).await;
        if now != entries {
            entries = now;
            last_entry = engaged.elapsed();
        }
        if first_refusal.is_none() && count(&store, REFUSED).await > refusals_before {
            first_refusal = Some(engaged.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "kill switch (real processes): last entry accepted {last_entry:?} after engaging; the \
         node's first refusal recorded after {first_refusal:?}"
    );
    assert!(
        last_entry < Duration::from_secs(1),
        "entries went on for {last_entry:?}"
    );
    assert!(
        first_refusal.is_some_and(|d| d < Duration::from_secs(1)),
        "{first_refusal:?}"
    );
    for id in ["halt"] {
        let (status, _) = http(
            api_port,
            "DELETE",
            &format!("/v1/kill-switch/{id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, audit) = http(api_port, "GET", "/v1/audit", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(audit.as_array().map(Vec::len), Some(4), "{audit}");
    terminate(&mut api1);
    terminate(&mut node1);
}
