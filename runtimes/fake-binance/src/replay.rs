//! Replays capture files (`<receive ns> <raw JSON>` per line, gzipped, the format of
//! `../shared/data/binance` and of `chimera record`) as the fake's live market.
//!
//! Files are merged in receive-time order and paced at `replay_speed` × real time (0: as
//! fast as possible); event times (`E`, `T`) are re-stamped onto the wall clock, so a client
//! sees fresh data. Depth diffs build the fake's book from the capture's snapshot on (diffs
//! before it are not published: a client could not use them either); every event also
//! drives the matching core, so resting orders fill against the replayed market. On USDⓈ-M
//! the fake publishes `markPriceUpdate` each second from the book's mid with the configured
//! funding rate, and settles funding on every position at each funding time
//! ([`crate::funding`]). The replay ends with its files (no loop: update ids cannot repeat).

use crate::state::now_ms;
use crate::Fake;
use chimera_kernel::event::{BookSnapshot, MarketEvent};
use chimera_kernel::ids::Symbol;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One line of a capture, read.
enum Line {
    Snapshot(BookSnapshot),
    Frame {
        stream: String,
        data: Value,
        event: Option<MarketEvent>,
    },
}

/// A capture line with its receive time.
struct Timed {
    recv_ns: i64,
    line: Line,
}

fn read_line(text: &str, symbol: &mut Option<Symbol>) -> Result<Option<Timed>, String> {
    let (recv, json) = text.split_once(' ').ok_or("expected `<ns> <json>`")?;
    let recv_ns: i64 = recv.parse().map_err(|_| "bad receive time")?;
    let event = chimera_replay::parse_capture_line(text, symbol)?;
    if let Some(MarketEvent::BookSnapshot(s)) = event {
        return Ok(Some(Timed {
            recv_ns,
            line: Line::Snapshot(s),
        }));
    }
    let mut value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let Some(stream) = value
        .get("stream")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let data = value.get_mut("data").map(Value::take).unwrap_or_default();
    Ok(Some(Timed {
        recv_ns,
        line: Line::Frame {
            stream,
            data,
            event,
        },
    }))
}

/// Reads `files` merged by receive time, on a thread, into a bounded channel.
fn spawn_reader(files: Vec<PathBuf>) -> mpsc::Receiver<Timed> {
    let (tx, rx) = mpsc::channel(4096);
    std::thread::spawn(move || {
        let mut sources: Vec<_> = files
            .iter()
            .filter_map(|path| match std::fs::File::open(path) {
                Ok(f) => {
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    let symbol = name
                        .split(['_', '.'])
                        .next()
                        .map(|s| Symbol::new(s.to_ascii_uppercase()));
                    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f));
                    Some((reader.lines(), symbol, None::<Timed>))
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "fake market: cannot open capture");
                    None
                }
            })
            .collect();
        loop {
            for (lines, symbol, head) in &mut sources {
                while head.is_none() {
                    match lines.next() {
                        Some(Ok(text)) => match read_line(&text, symbol) {
                            Ok(line) => *head = line,
                            Err(e) => {
                                tracing::warn!(error = %e, "fake market: skipped a capture line");
                            }
                        },
                        _ => break,
                    }
                }
            }
            let Some(next) = sources
                .iter_mut()
                .filter(|s| s.2.is_some())
                .min_by_key(|s| s.2.as_ref().map_or(i64::MAX, |t| t.recv_ns))
                .and_then(|s| s.2.take())
            else {
                return;
            };
            if tx.blocking_send(next).is_err() {
                return;
            }
        }
    });
    rx
}

/// Moves capture time onto the wall clock.
#[derive(Clone, Copy)]
struct Clock {
    first_ms: i64,
    wall_ms: i64,
    speed: f64,
}

impl Clock {
    fn stamp(self, capture_ms: i64) -> i64 {
        if self.speed > 0.0 {
            self.wall_ms + ((capture_ms - self.first_ms) as f64 / self.speed) as i64
        } else {
            self.wall_ms + (capture_ms - self.first_ms)
        }
    }
}

fn restamp(data: &mut Value, clock: Clock) {
    for field in ["E", "T"] {
        if let Some(t) = data.get(field).and_then(Value::as_i64) {
            data[field] = json!(clock.stamp(t));
        }
    }
}

/// Runs the replay of `fake.config.captures`.
pub(crate) fn spawn(fake: Arc<Fake>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rx = spawn_reader(fake.config.captures.clone());
        let speed = fake.config.replay_speed;
        let mut start: Option<(Instant, Clock)> = None;
        let mut held = Duration::ZERO;
        let mut marks: HashMap<String, i64> = HashMap::new();
        while let Some(timed) = rx.recv().await {
            while fake.market().paused {
                tokio::time::sleep(Duration::from_millis(10)).await;
                held += Duration::from_millis(10);
            }
            let capture_ms = timed.recv_ns / 1_000_000;
            let (began, clock) = *start.get_or_insert_with(|| {
                let clock = Clock {
                    first_ms: capture_ms,
                    wall_ms: now_ms(),
                    speed,
                };
                (Instant::now(), clock)
            });
            if speed > 0.0 {
                let due = Duration::from_secs_f64(
                    (timed.recv_ns - clock.first_ms * 1_000_000).max(0) as f64 / 1e9 / speed,
                );
                tokio::time::sleep_until((began + held + due).into()).await;
            }
            match timed.line {
                Line::Snapshot(s) => fake.market().apply_snapshot(&s),
                Line::Frame {
                    stream,
                    mut data,
                    event,
                } => {
                    let Some(event) = event else { continue };
                    let show = match &event {
                        MarketEvent::BookDelta(d) => fake.market().apply_delta(d),
                        _ => true,
                    };
                    fake.exchange().on_market(&event);
                    if show {
                        restamp(&mut data, clock);
                        fake.market().publish(&stream, &data);
                    }
                    if fake.config.product == crate::FakeProduct::Usdm {
                        let symbol = event.symbol().as_str().to_owned();
                        let last = marks.entry(symbol.clone()).or_insert(0);
                        if capture_ms - *last >= 1_000 {
                            *last = capture_ms;
                            crate::funding::mark_tick(&fake, &symbol, clock.stamp(capture_ms));
                        }
                    }
                }
            }
        }
        tracing::info!("fake market: the captures are over");
    })
}
