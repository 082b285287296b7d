//! Sending a control command and waiting for its acknowledgement: `200` with the outcome when
//! it came within `[api].command_wait_ms`, `202` with the command's id when it did not (the
//! command stays on the bus and is applied when its owner gets to it).

use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;
use axum::http::StatusCode;
use axum::Json;
use chimera_messages::{CommandAck, CommandOutcome, ControlCommand, MessageType, Topic};
use chimera_runtime::runtime::wall_clock;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Publishes `command` and waits for its one acknowledgement.
///
/// # Errors
/// 503 when the bus is unreachable.
pub(crate) async fn send(
    state: &ApiState,
    command: ControlCommand,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let rt = &state.0.rt;
    let id = format!(
        "{}-{}-{}",
        state.0.config.id,
        wall_clock().0,
        state.0.calls.fetch_add(1, Ordering::Relaxed)
    );
    let mut waiter = state.0.acks.wait_for(&id);
    rt.publish(
        Topic::ControlCommands,
        MessageType::ControlCommand,
        id.clone(),
        command.key(),
        &command,
    )
    .await
    .map_err(ApiError::from)?;
    let deadline = Instant::now() + Duration::from_millis(state.0.config.command_wait_ms);
    let ack: Option<CommandAck> = waiter
        .next(deadline.saturating_duration_since(Instant::now()))
        .await;
    Ok(match ack {
        None => (
            StatusCode::ACCEPTED,
            Json(json!({"command_id": id, "status": "pending",
                "message": "sent; no acknowledgement yet (is its node or the scheduler running?)"})),
        ),
        Some(ack) => match ack.outcome {
            CommandOutcome::Applied => (
                StatusCode::OK,
                Json(json!({"command_id": id, "status": "applied", "by": ack.by})),
            ),
            CommandOutcome::Refused { reason, detail } => (
                StatusCode::CONFLICT,
                Json(json!({"command_id": id, "status": "refused", "by": ack.by,
                    "reason": reason, "detail": detail})),
            ),
        },
    })
}
