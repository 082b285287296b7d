//! Market-data WebSocket endpoints: combined streams (`/stream?streams=a/b`, frames wrapped
//! as `{"stream": .., "data": ..}`) and raw streams (`/ws/<stream>`), unrouted or on the
//! USDⓈ-M `/public` and `/market` routes ([`crate::market::delivered`] decides what each
//! route carries). `/ws/<x>` without an `@` is a user-data listenKey, as on Binance.
//! The server pings every 3 s; a client that answers nothing is not cut here.

use crate::market::{delivered, Route};
use crate::Fake;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;
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
        crate::ws::pump(socket, rx, None).await;
    })
}
