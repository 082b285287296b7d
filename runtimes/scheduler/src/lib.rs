//! The scheduler: decides which execution node runs each portfolio.
//!
//! Stateless as a process: the schedule (nodes, placements, epochs) lives in the shared store
//! under [`chimera_messages::SCHEDULE_STATE_KEY`]. Several schedulers may run; only the holder
//! of the leader lease [`chimera_messages::SCHEDULER_LEADER_KEY`] acts, the others wait to take
//! it over. A leader renews its lease every third of its TTL and steps down (acting no more)
//! as soon as a renewal fails, so two never act at once for longer than a tick. The work of a
//! leader is in [`placement`]: nodes' heartbeats from `system.events`, deaths after
//! `dead_after_ms`, portfolios from the database, assignment changes to `schedule.updates` and
//! to the portfolios' records.

mod operator;
pub mod placement;

use chimera_messages::{AlertCode, AlertLevel, SCHEDULER_LEADER_KEY};
use chimera_ports::LockToken;
use chimera_runtime::config::LiveConfig;
use chimera_runtime::runtime::{fatal, shutdown_pair, trigger_on_signals, Runtime, SharedState};
use chimera_runtime::scheduler_config::SchedulerConfig;
use chimera_runtime::telemetry::{HealthBoard, HealthStatus};
use chimera_runtime::{connect, connect_bus};
use placement::Placement;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a scheduler did, when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerFigures {
    /// Times it became the leader.
    pub terms: u64,
    /// Assignment changes carried out.
    pub changes: u64,
    /// Longest time from taking the lease to acting (state read, placements republished).
    pub slowest_takeover: Duration,
}

/// Runs the scheduler until shutdown: waits for the leader lease, leads while it holds it.
///
/// # Errors
/// No shared state in the runtime, or a fatal store, database or bus failure.
pub async fn run_scheduler(
    rt: Arc<Runtime>,
    config: &SchedulerConfig,
) -> anyhow::Result<SchedulerFigures> {
    let Some(state) = rt.state.clone() else {
        anyhow::bail!("the scheduler needs shared state: add a [state] section (Redis)");
    };
    let ttl = Duration::from_millis(config.leader_ttl_ms);
    let board = HealthBoard::new(&config.id);
    board
        .serve_if(config.metrics_listen.as_deref(), rt.shutdown.clone())
        .await?;
    export(&config.id, None, &board);
    let mut figures = SchedulerFigures::default();
    let mut shutdown = rt.shutdown.clone();
    loop {
        let Some(token) = wait_for_leadership(&rt, &state, ttl).await? else {
            return Ok(figures);
        };
        let took = Instant::now();
        let mut leader =
            Placement::take_over(Arc::clone(&rt), state.clone(), config.clone()).await?;
        let takeover = took.elapsed();
        figures.terms += 1;
        figures.slowest_takeover = figures.slowest_takeover.max(takeover);
        rt.alert(
            AlertLevel::Warning,
            AlertCode::SchedulerChanged,
            format!(
                "scheduler {} leads ({} node(s), {} portfolio(s)); ready {} ms after taking \
                 the lease",
                config.id,
                leader.schedule().nodes().len(),
                leader.schedule().placements().len(),
                takeover.as_millis()
            ),
            None,
        );
        let mut renewed = Instant::now();
        let lost = loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(config.tick_ms)) => {}
                () = shutdown.wait() => break false,
            }
            if renewed.elapsed() >= ttl / 3 {
                match state
                    .store
                    .extend_lock(SCHEDULER_LEADER_KEY, &token, ttl)
                    .await
                {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => break true,
                    Err(e) if e.is_transient() && renewed.elapsed() < ttl / 2 => {
                        tracing::warn!(component = %rt.source, "renewing the leader lease: {e}");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(component = %rt.source, "leader lease: {e}; stepping down");
                        break true;
                    }
                }
            }
            leader.step().await?;
            export(&config.id, Some(&leader), &board);
        };
        export(&config.id, None, &board);
        figures.changes += leader.changes;
        if !lost {
            if let Err(e) = state.store.unlock(SCHEDULER_LEADER_KEY, &token).await {
                tracing::warn!(component = %rt.source, "releasing the leader lease: {e}");
            }
            return Ok(figures);
        }
        rt.alert(
            AlertLevel::Critical,
            AlertCode::SchedulerChanged,
            format!(
                "scheduler {} lost its leader lease and stepped down",
                config.id
            ),
            None,
        );
    }
}

