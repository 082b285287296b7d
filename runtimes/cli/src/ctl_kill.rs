//! `chimera ctl kill`: engages, releases and lists kill switches in the shared store, then
//! announces the change so nodes and the gateway read it at once.

use crate::args::KillAction;
use chimera_kernel::risk::KillMode;
use chimera_live::kill_switch::{announce, KillSwitches};
use chimera_live::runtime::{wall_clock, Runtime};
use chimera_messages::{KillScope, KillSwitch, KillSwitchBoard};
use std::sync::Arc;

/// Carries out `action` with the shared store of `rt`.
///
/// # Errors
/// No shared store configured, a bad mode or scope, or the store failing.
pub(crate) async fn run(rt: &Runtime, action: &KillAction) -> anyhow::Result<()> {
    let Some(state) = &rt.state else {
        anyhow::bail!("kill switches live in the shared store: configure [redis]");
    };
    let switches = KillSwitches::new(Arc::clone(&state.store));
    match action {
        KillAction::List => print(&switches.read().await?)?,
        KillAction::Engage {
            mode,
            scope,
            reason,
            ttl_secs,
            id,
        } => {
            let mut problems = Vec::new();
            let parsed_mode = KillMode::from_code(mode);
            if parsed_mode.is_none() {
                problems.push(format!(
                    "mode {mode:?}: expected halt_entries, reduce_only, cancel_all or flatten"
                ));
            }
            let parsed_scope = scope
                .parse::<KillScope>()
                .map_err(|e| problems.push(e))
                .ok();
            if reason.trim().is_empty() {
                problems.push("reason: must not be empty".into());
            }
            if ttl_secs == &Some(0) {
                problems.push("ttl-secs: must be at least 1".into());
            }
            let (Some(mode), Some(scope), true) = (parsed_mode, parsed_scope, problems.is_empty())
            else {
                anyhow::bail!("invalid kill switch:\n  {}", problems.join("\n  "));
            };
            let now = wall_clock().0;
            let switch = KillSwitch {
                id: id.clone().unwrap_or_else(|| format!("ks-{now}")),
                mode,
                scope,
                reason: reason.clone(),
                engaged_by: format!("ctl@{}", rt.source),
                engaged_at: now,
                expires_at: ttl_secs.map(|s| {
                    now.saturating_add(i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX))
                }),
            };
            let what = format!(
                "kill switch {} engaged: {} over {} by {} ({})",
                switch.id, switch.mode, switch.scope, switch.engaged_by, switch.reason
            );
            let (board, changed) = switches.engage(switch).await?;
            if changed {
                announce(rt, board.version, what.clone()).await;
            }
            crate::say!("{what}");
            print(&board)?;
        }
        KillAction::Release { id } => {
            let (board, released) = switches.release(id).await?;
            let Some(released) = released else {
                anyhow::bail!("no kill switch {id:?} is engaged");
            };
            let what = format!(
                "kill switch {} released ({} over {})",
                released.id, released.mode, released.scope
            );
            announce(rt, board.version, what.clone()).await;
            crate::say!("{what}");
            print(&board)?;
        }
    }
    Ok(())
}

fn print(board: &KillSwitchBoard) -> anyhow::Result<()> {
    let now = wall_clock().0;
    let active: Vec<_> = board.active(now).collect();
    if active.is_empty() {
        crate::say!("no kill switch in force (version {})", board.version);
    }
    for s in active {
        let until = s.expires_at.map_or_else(
            || "until released".to_owned(),
            |at| format!("{} s left", (at - now) / 1000),
        );
        crate::say!(
            "{}: {} over {}, {until}, by {}: {}",
            s.id,
            s.mode,
            s.scope,
            s.engaged_by,
            s.reason
        );
    }
    Ok(())
}
