//! After the Redis server restarts (here one of the test's own, with an append-only file), the
//! adapter's connections come back by themselves: the request that meets the broken connection
//! fails as transient, later ones go through and see what was persisted. Skipped without
//! `redis-server` on the path (`scripts/test.sh` installs it).
#![expect(clippy::unwrap_used, reason = "tests")]

use chimera_ports::StateStore;
use chimera_redis::{RedisConfig, RedisStateStore};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(port: u16, dir: &std::path::Path) -> Child {
    Command::new("redis-server")
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
        .unwrap()
}

async fn wait_up(port: u16) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_state_store_reconnects_after_a_server_restart() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: redis-server is not installed");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("chimera-redis-reconnect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = start(port, &dir);
    wait_up(port).await;
    let config = RedisConfig {
        url: format!("redis://127.0.0.1:{port}"),
        key_prefix: String::new(),
        stream_max_len: None,
        streams: Vec::new(),
    };
    let store = RedisStateStore::connect(&config).await.unwrap();
    store.set("k", b"kept", None).await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let down = store.get("k").await;
    assert!(
        down.as_ref()
            .is_err_and(chimera_ports::PortError::is_transient),
        "{down:?}"
    );
    let mut server = start(port, &dir);
    wait_up(port).await;
    let back = Instant::now();
    let value = loop {
        match store.get("k").await {
            Ok(v) => break v,
            Err(e) => {
                assert!(e.is_transient(), "{e}");
                assert!(
                    back.elapsed() < Duration::from_secs(10),
                    "never reconnected: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    println!(
        "reconnected {:?} after the server came back",
        back.elapsed()
    );
    assert_eq!(
        value.as_deref(),
        Some(&b"kept"[..]),
        "persisted across the restart"
    );
    server.kill().unwrap();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
