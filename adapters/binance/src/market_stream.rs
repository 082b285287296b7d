//! The market-data WebSocket connections: which streams, on which routed path, and a task
//! per connection that forwards every frame and comes back after a loss.
//!
//! - Spot: `<base>/stream?streams=<sym>@depth@100ms/<sym>@bookTicker/<sym>@trade`.
//! - USDⓈ-M routes streams by path (since 2026-04): depth and bookTicker on `/public`, trades
//!   and mark price on `/market`. An unrouted connection silently gets only `/public` data,
//!   so each kind goes to its own connection.
//!
//! Subscriptions are in the URL: the connector sends nothing but pongs, well inside the
//! incoming-message limits (5/s spot, 10/s futures). Streams are split across connections
//! at Binance's per-connection cap (1024 spot, 200 futures). A connection is renewed before
//! the 24-hour cut; a lost one is reopened with backoff (100 ms doubling to 5 s), and its
//! loss is reported first so the books it fed are resynchronised.

use crate::config::Product;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// The local clock, epoch ns.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Renew a connection before Binance's 24-hour cut.
const RENEW_AFTER: Duration = Duration::from_mins(23 * 60 + 50);

/// What a connection task tells the market-data source.
#[derive(Debug)]
pub(crate) enum StreamInput {
    /// A text frame, as received, and when (epoch ns, local clock).
    Frame(Vec<u8>, i64),
    /// The connection carrying these symbols' depth was lost (or renewed): their books must
    /// be rebuilt from a new snapshot.
    Lost {
        /// Upper-case symbols whose depth the connection carried.
        depth_symbols: Vec<String>,
    },
}

/// One connection to open: its URL and the symbols whose depth it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connection {
    /// Full URL.
    pub url: String,
    /// Symbols whose depth diffs come through it.
    pub depth_symbols: Vec<String>,
}

/// The depth stream suffix for a speed in ms.
fn depth_stream(product: Product, speed_ms: u64) -> String {
    match (product, speed_ms) {
        (Product::Spot, 1000) | (Product::Usdm, 250) => "depth".to_owned(),
        (_, speed) => format!("depth@{speed}ms"),
    }
}

/// A route: path, stream kinds, whether it carries depth.
type Routes<'a> = Vec<(&'a str, Vec<&'a str>, bool)>;

/// The connections covering `symbols` on `product`, given the stream base address.
pub(crate) fn plan(
    product: Product,
    base: &str,
    symbols: &[String],
    depth_speed_ms: u64,
) -> Vec<Connection> {
    let depth = depth_stream(product, depth_speed_ms);
    let per_symbol = |names: &[&str]| -> Vec<(String, Vec<String>)> {
        symbols
            .iter()
            .map(|s| {
                let lower = s.to_ascii_lowercase();
                let streams = names.iter().map(|n| format!("{lower}@{n}")).collect();
                (s.clone(), streams)
            })
            .collect()
    };
    // (path, stream kinds, carries depth), and the streams allowed per connection.
    let (routes, cap): (Routes<'_>, usize) = match product {
        Product::Spot => (
            vec![("", vec![depth.as_str(), "bookTicker", "trade"], true)],
            1024,
        ),
        Product::Usdm => (
            vec![
                ("/public", vec![depth.as_str(), "bookTicker"], true),
                ("/market", vec!["trade", "markPrice@1s"], false),
            ],
            200,
        ),
    };
    let mut out = Vec::new();
    for (route, names, carries_depth) in routes {
        let mut streams: Vec<String> = Vec::new();
        let mut depth_symbols = Vec::new();
        for (symbol, list) in per_symbol(&names) {
            if streams.len() + list.len() > cap && !streams.is_empty() {
                out.push(Connection {
                    url: format!("{base}{route}/stream?streams={}", streams.join("/")),
                    depth_symbols: std::mem::take(&mut depth_symbols),
                });
                streams.clear();
            }
            streams.extend(list);
            if carries_depth {
                depth_symbols.push(symbol);
            }
        }
        if !streams.is_empty() {
            out.push(Connection {
                url: format!("{base}{route}/stream?streams={}", streams.join("/")),
                depth_symbols,
            });
        }
    }
    out
}

