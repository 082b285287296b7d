//! The API's flows over real adapters: tokens (bootstrap, made by an admin, shown once, listed
//! without secrets, revoked), portfolios (invalid configurations refused naming every field,
//! created, reconfigured), the kill switch (bad requests, engage, read back from the shared
//! store, release needs an admin), the rate limit, and the listening server.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use axum::http::{Method, StatusCode};
use chimera_messages::{KillSwitchBoard, KILL_SWITCH_KEY};
use chimera_ports::Role;
use serde_json::Value;

fn fields(body: &Value) -> Vec<String> {
    let mut f: Vec<String> = body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    f.sort();
    f.dedup();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_listed_without_secrets_and_die_when_revoked() {
    let api = support::api("tokens", 10_000).await;
    let (status, made) = api
        .call(
            Method::POST,
            "/v1/tokens",
            Some(Role::Admin),
            Some(r#"{"name":"desk","role":"trader","ttl_days":30}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let bearer = made["token"].as_str().unwrap().to_owned();
    assert!(bearer.starts_with("chm_"));
    assert!(made["expires_at"].as_i64().is_some());
    let (status, _) = api
        .call_as(Method::GET, "/v1/portfolios", &bearer, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.call_as(Method::GET, "/v1/tokens", &bearer, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a trader does not list tokens"
    );
    let (_, listed) = api
        .call(Method::GET, "/v1/tokens", Some(Role::Admin), None)
        .await;
    let text = listed.to_string();
    assert!(!text.contains(&bearer[16..]), "no secret in the list");
    assert!(!text.contains("argon2"), "no hash in the list");
    assert_eq!(listed.as_array().unwrap().len(), 4);
    let id = made["id"].as_str().unwrap();
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call_as(Method::GET, "/v1/portfolios", &bearer, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked once");
    // A tampered secret is refused like an unknown token.
    let mut tampered = api.tokens[&Role::Admin].clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let (status, _) = api
        .call_as(Method::GET, "/v1/portfolios", &tampered, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = api
        .call(
            Method::POST,
            "/v1/tokens",
            Some(Role::Admin),
            Some(r#"{"role":"god","ttl_days":0,"colour":"red"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["colour", "name", "role", "ttl_days"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portfolios_are_created_and_reconfigured_only_from_valid_configurations() {
    let api = support::api("portfolios", 10_000).await;
    let bad = r#"{"config":{"id":"p1","strategy":"no-such","params":{},"instruments":[],"balances":{}},"start":"yes"}"#;
    let (status, body) = api
        .call(Method::POST, "/v1/portfolios", Some(Role::Admin), Some(bad))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["config", "start"]);
    assert!(
        body.to_string().contains("no-such"),
        "the problem names the strategy: {body}"
    );
    let good = format!(r#"{{"config":{}}}"#, support::portfolio_config("p1"));
    let (status, created) = api
        .call(
            Method::POST,
            "/v1/portfolios",
            Some(Role::Admin),
            Some(&good),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "stopped");
    let (status, _) = api
        .call(
            Method::POST,
            "/v1/portfolios",
            Some(Role::Admin),
            Some(&good),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, one) = api
        .call(Method::GET, "/v1/portfolios/p1", Some(Role::Viewer), None)
        .await;
    assert_eq!(
        (status, &one["config"]["strategy"]),
        (StatusCode::OK, &Value::from("ema-cross"))
    );
    let other = format!(r#"{{"config":{}}}"#, support::portfolio_config("p2"));
    let (status, body) = api
        .call(
            Method::PUT,
            "/v1/portfolios/p1/config",
            Some(Role::Admin),
            Some(&other),
        )
        .await;
    assert_eq!(
        (status, fields(&body)),
        (StatusCode::BAD_REQUEST, vec!["config.id".to_owned()])
    );
    let changed = good.replace("\"fast\":\"3\"", "\"fast\":\"4\"");
    let (status, saved) = api
        .call(
            Method::PUT,
            "/v1/portfolios/p1/config",
            Some(Role::Admin),
            Some(&changed),
        )
        .await;
    assert_eq!(
        (status, &saved["status"]),
        (StatusCode::OK, &Value::from("saved")),
        "{saved}"
    );
    let (_, one) = api
        .call(Method::GET, "/v1/portfolios/p1", Some(Role::Viewer), None)
        .await;
    assert_eq!(one["config"]["params"]["fast"], "4");
    // Start goes to the scheduler; none runs here, so it is sent and pending.
    let (status, sent) = api
        .call(
            Method::POST,
            "/v1/portfolios/p1/start",
            Some(Role::Trader),
            None,
        )
        .await;
    assert_eq!(
        (status, &sent["status"]),
        (StatusCode::ACCEPTED, &Value::from("pending")),
        "{sent}"
    );
    let (status, body) = api
        .call(
            Method::POST,
            "/v1/portfolios/p1/pause",
            Some(Role::Trader),
            Some(r#"{"reason":""}"#),
        )
        .await;
    assert_eq!(
        (status, fields(&body)),
        (StatusCode::BAD_REQUEST, vec!["reason".to_owned()])
    );
    let (status, _) = api
        .call(
            Method::GET,
            "/v1/portfolios/bad%20id",
            Some(Role::Viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_is_validated_stored_and_released_by_an_admin_only() {
    let api = support::api("kill", 10_000).await;
    let (status, body) = api
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(Role::Trader),
            Some(r#"{"mode":"panic","scope":"portfolio","ttl_secs":-1}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["mode", "reason", "scope", "ttl_secs"]);
    let engage = r#"{"id":"k1","mode":"flatten","scope":"symbol","symbol":"BTCUSDT","reason":"exchange incident","ttl_secs":600}"#;
    let (status, body) = api
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(Role::Trader),
            Some(engage),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored = api
        .rt
        .state
        .as_ref()
        .unwrap()
        .store
        .get(KILL_SWITCH_KEY)
        .await
        .unwrap()
        .unwrap();
    let board: KillSwitchBoard = serde_json::from_slice(&stored).unwrap();
    assert_eq!(board.switches.len(), 1);
    assert!(
        board.switches[0].engaged_by.starts_with("trader ("),
        "{:?}",
        board.switches[0]
    );
    let (_, listed) = api
        .call(Method::GET, "/v1/kill-switch", Some(Role::Viewer), None)
        .await;
    assert_eq!(listed["switches"][0]["mode"], "flatten");
    // Releasing takes an admin, and works once.
    for (role, want) in [
        (Role::Trader, StatusCode::FORBIDDEN),
        (Role::Admin, StatusCode::OK),
        (Role::Admin, StatusCode::NOT_FOUND),
    ] {
        let (status, _) = api
            .call(Method::DELETE, "/v1/kill-switch/k1", Some(role), None)
            .await;
        assert_eq!(status, want, "{role:?}");
    }
    let (_, audit) = api
        .call(Method::GET, "/v1/audit", Some(Role::Admin), None)
        .await;
    let outcomes: Vec<(String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["body"]["route"].as_str().unwrap().to_owned(),
                r["category"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("/v1/kill-switch/{id}", "client_error"),
            ("/v1/kill-switch/{id}", "ok"),
            ("/v1/kill-switch/{id}", "forbidden"),
            ("/v1/kill-switch", "ok"),
            ("/v1/kill-switch", "client_error"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "newest first: who released, who was refused, who engaged"
    );
    // The alerts record the engagement and the release (each written by the runtime's alert
    // task after the request was answered, so the release's may come a moment later).
    let started = std::time::Instant::now();
    loop {
        let (_, alerts) = api
            .call(
                Method::GET,
                "/v1/alerts?level=critical",
                Some(Role::Viewer),
                None,
            )
            .await;
        let count = alerts.as_array().unwrap().len();
        assert!(count <= 2, "{alerts}");
        if count == 2 {
            break;
        }
        assert!(started.elapsed().as_secs() < 5, "{alerts}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_events_are_the_latest_seen_newest_first() {
    use chimera_messages::{MessageType, Topic};
    let api = support::api("events", 10_000).await;
    for n in 0..3 {
        api.rt
            .publish(
                Topic::SystemEvents,
                MessageType::SystemEvent,
                format!("ev-{n}"),
                "n1",
                &serde_json::json!({"beat": n}),
            )
            .await
            .unwrap();
    }
    let started = std::time::Instant::now();
    loop {
        let (status, events) = api
            .call(
                Method::GET,
                "/v1/system-events?limit=2",
                Some(Role::Viewer),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let beats: Vec<i64> = events
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["payload"]["beat"].as_i64())
            .collect();
        if beats == [2, 1] {
            break;
        }
        assert!(started.elapsed().as_secs() < 5, "{events}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_has_its_own_rate_limit() {
    let api = support::api("rate", 5).await;
    for _ in 0..5 {
        let (status, _) = api
            .call(Method::GET, "/v1/portfolios", Some(Role::Viewer), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = api
        .call(Method::GET, "/v1/portfolios", Some(Role::Viewer), None)
        .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::TOO_MANY_REQUESTS, &Value::from("rate_limited"))
    );
    let (status, _) = api
        .call(Method::GET, "/v1/portfolios", Some(Role::Trader), None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another token is not limited by the first"
    );
    let (status, _) = api.call(Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "health is not limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_over_tcp() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = support::api("tcp", 10_000).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config: chimera_runtime::api_config::ApiConfig = toml::from_str(&format!(
        "id = \"api\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\""
    ))
    .unwrap();
    let rt = std::sync::Arc::clone(&api.rt);
    let server = tokio::spawn(async move {
        chimera_api::serve(
            rt,
            &config,
            chimera_kernel::strategy::StrategyRegistry::builtin(),
            listener,
        )
        .await
    });
    let ask = |request: String| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let health = ask("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let denied =
        ask("GET /v1/portfolios HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
    assert!(
        denied.starts_with("HTTP/1.1 401")
            && denied.to_lowercase().contains("www-authenticate: bearer"),
        "{denied}"
    );
    let token = &api.tokens[&Role::Viewer];
    let listed = ask(format!("GET /v1/portfolios HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")).await;
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    // Metrics on their own port, without a token.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", metrics_port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut metrics = String::new();
    stream.read_to_string(&mut metrics).await.unwrap();
    assert!(
        metrics.contains(
            "chimera_api_requests_total{component=\"api\",route=\"/v1/portfolios\",status=\"200\"}"
        ) && metrics.contains("chimera_api_request_seconds"),
        "{metrics}"
    );
    api.trigger.trigger();
    server.await.unwrap().unwrap();
}
