//! The dependency rule, checked on the real dependency graph (`cargo tree`):
//! the kernel and the ports never depend on a runtime, database, cache, broker or network crate,
//! adapters never depend on each other, and each deployable links only what it needs.

use std::process::Command;

const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "sqlx",
    "redis",
    "rdkafka",
    "reqwest",
    "hyper",
    "mio",
    "async-std",
    "axum",
    "tonic",
];
const ADAPTERS: &[&str] = &[
    "chimera-memory",
    "chimera-sim",
    "chimera-replay",
    "chimera-redis",
    "chimera-sql",
    "chimera-kafka",
];

/// Normal (non-dev, non-build) dependencies of a workspace crate, by name.
fn normal_deps(krate: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            krate,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {krate} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Fails when `krate` depends (normally, transitively) on any of `forbidden`.
fn assert_links_none_of(krate: &str, forbidden: &[&str]) {
    let deps = normal_deps(krate);
    assert!(
        deps.iter().any(|d| d == krate),
        "cargo tree output for {krate} looks wrong: {deps:?}"
    );
    let bad: Vec<_> = deps
        .iter()
        .filter(|d| forbidden.contains(&d.as_str()))
        .collect();
    assert!(bad.is_empty(), "{krate} depends on {bad:?}");
}

#[test]
fn kernel_and_ports_are_free_of_io_crates() {
    for krate in ["chimera-kernel", "chimera-ports"] {
        assert_links_none_of(krate, FORBIDDEN_IN_CORE);
    }
}

#[test]
fn kernel_depends_on_nothing_in_the_workspace() {
    let deps = normal_deps("chimera-kernel");
    let inner: Vec<_> = deps
        .iter()
        .filter(|d| d.starts_with("chimera-") && *d != "chimera-kernel")
        .collect();
    assert!(inner.is_empty(), "the kernel must not depend on {inner:?}");
    assert!(
        !deps.iter().any(|d| d == "async-trait"),
        "the kernel is synchronous"
    );
}

#[test]
fn adapters_do_not_depend_on_each_other() {
    for adapter in ADAPTERS {
        let deps = normal_deps(adapter);
        let others: Vec<_> = deps
            .iter()
            .filter(|d| ADAPTERS.contains(&d.as_str()) && d != adapter)
            .collect();
        assert!(
            others.is_empty(),
            "{adapter} depends on other adapters: {others:?}"
        );
    }
}

/// Each deployable links only what it needs: the node no venue simulation and no file readers,
/// the gateway no file readers, the feed no venue simulation; none of them another deployable.
#[test]
fn deployables_link_only_what_they_need() {
    for (krate, forbidden) in [
        (
            "chimera-node",
            &[
                "chimera-sim",
                "chimera-replay",
                "chimera-gateway",
                "chimera-feed",
            ][..],
        ),
        (
            "chimera-gateway",
            &["chimera-replay", "chimera-node", "chimera-feed"][..],
        ),
        (
            "chimera-feed",
            &["chimera-sim", "chimera-node", "chimera-gateway"][..],
        ),
        ("chimera-runtime", &["chimera-sim", "chimera-replay"][..]),
    ] {
        assert_links_none_of(krate, forbidden);
    }
}
