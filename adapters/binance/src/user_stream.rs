//! Each account's user-data stream, kept open for the connector's life.
//!
//! - USDⓈ-M: a listenKey (`POST /fapi/v1/listenKey`) streamed at `/private/ws/<key>`, kept
//!   alive every 30 minutes; `listenKeyExpired` or a `-1125` on keepalive makes a new key.
//! - Spot: the WebSocket API's `userDataStream.subscribe.signature` (the REST listenKey
//!   endpoints are gone); events arrive wrapped as `{"subscriptionId": n, "event": {...}}`.
//!
//! After every (re)connection the orders still working are looked up ([`Inner::recover`]), so
//! a fill made while the stream was down is reported from the queries, once. The connection
//! is renewed before Binance's 24-hour cut; lost connections come back with backoff.

use crate::codec::user::{OrderUpdate, UserEvent, WsApiEvent};
use crate::config::{Endpoints, Product};
use crate::error::BinanceError;
use crate::paths;
use crate::rest::{Auth, Cost, Method};
use crate::sign::Params;
use crate::venue::{Account, Inner};
use crate::ws::Socket;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Renew the connection before Binance's 24-hour cut.
const RENEW_AFTER: Duration = Duration::from_mins(23 * 60 + 50);
/// listenKey keepalive period.
const KEEPALIVE: Duration = Duration::from_mins(30);
/// How long the first connection may take.
const FIRST_CONNECT: Duration = Duration::from_secs(15);

fn ws_error(operation: &str, e: tokio_tungstenite::tungstenite::Error) -> BinanceError {
    BinanceError::WebSocket {
        operation: operation.to_owned(),
        source: Box::new(e),
    }
}

