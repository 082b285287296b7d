//! `chimera up --processes`: the same deployment as `chimera up`, with feed, gateway and node
//! as child processes — this very binary run as `feed`, `gateway` and `node`, so a user's own
//! binary starts a node with the user's strategies — given the same configuration files;
//! environment overrides reach them by inheritance.
//!
//! SIGTERM / Ctrl-C is passed on to every child, which checkpoints and stops; a child that has
//! not stopped 30 s later is killed (its work resumes from its last checkpoint next time). A
//! child that fails stops the others and makes `chimera up` fail with its exit status.

use super::settle::{prepare_portfolios, print_positions, wait_idle, Settling};
use anyhow::Context as _;
use chimera_live::config::LiveConfig;
use chimera_live::runtime::{shutdown_pair, trigger_on_signals};
use chimera_live::{connect, connect_bus};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// One runtime binary running as a child.
struct Component {
    name: &'static str,
    child: Child,
}

impl Component {
    fn start(binary: &Path, name: &'static str, files: &[PathBuf]) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command.arg(name);
        for file in files {
            command.arg("--config").arg(file);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {} {name}", binary.display()))?;
        println!("  {name:<9} pid {}", child.id());
        Ok(Self { name, child })
    }

    /// SIGTERM, then up to [`STOP_GRACE`] to exit, then SIGKILL.
    async fn stop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("chimera up: {} ignored SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        // Returns at once after SIGKILL; reaps the child.
        let _ = self.child.wait();
    }
}

/// Runs the three components as child processes until a signal (or, with `exit_when_idle`,
/// until the feed is done and every order has settled), then prints the positions.
///
/// # Errors
/// A memory bus, a missing binary or section, an unreachable bus or database, or a child that
/// failed.
pub(crate) async fn up(
    config: LiveConfig,
    files: &[PathBuf],
    exit_when_idle: bool,
) -> anyhow::Result<()> {
    let (Some(node_cfg), Some(gateway_cfg), Some(_)) =
        (&config.node, &config.gateway, &config.feed)
    else {
        anyhow::bail!(
            "chimera up needs [node], [gateway] and [feed] sections in the configuration"
        );
    };
    if config.bus.is_memory() {
        anyhow::bail!(
            "--processes needs a bus that crosses processes: set bus kind to kafka or redis \
             (the memory bus only works within one process)"
        );
    }
    let binary = std::env::current_exe().context("finding this binary to start its components")?;
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(&config, "up", false).await?;
    let rt = connect(&config, bus, "up", shutdown.clone()).await?;
    let portfolios = prepare_portfolios(&rt, &config, node_cfg).await?;
    let settling = Settling::new(portfolios, node_cfg, gateway_cfg);

    let mut components = Vec::new();
    let mut started = Ok(());
    for label in ["gateway", "node", "feed"] {
        match Component::start(&binary, label, files) {
            Ok(component) => components.push(component),
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    // A component that could not start stops the ones already running.
    let outcome = match started {
        Ok(()) => supervise(&mut components, &rt, &settling, exit_when_idle, &shutdown).await,
        Err(e) => Err(e),
    };
    // Stop the feed first, the gateway last, so in-flight orders are still answered.
    for component in components.iter_mut().rev() {
        component.stop().await;
    }
    outcome?;
    print_positions(&rt, settling.portfolios()).await
}

/// Watches the children until shutdown, a failed child, or (with `exit_when_idle`) a finished
/// feed and settled orders.
async fn supervise(
    components: &mut [Component],
    rt: &chimera_live::runtime::Runtime,
    settling: &Settling,
    exit_when_idle: bool,
    shutdown: &chimera_live::runtime::Shutdown,
) -> anyhow::Result<()> {
    let mut feed_done = false;
    while !shutdown.is_triggered() {
        for component in components.iter_mut() {
            let Some(status) = component.child.try_wait()? else {
                continue;
            };
            if !status.success() {
                anyhow::bail!("{} stopped: {status}", component.name);
            }
            if component.name == "feed" {
                feed_done = true;
            } else {
                anyhow::bail!("{} exited on its own ({status})", component.name);
            }
        }
        if feed_done && exit_when_idle {
            println!("feed: finished");
            return wait_idle(rt, settling, shutdown.clone()).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}
