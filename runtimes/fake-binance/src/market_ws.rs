//! Market-data WebSocket endpoints: combined streams (`/stream?streams=a/b`, frames wrapped
//! as `{"stream": .., "data": ..}`) and raw streams (`/ws/<stream>`), unrouted or on the
//! USDⓈ-M `/public` and `/market` routes ([`crate::market::delivered`] decides what each
//! route carries). `/ws/<x>` without an `@` is a user-data listenKey, as on Binance.
//! The server pings every 3 s; a client that answers nothing is not cut here.

use crate::market::{delivered, Route};
use crate::Fake;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

type Params = Query<HashMap<String, String>>;

/// `GET /stream?streams=...`.
pub(crate) async fn combined(
    State(fake): State<Arc<Fake>>,
    Query(q): Params,
    upgrade: WebSocketUpgrade,
) -> Response {
    open(fake, Route::Unrouted, &q, true, upgrade)
}

/// `GET /public/stream?streams=...`.
pub(crate) async fn combined_public(
    State(fake): State<Arc<Fake>>,
    Query(q): Params,
    upgrade: WebSocketUpgrade,
) -> Response {
    open(fake, Route::Public, &q, true, upgrade)
}

/// `GET /market/stream?streams=...`.
pub(crate) async fn combined_market(
    State(fake): State<Arc<Fake>>,
    Query(q): Params,
    upgrade: WebSocketUpgrade,
) -> Response {
    open(fake, Route::Market, &q, true, upgrade)
}

/// `GET /ws/{stream or listenKey}`.
pub(crate) async fn ws_path(
    state: State<Arc<Fake>>,
    Path(name): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !name.contains('@') {
        return crate::ws::user_stream(state, Path(name), upgrade).await;
    }
    let streams = HashMap::from([("streams".to_owned(), name)]);
    open(state.0, Route::Unrouted, &streams, false, upgrade)
}

/// `GET /public/ws/{stream}`.
pub(crate) async fn raw_public(
    State(fake): State<Arc<Fake>>,
    Path(name): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let streams = HashMap::from([("streams".to_owned(), name)]);
    open(fake, Route::Public, &streams, false, upgrade)
}

/// `GET /market/ws/{stream}`.
pub(crate) async fn raw_market(
    State(fake): State<Arc<Fake>>,
    Path(name): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let streams = HashMap::from([("streams".to_owned(), name)]);
    open(fake, Route::Market, &streams, false, upgrade)
}

fn open(
    fake: Arc<Fake>,
    route: Route,
    query: &HashMap<String, String>,
    combined: bool,
    upgrade: WebSocketUpgrade,
) -> Response {
    let product = fake.config.product;
    // What the route does not carry is accepted and never delivered, as on Binance.
    let streams: Vec<String> = query
        .get("streams")
        .map(|s| {
            s.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|s| delivered(product, route, s))
        .collect();
    upgrade.on_upgrade(move |socket| async move {
        let (tx, rx) = mpsc::unbounded_channel();
        fake.market().subscribe(&streams, combined, tx);
        pump(socket, rx).await;
    })
}

/// Forwards frames with pings until either side closes or the fake drops the connection.
async fn pump(socket: WebSocket, mut rx: mpsc::UnboundedReceiver<String>) {
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