/// The public streams of a config's symbols, opened: the REST client for depth snapshots,
/// the (upper-case) symbols, and the tasks feeding every frame and loss to the receiver.
pub(crate) struct Opened {
    /// REST client of the product's host (snapshots).
    pub rest: std::sync::Arc<crate::rest::RestClient>,
    /// Upper-case symbols.
    pub symbols: Vec<String>,
    /// The connection tasks and the relay.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Validates `config` (which must name symbols) and opens its streams; each frame or loss
/// reaches `tx` wrapped by `wrap`.
///
/// # Errors
/// A bad config, or no symbols.
pub(crate) fn open<I: Send + 'static>(
    config: &crate::config::BinanceConfig,
    tx: mpsc::UnboundedSender<I>,
    wrap: fn(StreamInput) -> I,
) -> Result<Opened, crate::error::BinanceError> {
    use crate::error::BinanceError;
    config
        .validate()
        .map_err(|e| BinanceError::Unsupported(e.to_string()))?;
    if config.symbols.is_empty() {
        return Err(BinanceError::Unsupported(
            "market data: `symbols` lists nothing to stream".into(),
        ));
    }
    let endpoints = config.endpoints();
    let rest = std::sync::Arc::new(crate::rest::RestClient::new(
        &endpoints.rest,
        crate::paths::Paths::of(config.product).time,
        config.recv_window_ms,
        Duration::from_millis(config.request_timeout_ms),
    )?);
    let symbols: Vec<String> = config
        .symbols
        .iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    let (stream_tx, mut stream_rx) = mpsc::unbounded_channel();
    let mut tasks: Vec<_> = plan(
        config.product,
        &endpoints.stream,
        &symbols,
        config.depth_speed_ms,
    )
    .into_iter()
    .map(|c| spawn(c, stream_tx.clone()))
    .collect();
    tasks.push(tokio::spawn(async move {
        while let Some(input) = stream_rx.recv().await {
            if tx.send(wrap(input)).is_err() {
                return;
            }
        }
    }));
    Ok(Opened {
        rest,
        symbols,
        tasks,
    })
}

/// Keeps `connection` open for as long as `tx` has a receiver, forwarding its frames.
pub(crate) fn spawn(
    connection: Connection,
    tx: mpsc::UnboundedSender<StreamInput>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match crate::ws::connect(connection.url.as_str()).await {
                Ok((socket, _)) => {
                    backoff = Duration::from_millis(100);
                    if !forward(socket, &tx).await {
                        return;
                    }
                    tracing::info!(url = %connection.url, "market-data stream: reconnecting");
                }
                Err(e) => {
                    tracing::warn!(url = %connection.url, error = %e, ?backoff, "market-data stream: connect failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            let lost = StreamInput::Lost {
                depth_symbols: connection.depth_symbols.clone(),
            };
            if tx.send(lost).is_err() {
                return;
            }
        }
    })
}

/// Forwards frames until the connection ends (false when nobody listens any more).
/// Pings are answered by the WebSocket library as frames are read.
async fn forward<S>(mut socket: S, tx: &mpsc::UnboundedSender<StreamInput>) -> bool
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let renew = tokio::time::sleep(RENEW_AFTER);
    tokio::pin!(renew);
    loop {
        tokio::select! {
            () = &mut renew => return true,
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if tx.send(StreamInput::Frame(text.as_bytes().to_vec(), now_ns())).is_err() {
                        return false;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    if tx.send(StreamInput::Frame(bytes.to_vec(), now_ns())).is_err() {
                        return false;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return true,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdm_streams_are_routed_by_kind() {
        let plan = plan(Product::Usdm, "wss://x", &["BTCUSDT".into()], 0);
        assert_eq!(
            plan,
            vec![
                Connection {
                    url: "wss://x/public/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker"
                        .into(),
                    depth_symbols: vec!["BTCUSDT".into()]
                },
                Connection {
                    url: "wss://x/market/stream?streams=btcusdt@trade/btcusdt@markPrice@1s".into(),
                    depth_symbols: vec![]
                },
            ]
        );
    }

    #[test]
    fn streams_are_split_at_the_per_connection_cap() {
        let symbols: Vec<String> = (0..150).map(|i| format!("S{i}USDT")).collect();
        let plan = plan(Product::Usdm, "wss://x", &symbols, 250);
        let public: Vec<_> = plan.iter().filter(|c| c.url.contains("/public")).collect();
        assert_eq!(public.len(), 2, "300 public streams need two connections");
        assert_eq!(
            public[0].depth_symbols.len() + public[1].depth_symbols.len(),
            150
        );
        assert!(public[0].url.contains("s0usdt@depth/"));
        let spot = super::plan(Product::Spot, "wss://y", &["ETHUSDT".into()], 1000);
        assert_eq!(
            spot[0].url,
            "wss://y/stream?streams=ethusdt@depth/ethusdt@bookTicker/ethusdt@trade"
        );
    }
}
