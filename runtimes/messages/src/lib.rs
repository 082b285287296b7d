//! # chimera-messages
//!
//! What travels on the bus between Chimera's runtimes (feed, execution nodes, trade gateway,
//! scheduler, API): every message is an [`Envelope`] (`schema`, `type`, `id`, `ts`, `source`,
//! `key`, `payload`) encoded as JSON with decimals as strings, so consumers in any language can
//! read it. [`Topics`] names the topics under a configurable prefix. A message that cannot be
//! decoded is never dropped silently: [`DeadLetters`] publishes it, with the reason and the raw
//! bytes, to the dead-letter topic and counts it.

mod ack;
mod control;
mod dead_letter;
mod envelope;
mod heartbeat;
mod kill_switch;
mod strategy_event;
mod topics;

pub use ack::{CommandAck, CommandOutcome, RefusalCode};
pub use control::{
    ControlCommand, EpochClaim, Progress, ScheduleUpdate, SCHEDULER_LEADER_KEY, SCHEDULE_STATE_KEY,
};
pub use dead_letter::{DeadLetter, DeadLetters};
pub use envelope::{
    decode, encode, message_type, Alert, AlertCode, AlertLevel, DecodeError, Envelope, MessageType,
    SCHEMA_VERSION,
};
pub use heartbeat::{Heartbeat, PortfolioLoad};
pub use kill_switch::{
    KillScope, KillSwitch, KillSwitchBoard, KILL_SWITCH_KEY, KILL_SWITCH_LOCK_KEY,
};
pub use strategy_event::StrategyEvent;
pub use topics::{Topic, Topics};