/// Opens account `index`'s stream (waiting for the first connection) and keeps it open in a
/// task.
///
/// # Errors
/// The first connection failed.
pub(crate) async fn spawn(
    inner: Arc<Inner>,
    index: usize,
    endpoints: &Endpoints,
) -> Result<tokio::task::JoinHandle<()>, BinanceError> {
    let account = Arc::clone(&inner.accounts[index]);
    let endpoints = endpoints.clone();
    let first = tokio::time::timeout(FIRST_CONNECT, connect(&inner, &account, &endpoints))
        .await
        .map_err(|_| {
            BinanceError::Unsupported("user-data stream: first connection timed out".into())
        })??;
    Ok(tokio::spawn(async move {
        let mut session = Some(first);
        let mut backoff = Duration::from_millis(100);
        loop {
            let current = match session.take() {
                Some(s) => s,
                None => match connect(&inner, &account, &endpoints).await {
                    Ok(s) => {
                        backoff = Duration::from_millis(100);
                        s
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, ?backoff, "user-data stream: reconnect failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                },
            };
            run(&inner, &account, current).await;
            tracing::info!("user-data stream: reconnecting");
        }
    }))
}

/// One open stream.
struct Session {
    socket: Socket,
    listen_key: Option<String>,
}

async fn connect(
    inner: &Arc<Inner>,
    account: &Account,
    endpoints: &Endpoints,
) -> Result<Session, BinanceError> {
    let session = match inner.product {
        Product::Usdm => {
            let key: crate::codec::rest::ListenKey = inner
                .rest
                .call(
                    Method::Post,
                    paths::USDM_LISTEN_KEY,
                    Params::new(),
                    Auth::Key(&account.creds),
                    Cost::weight(1),
                )
                .await?;
            let url = format!("{}/private/ws/{}", endpoints.stream, key.listen_key);
            let (socket, _) = crate::ws::connect(url)
                .await
                .map_err(|e| ws_error("user-data stream connect", e))?;
            Session {
                socket,
                listen_key: Some(key.listen_key),
            }
        }
        Product::Spot => {
            let (mut socket, _) = crate::ws::connect(endpoints.ws_api.clone())
                .await
                .map_err(|e| ws_error("WebSocket API connect", e))?;
            // WebSocket API signatures cover the parameters sorted by name.
            let params = Params::new()
                .with("apiKey", account.creds.api_key.expose())
                .with("timestamp", inner.rest.server_now());
            let signature = account.creds.signer.sign(&params.query());
            let request = serde_json::json!({
                "id": "subscribe",
                "method": "userDataStream.subscribe.signature",
                "params": {
                    "apiKey": account.creds.api_key.expose(),
                    "timestamp": params.get("timestamp").and_then(|t| t.parse::<i64>().ok()),
                    "signature": signature,
                }
            });
            socket
                .send(Message::text(request.to_string()))
                .await
                .map_err(|e| ws_error("user-data subscribe", e))?;
            // The answer: {"id":"subscribe","status":200,"result":{"subscriptionId":0}}.
            loop {
                let Some(msg) = socket.next().await else {
                    return Err(BinanceError::Unsupported(
                        "WebSocket API closed before answering the subscription".into(),
                    ));
                };
                let msg = msg.map_err(|e| ws_error("user-data subscribe", e))?;
                if let Message::Text(text) = msg {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    if v.get("id").and_then(serde_json::Value::as_str) == Some("subscribe") {
                        if v.get("status").and_then(serde_json::Value::as_i64) == Some(200) {
                            break;
                        }
                        let error = v.get("error").cloned().unwrap_or_default();
                        return Err(BinanceError::Api {
                            operation: "userDataStream.subscribe.signature".into(),
                            status: u16::try_from(
                                v.get("status")
                                    .and_then(serde_json::Value::as_i64)
                                    .unwrap_or(400),
                            )
                            .unwrap_or(400),
                            error: serde_json::from_value(error).unwrap_or(
                                crate::error::ApiError {
                                    code: 0,
                                    msg: text.to_string(),
                                },
                            ),
                        });
                    }
                }
            }
            Session {
                socket,
                listen_key: None,
            }
        }
    };
    // Whatever happened while no stream was open is read back now.
    inner.recover(account).await;
    Ok(session)
}

async fn keepalive(inner: &Inner, account: &Account, key: &str) -> Result<(), BinanceError> {
    inner
        .rest
        .call::<serde_json::Value>(
            Method::Put,
            paths::USDM_LISTEN_KEY,
            Params::new().with("listenKey", key),
            Auth::Key(&account.creds),
            Cost::weight(1),
        )
        .await
        .map(|_| ())
}

/// Reads `session` until it ends (closed, expired key, renewal due).
async fn run(inner: &Arc<Inner>, account: &Account, mut session: Session) {
    let renew = tokio::time::sleep(RENEW_AFTER);
    tokio::pin!(renew);
    let mut keepalive_timer = tokio::time::interval(KEEPALIVE);
    keepalive_timer.tick().await;
    loop {
        tokio::select! {
            () = &mut renew => {
                tracing::info!("user-data stream: renewing before the 24-hour cut");
                let _ = session.socket.close(None).await;
                return;
            }
            _ = keepalive_timer.tick(), if session.listen_key.is_some() => {
                let key = session.listen_key.clone().unwrap_or_default();
                if let Err(e) = keepalive(inner, account, &key).await {
                    tracing::warn!(error = %e, "listenKey keepalive failed: making a new one");
                    if e.code() == Some(-1125) || !e.is_transient() {
                        return;
                    }
                }
            }
            msg = session.socket.next() => {
                let Some(Ok(msg)) = msg else {
                    tracing::warn!("user-data stream closed");
                    return;
                };
                match msg {
                    Message::Text(text) if !handle(inner, text.as_bytes()) => return,
                    Message::Ping(payload)
                        if session.socket.send(Message::Pong(payload.clone())).await.is_err() =>
                    {
                        return
                    }
                    Message::Close(_) => return,
                    _ => {}
                }
            }
        }
    }
}

/// Handles one frame; `false` when the stream must be renewed.
fn handle(inner: &Inner, bytes: &[u8]) -> bool {
    let event = match serde_json::from_slice::<WsApiEvent>(bytes) {
        Ok(wrapped) => Ok(wrapped.event),
        Err(_) => crate::codec::decode::<UserEvent>("user-data event", bytes),
    };
    match event {
        Ok(UserEvent::SpotExecution(e)) => inner.apply(&[OrderUpdate::from(e.as_ref())]),
        Ok(UserEvent::FuturesOrder(e)) => inner.apply(&[OrderUpdate::from(e.as_ref())]),
        Ok(UserEvent::ListenKeyExpired | UserEvent::StreamTerminated) => {
            tracing::warn!("user-data stream ended by Binance: renewing");
            return false;
        }
        Ok(_) => {}
        Err(e) => inner.undecodable(e),
    }
    true
}
