//! The process's memory allocator settings, applied as a runtime process starts.
//!
//! Why: glibc's allocator gives each thread that finds the heap busy an arena of its own, up to
//! eight per core, and memory freed in one arena is not reused by another. A node's librdkafka
//! and tokio threads spread over a dozen arenas: on the Kafka bench its peak RSS was 73 MiB at
//! the default, 56 MiB with two arenas, at the same read rate (librdkafka allocates with C's
//! `malloc`, so no Rust global allocator would reach it). glibc reads the limit from the
//! environment (`MALLOC_ARENA_MAX`) only as the process starts, so the process starts itself
//! once more with the limit set.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;

/// glibc's variable for the most arenas its allocator makes.
pub const ARENA_VAR: &str = "MALLOC_ARENA_MAX";
/// Chimera's limit: two arenas keep two busy threads from waiting on one lock, and no more.
pub const ARENAS: &str = "2";

/// Whether the process should start again to cap its arenas: only on glibc, and never when the
/// environment already names a limit (an operator's own value, or the restarted process).
fn needs_restart(current: Option<&OsStr>) -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu")) && current.is_none()
}

/// Replaces this process (same pid, arguments and environment) with one whose allocator makes
/// at most [`ARENAS`] arenas, unless `MALLOC_ARENA_MAX` is already set; call it first in
/// `main`, before any thread starts. Set `MALLOC_ARENA_MAX` yourself to choose another limit.
///
/// Returns only when there is nothing to do, or when the restart failed (the executable was
/// replaced or removed since it started, say): then it prints why on standard error and the
/// process goes on with glibc's default.
pub fn cap_malloc_arenas() {
    if !needs_restart(std::env::var_os(ARENA_VAR).as_deref()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    let error = command.args(args).env(ARENA_VAR, ARENAS).exec();
    eprintln!(
        "could not restart with {ARENA_VAR}={ARENAS} ({error}); going on with the allocator's \
         default arenas"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_once_and_keeps_an_operators_limit() {
        let glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(needs_restart(None), glibc);
        assert!(!needs_restart(Some(OsStr::new(ARENAS))));
        assert!(!needs_restart(Some(OsStr::new("8"))));
    }
}