/// The scheduler's gauges (`chimera_scheduler_leader`, `chimera_scheduler_nodes_alive`,
/// `chimera_scheduler_portfolios_placed`, `chimera_scheduler_portfolios_waiting`, counter
/// `chimera_scheduler_changes_total`; label `component`) and health: `ok` leading or standing
/// by, with what it knows.
fn export(component: &str, leader: Option<&Placement>, board: &HealthBoard) {
    let label = || ("component", component.to_owned());
    let Some(leader) = leader else {
        metrics::gauge!("chimera_scheduler_leader", &[label()]).set(0.0);
        board.set(HealthStatus::Ok, serde_json::json!({ "leader": false }));
        return;
    };
    let schedule = leader.schedule();
    let alive = schedule.nodes().values().filter(|n| !n.dead).count();
    let placed = schedule
        .placements()
        .values()
        .filter(|p| p.is_some())
        .count();
    let waiting = schedule.placements().len() - placed;
    #[allow(clippy::cast_precision_loss, reason = "gauges are f64")]
    {
        metrics::gauge!("chimera_scheduler_leader", &[label()]).set(1.0);
        metrics::gauge!("chimera_scheduler_nodes_alive", &[label()]).set(alive as f64);
        metrics::gauge!("chimera_scheduler_portfolios_placed", &[label()]).set(placed as f64);
        metrics::gauge!("chimera_scheduler_portfolios_waiting", &[label()]).set(waiting as f64);
    }
    metrics::counter!("chimera_scheduler_changes_total", &[label()]).absolute(leader.changes);
    let status = if waiting > 0 {
        HealthStatus::Degraded
    } else {
        HealthStatus::Ok
    };
    board.set(
        status,
        serde_json::json!({
            "leader": true, "nodes_alive": alive, "placed": placed, "waiting": waiting,
            "changes": leader.changes,
        }),
    );
}

/// Waits for the leader lease; `None` at shutdown.
async fn wait_for_leadership(
    rt: &Runtime,
    state: &SharedState,
    ttl: Duration,
) -> anyhow::Result<Option<LockToken>> {
    let mut shutdown = rt.shutdown.clone();
    loop {
        match state.store.lock(SCHEDULER_LEADER_KEY, ttl).await {
            Ok(Some(token)) => return Ok(Some(token)),
            Ok(None) => {}
            Err(e) if e.is_transient() => {
                tracing::warn!(component = %rt.source, "leader lease: {e}; retrying");
            }
            Err(e) => return Err(fatal("take the leader lease", &e)),
        }
        tokio::select! {
            () = tokio::time::sleep(ttl / 10) => {}
            () = shutdown.wait() => return Ok(None),
        }
    }
}

/// The scheduler process: `[scheduler]`, `[state]`, `[bus]` and `[database]` from the config.
///
/// # Errors
/// A missing section, an unreachable service, or a fatal failure.
pub async fn run_scheduler_process(config: &LiveConfig) -> anyhow::Result<()> {
    chimera_runtime::logging::init()?;
    let Some(scheduler) = config.scheduler.clone() else {
        anyhow::bail!("the configuration has no [scheduler] section");
    };
    if config.state.is_none() {
        anyhow::bail!("the scheduler needs shared state: add a [state] section (Redis)");
    }
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &scheduler.id, false).await?;
    let rt = connect(config, bus, &scheduler.id, shutdown).await?;
    let outcome = chimera_runtime::runtime::alerts_settled_after(
        &rt,
        run_scheduler(Arc::clone(&rt), &scheduler),
    )
    .await;
    let f = outcome?;
    println!(
        "terms {} changes {} slowest takeover {} ms",
        f.terms,
        f.changes,
        f.slowest_takeover.as_millis()
    );
    Ok(())
}
