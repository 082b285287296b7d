//! A runtime under test: the real binary as a child process (Kafka, Redis Streams), or on the
//! in-memory bus the same component run as a task of this process, as `chimera up` runs it.

use super::setup::Setup;
use chimera_live::runtime::{shutdown_pair, ShutdownTrigger};
use std::path::Path;
use std::process::Child;
use std::sync::Arc;

/// Node or gateway, running (its binary, built on first use by the `LazyLock`).
pub(crate) enum Running {
    Process(Child),
    Task {
        stop: ShutdownTrigger,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    },
}

/// Which component.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Component {
    Node,
    Gateway,
}

impl Running {
    /// Starts `component` on `setup`: `binary` as a child logging to `dir/<log>.{out,err}`, or
    /// in this process on the setup's shared in-memory bus and database pool.
    pub(crate) async fn start(
        component: Component,
        setup: &Setup,
        binary: &std::sync::LazyLock<String>,
        dir: &Path,
        log: &str,
    ) -> Self {
        let Some((bus, store)) = &setup.shared else {
            return Self::Process(super::setup::spawn(binary, &setup.path, dir, log));
        };
        let (stop, shutdown) = shutdown_pair();
        let live = &setup.live;
        let id = match component {
            Component::Node => &live.node.as_ref().unwrap().id,
            Component::Gateway => &live.gateway.as_ref().unwrap().id,
        };
        let rt = chimera_live::connect_on(live, Arc::clone(bus), store.clone(), id, shutdown)
            .await
            .unwrap();
        let task = match component {
            Component::Node => {
                let mut cfg = live.node.clone().unwrap();
                if rehearsing().0 {
                    cfg.rehearse_while_busy_polling();
                }
                // As `chimera up` does before it starts the node (the binary does it itself).
                chimera_live::node::register_portfolios(&rt, &cfg.id, &live.portfolios)
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    let strategies = chimera_kernel::strategy::StrategyRegistry::builtin();
                    chimera_live::node::run_node(rt, &cfg, &strategies).await?;
                    Ok(())
                })
            }
            Component::Gateway => {
                let mut cfg = live.gateway.clone().unwrap();
                if rehearsing().1 {
                    cfg.rehearse_while_busy_polling();
                }
                tokio::spawn(async move {
                    chimera_live::gateway::run_gateway(rt, &cfg).await?;
                    Ok(())
                })
            }
        };
        Self::Task { stop, task }
    }

    /// The process whose memory is the component's: the child, or this very process (whose
    /// figures then include the benchmark's own).
    pub(crate) fn pid(&self) -> u32 {
        match self {
            Self::Process(child) => child.id(),
            Self::Task { .. } => std::process::id(),
        }
    }

    /// Whether it runs in this process.
    pub(crate) fn in_process(&self) -> bool {
        matches!(self, Self::Task { .. })
    }

    /// Stops it as a signal would (it checkpoints first) and waits; a task's failure panics
    /// the benchmark with its reason.
    pub(crate) async fn stop(self) {
        match self {
            Self::Process(mut child) => super::setup::stop(&mut child),
            Self::Task { stop, task } => {
                stop.trigger();
                if let Err(e) = task.await.unwrap() {
                    panic!("an in-process runtime failed: {e:#}");
                }
            }
        }
    }
}

/// Whether the in-process node and gateway rehearse (node, gateway): as `chimera up
/// --busy-poll` runs them when busy-polling, not when parked. `CHIMERA_BENCH_REHEARSE=0`:
/// neither; `=1`: both, parked too (as configured `rehearse_us` and `sim_rehearse_us` would);
/// `=node` or `=gateway`: that one alone, to tell their parts apart.
fn rehearsing() -> (bool, bool) {
    let busy = std::env::var_os("CHIMERA_BENCH_BUSY_POLL").is_some();
    match std::env::var("CHIMERA_BENCH_REHEARSE").as_deref() {
        Ok("0") => (false, false),
        Ok("1") => (true, true),
        Ok("node") => (true, false),
        Ok("gateway") => (false, true),
        _ => (busy, busy),
    }
}
