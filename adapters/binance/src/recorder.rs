//! [`BinanceRecorder`]: records Binance's public streams in the capture format of
//! `../shared/data/binance` (`<receive ns> <raw JSON>` per line: the combined-stream frames
//! exactly as received, and a REST depth snapshot per symbol), so what a user records
//! replays through `chimera backtest`, the replay readers and the fake Binance.
//!
//! A snapshot is taken once the symbol's depth stream is flowing (so the recording holds the
//! diffs that bridge it, as the documented book procedure needs) and again after every lost
//! connection. Unlike Binance's REST answer, the recorded snapshot names its `symbol`, so a
//! file with several symbols attributes each snapshot correctly.

use crate::config::BinanceConfig;
use crate::error::BinanceError;
use crate::market_stream::{self, now_ns, StreamInput};
use crate::paths::{self, Paths};
use crate::rest::{Auth, Method, RestClient};
use crate::sign::Params;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Levels per side in a recorded snapshot.
const SNAPSHOT_LIMIT: u32 = 1000;

enum Input {
    Stream(StreamInput),
    Snapshot {
        symbol: String,
        result: Result<serde_json::Value, BinanceError>,
        recv_ns: i64,
    },
}

/// Records the streams of `config.symbols`.
pub struct BinanceRecorder {
    rest: Arc<RestClient>,
    depth_path: &'static str,
    snapshot_cost: crate::rest::Cost,
    rx: mpsc::UnboundedReceiver<Input>,
    tx: mpsc::UnboundedSender<Input>,
    /// Symbols whose depth is flowing and snapshotted (or being snapshotted).
    snapshotted: HashSet<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for BinanceRecorder {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl std::fmt::Debug for BinanceRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceRecorder").finish_non_exhaustive()
    }
}

impl BinanceRecorder {
    /// Opens the streams (public data: no keys, and no trading, so any environment).
    ///
    /// # Errors
    /// A bad config, or no symbols.
    pub fn connect(config: &BinanceConfig) -> Result<Self, BinanceError> {
        let mut config = config.clone();
        config.allow_live = true; // recording public data trades nothing
        let (tx, rx) = mpsc::unbounded_channel();
        let opened = market_stream::open(&config, tx.clone(), Input::Stream)?;
        let paths = Paths::of(config.product);
        Ok(Self {
            rest: opened.rest,
            depth_path: paths.depth,
            snapshot_cost: paths::cost(config.product, 50, 20),
            rx,
            tx,
            snapshotted: HashSet::new(),
            tasks: opened.tasks,
        })
    }

    /// The next line to write (no newline). Waits for the streams; never ends by itself.
    pub async fn next_line(&mut self) -> Option<String> {
        loop {
            match self.rx.recv().await? {
                Input::Stream(StreamInput::Frame(bytes, recv_ns)) => {
                    let text = String::from_utf8_lossy(&bytes);
                    if let Some(symbol) = depth_symbol(&text) {
                        if self.snapshotted.insert(symbol.clone()) {
                            self.fetch(symbol);
                        }
                    }
                    return Some(format!("{recv_ns} {text}"));
                }
                Input::Stream(StreamInput::Lost { depth_symbols }) => {
                    for s in depth_symbols {
                        self.snapshotted.remove(&s);
                    }
                }
                Input::Snapshot {
                    symbol,
                    result: Ok(mut body),
                    recv_ns,
                } => {
                    if let Some(object) = body.as_object_mut() {
                        object.insert("symbol".into(), serde_json::Value::String(symbol));
                    }
                    return Some(format!("{recv_ns} {body}"));
                }
                Input::Snapshot {
                    symbol,
                    result: Err(e),
                    ..
                } => {
                    tracing::warn!(%symbol, error = %e, "record: snapshot failed; retrying");
                    self.snapshotted.remove(&symbol);
                }
            }
        }
    }

    fn fetch(&self, symbol: String) {
        let rest = Arc::clone(&self.rest);
        let tx = self.tx.clone();
        let path = self.depth_path;
        let cost = self.snapshot_cost;
        tokio::spawn(async move {
            let params = Params::new()
                .with("symbol", &symbol)
                .with("limit", SNAPSHOT_LIMIT);
            let result = rest
                .call::<serde_json::Value>(Method::Get, path, params, Auth::None, cost)
                .await;
            let _ = tx.send(Input::Snapshot {
                symbol,
                result,
                recv_ns: now_ns(),
            });
        });
    }
}

/// The upper-case symbol of a combined depth frame (`{"stream":"btcusdt@depth@100ms",...`).
fn depth_symbol(text: &str) -> Option<String> {
    let start = text.find("\"stream\":\"")? + 10;
    let rest = &text[start..];
    let stream = &rest[..rest.find('"')?];
    let (symbol, kind) = stream.split_once('@')?;
    kind.starts_with("depth")
        .then(|| symbol.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn depth_frames_name_their_symbol() {
        assert_eq!(
            super::depth_symbol(r#"{"stream":"ethusdt@depth@100ms","data":{}}"#).as_deref(),
            Some("ETHUSDT")
        );
        assert_eq!(
            super::depth_symbol(r#"{"stream":"ethusdt@trade","data":{}}"#),
            None
        );
    }
}
