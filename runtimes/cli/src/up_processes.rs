//! `chimera up --processes`: the same deployment as `chimera up`, with feed, gateway and node
//! as child processes (the `chimera-feed`, `chimera-gateway` and `chimera-node` binaries) given
//! the same configuration files; environment overrides reach them by inheritance.
//!
//! SIGTERM / Ctrl-C is passed on to every child, which checkpoints and stops; a child that has
//! not stopped 30 s later is killed (its work resumes from its last checkpoint next time). A
//! child that fails stops the others and makes `chimera up` fail with its exit status.

use crate::up::{print_positions, print_where_to_look, wait_idle};
use anyhow::Context as _;
use chimera_kernel::ids::PortfolioId;
use chimera_live::config::LiveConfig;
use chimera_live::runtime::{shutdown_pair, trigger_on_signals};
use chimera_live::{connect, connect_bus, node};
use chimera_ports::PortfolioRepository;
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
        for file in files {
            command.arg("--config").arg(file);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        println!("  {name:<9} pid {}", child.id());
        Ok(Self { name, child })
    }

    /// SIGTERM, then up to [`STOP_GRACE`] to exit, then SIGKILL.
    fn stop(&mut self) {
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
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("chimera up: {} ignored SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds `name` in `dir` (if given), next to the running executable, then on the PATH.
fn locate(name: &str, dir: Option<&Path>) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates: Vec<PathBuf> = match dir {
        Some(dir) => vec![dir.to_path_buf()],
        None => beside
            .into_iter()
            .chain(std::env::split_paths(&path))
            .collect(),
    };
    candidates
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
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
    bin_dir: Option<&Path>,
) -> anyhow::Result<()> {
    let (Some(node_cfg), Some(_), Some(_)) = (&config.node, &config.gateway, &config.feed) else {
        anyhow::bail!(
            "chimera up needs [node], [gateway] and [feed] sections in the configuration"
        );
    };
    if config.bus.kind == "memory" {
        anyhow::bail!(
            "--processes needs a bus that crosses processes: set bus.kind to kafka or redis \
             (the memory bus only works within one process)"
        );
    }
    let names = ["chimera-gateway", "chimera-node", "chimera-feed"];
    let binaries: Vec<Option<PathBuf>> = names.iter().map(|n| locate(n, bin_dir)).collect();
    let missing: Vec<&str> = names
        .iter()
        .zip(&binaries)
        .filter(|(_, b)| b.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "cannot find {} ({}); build them with `cargo build --release -p chimera-live`",
            missing.join(", "),
            bin_dir.map_or_else(
                || "looked next to chimera and on the PATH".to_owned(),
                |d| format!("looked in {}", d.display())
            )
        );
    }
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger.clone());
    let bus = connect_bus(&config, "up", false).await?;
    let rt = connect(&config, bus, "up", shutdown.clone()).await?;
    if node_cfg.register_portfolios {
        node::register_portfolios(&rt, &node_cfg.id, &config.portfolios).await?;
    }
    let portfolios: Vec<PortfolioId> = rt
        .store
        .portfolios_for_node(&node_cfg.id)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    print_where_to_look(&config, &node_cfg.id, &portfolios);

    let mut components = Vec::new();
    for ((name, label), binary) in names.iter().zip(["gateway", "node", "feed"]).zip(binaries) {
        let binary = binary.with_context(|| format!("{name} vanished"))?;
        components.push(Component::start(&binary, label, files)?);
    }
    let outcome = supervise(&mut components, &rt, &portfolios, exit_when_idle, &shutdown).await;
    // Stop the feed first, the gateway last, so in-flight orders are still answered.
    for i in [2, 1, 0] {
        if let Some(component) = components.get_mut(i) {
            component.stop();
        }
    }
    drop(trigger);
    outcome?;
    print_positions(&rt, &portfolios).await
}

/// Watches the children until shutdown, a failed child, or (with `exit_when_idle`) a finished
/// feed and settled orders.
async fn supervise(
    components: &mut [Component],
    rt: &chimera_live::runtime::Runtime,
    portfolios: &[PortfolioId],
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
            return wait_idle(rt, portfolios, shutdown.clone()).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}
