//! # chimera-live
//!
//! The live runtimes of the multi-portfolio architecture, together: one crate per deployable
//! (each with its binary, linking only what it needs) over a shared kit, re-exported here for
//! `chimera up` (all three in one process) and for the end-to-end tests and benchmark:
//! - [`node`] (`chimera-node`): the execution node, running the portfolios assigned to it,
//!   restored from checkpoints, with an interest map and bounded per-portfolio queues;
//! - [`gateway`] (`chimera-gateway`): the trade gateway over any venue, idempotent by intent
//!   id;
//! - [`feed`] (`chimera-feed`): the market-data feed;
//! - `chimera-runtime`, the kit they share: configuration, service composition, the runtime
//!   handle, logging (its modules are re-exported at this crate's root).
//!
//! They talk only through the bus (Kafka, Redis Streams, or in-memory within one process) and
//! keep their state in the database (PostgreSQL or SQLite), so any of them can be killed and
//! restarted without losing or duplicating an order or a fill.

pub use chimera_feed as feed;
pub use chimera_gateway as gateway;
pub use chimera_node as node;
pub use chimera_runtime::{
    bus_layout, busy_poll, compose, config, connect, connect_bus, connect_on, decision_spec,
    kill_switch, logging, memory, portfolio_spec, runtime, scheduler_config, services, treasury,
    RuntimeArgs,
};
pub use chimera_scheduler as scheduler;

/// The three processes as functions (what their binaries and `chimera node | gateway | feed`
/// run).
pub mod process {
    pub use chimera_feed::run_feed_process;
    pub use chimera_gateway::run_gateway_process;
    pub use chimera_node::run_node_process;
    pub use chimera_scheduler::run_scheduler_process;
}

/// The runtime binary `name` (`chimera-node`, `chimera-gateway`, `chimera-feed`) of this build,
/// for tests and benchmarks that run the real processes: next to the running executable
/// (`target/<profile>/`), built (or found up to date) with `$CARGO` first, so a test never runs
/// a binary an older build left there.
///
/// # Errors
/// The binary is not there and cannot be built, with cargo's reason.
pub fn runtime_binary(name: &str) -> std::io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> or target/<profile>/<binary>
    let profile_dir = exe
        .ancestors()
        .find(|dir| {
            dir.file_name().is_some_and(|n| n != "deps") && dir.join(".fingerprint").is_dir()
        })
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| {
            std::io::Error::other(format!("no target directory above {}", exe.display()))
        })?;
    let path = profile_dir.join(name);
    // Always through cargo (a no-op when it is up to date): a binary left by an older build
    // would run old code under the new tests (`cargo test` builds only the binaries of the
    // package under test).
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "-p", name, "--bin", name]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status()?;
    if status.success() && path.is_file() {
        Ok(path)
    } else {
        Err(std::io::Error::other(format!(
            "{} is not built and `cargo build -p {name}` failed ({status})",
            path.display()
        )))
    }
}
