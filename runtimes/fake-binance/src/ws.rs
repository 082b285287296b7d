//! WebSocket endpoints: the USDⓈ-M user-data stream (`/private/ws/<listenKey>`, also `/ws/...`)
//! and the spot WebSocket API (`/ws-api/v3`: `userDataStream.subscribe.signature`). Each
//! connection gets the account's events through a channel; the server pings every few
//! seconds, and closing the channel (fault injection, expired key) closes the connection.
//! The market-data endpoints ([`crate::market_ws`]) forward their frames with the same pump.

use crate::auth;
use crate::state::now_ms;
use crate::wire::ApiError;
use crate::Fake;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// `GET /private/ws/{listenKey}`.
pub(crate) async fn user_stream(
    State(fake): State<Arc<Fake>>,
    Path(key): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(account) = fake.account_of_listen_key(&key) else {
        return crate::wire::ApiError::new(400, -1125, "This listenKey does not exist.")
            .into_response();
    };
    upgrade.on_upgrade(move |socket| async move {
        let rx = listen(&fake, account);
        pump(socket, rx, Some((fake, key))).await;
    })
}

/// `GET /ws-api/v3`: the spot WebSocket API (user-data subscription only).
pub(crate) async fn ws_api(State(fake): State<Arc<Fake>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| ws_api_session(fake, socket))
}

async fn ws_api_session(fake: Arc<Fake>, mut socket: WebSocket) {
    // The first request must be the subscription.
    let Some(Ok(Message::Text(text))) = socket.next().await else {
        return;
    };
    let request: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
    let id = request.get("id").cloned().unwrap_or_default();
    let answer = match subscribe(&fake, &request) {
        Ok(account) => {
            let rx = listen(&fake, account);
            Ok(rx)
        }
        Err(e) => Err(e),
    };
    let reply = match &answer {
        Ok(_) => json!({"id": id, "status": 200, "result": {"subscriptionId": 0}}),
        Err(e) => json!({"id": id, "status": e.status, "error": e.body()}),
    };
    if socket.send(Message::text(reply.to_string())).await.is_err() {
        return;
    }
    if let Ok(rx) = answer {
        pump(socket, rx, None).await;
    }
}

/// Checks a `userDataStream.subscribe.signature` request; the subscribing account.
fn subscribe(fake: &Fake, request: &serde_json::Value) -> Result<usize, ApiError> {
    if request.get("method").and_then(|v| v.as_str()) != Some("userDataStream.subscribe.signature")
    {
        return Err(ApiError::new(
            400,
            -1000,
            "The fake WebSocket API only serves userDataStream.subscribe.signature.",
        ));
    }
    let params = request.get("params").cloned().unwrap_or_default();
    let text = |key: &str| {
        params
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let (api_key, signature) = (text("apiKey"), text("signature"));
    let timestamp = params
        .get("timestamp")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    let account = fake.exchange().account_by_key(&api_key).ok_or_else(|| {
        ApiError::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    })?;
    // Signed payload: the parameters but the signature, sorted by name.
    let query = format!(
        "apiKey={}&timestamp={timestamp}&signature={}",
        auth::encode(&api_key),
        auth::encode(&signature)
    );
    auth::verify(&fake.config.accounts[account].key, &query, "")?;
    auth::check_time(&[("timestamp".to_owned(), timestamp.to_string())], now_ms())?;
    Ok(account)
}

/// A new channel of `account`'s user-data events.
fn listen(fake: &Fake, account: usize) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    fake.exchange()
        .listeners
        .entry(account)
        .or_default()
        .push(tx);
    rx
}

/// Forwards `rx` to the socket with pings, until either side closes (or a listen key expires).
pub(crate) async fn pump(
    socket: WebSocket,
    mut rx: mpsc::UnboundedReceiver<String>,
    listen_key: Option<(Arc<Fake>, String)>,
) {
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(Duration::from_secs(3));
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let Some(text) = frame else {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                };
                if sink.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
            _ = ping.tick() => {
                if let Some((fake, key)) = &listen_key {
                    if fake.account_of_listen_key(key).is_none() {
                        let expired = json!({"e": "listenKeyExpired", "E": now_ms(), "listenKey": key});
                        let _ = sink.send(Message::text(expired.to_string())).await;
                        let _ = sink.send(Message::Close(None)).await;
                        return;
                    }
                }
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                _ => {}
            },
        }
    }
}
