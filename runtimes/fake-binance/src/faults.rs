//! Fault injection, set through `POST /fake/faults` (JSON) or directly by tests: what Binance
//! does on its bad days.

use serde::Deserialize;
use std::time::Duration;

/// What the next new-order (or transfer) requests suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFault {
    /// The request never reaches the matching: nothing is done, no answer comes in time.
    Swallowed(Duration),
    /// The order is placed, then the answer comes too late for the client (lost response).
    LoseResponse(Duration),
    /// The order is placed, then the answer is `503 -1007` (execution status unknown).
    Unknown5xx,
}

/// Faults to inject.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// The next N new orders are placed but their answers are held this long.
    #[serde(default)]
    pub lose_responses: u32,
    /// How long a lost answer is held, ms (longer than the client's timeout).
    #[serde(default = "default_delay")]
    pub lose_delay_ms: u64,
    /// The next N new orders are placed and answered `503 -1007`.
    #[serde(default)]
    pub unknown_5xx: u32,
    /// Drop the next N user-data frames (connections stay open, pings continue).
    #[serde(default)]
    pub drop_user_frames: u32,
    /// Close every user-data connection now (clients must reconnect).
    #[serde(default)]
    pub close_user_streams: bool,
    /// Withhold the next N depth diffs from stream subscribers (a gap in their chain).
    #[serde(default)]
    pub depth_gaps: u32,
    /// Answer the next N depth requests with a snapshot older than the diffs sent since.
    #[serde(default)]
    pub lagging_snapshots: u32,
    /// Close every market-data connection now (clients must reconnect and resynchronise).
    #[serde(default)]
    pub close_market_streams: bool,
    /// The next N wallet transfers are made but their answers are held `lose_delay_ms`.
    #[serde(default)]
    pub lose_transfer_answers: u32,
    /// The next N wallet transfers are made and answered `503 -1007`.
    #[serde(default)]
    pub unknown_transfer_answers: u32,
    /// The next N wallet transfers are lost on the way: not made, no answer for
    /// `lose_delay_ms`.
    #[serde(default)]
    pub swallow_transfers: u32,
}

fn default_delay() -> u64 {
    3_000
}

impl Faults {
    /// Takes the fault for the next wallet transfer, if any.
    pub fn take_transfer_fault(&mut self) -> Option<OrderFault> {
        if self.swallow_transfers > 0 {
            self.swallow_transfers -= 1;
            return Some(OrderFault::Swallowed(Duration::from_millis(
                self.lose_delay_ms,
            )));
        }
        if self.unknown_transfer_answers > 0 {
            self.unknown_transfer_answers -= 1;
            return Some(OrderFault::Unknown5xx);
        }
        if self.lose_transfer_answers > 0 {
            self.lose_transfer_answers -= 1;
            return Some(OrderFault::LoseResponse(Duration::from_millis(
                self.lose_delay_ms,
            )));
        }
        None
    }

    /// Takes the fault for the next new order, if any.
    pub fn take_order_fault(&mut self) -> Option<OrderFault> {
        if self.unknown_5xx > 0 {
            self.unknown_5xx -= 1;
            return Some(OrderFault::Unknown5xx);
        }
        if self.lose_responses > 0 {
            self.lose_responses -= 1;
            return Some(OrderFault::LoseResponse(Duration::from_millis(
                self.lose_delay_ms,
            )));
        }
        None
    }
}
