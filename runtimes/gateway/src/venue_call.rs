//! Venue calls through the gateway: retried while the venue is unavailable, given up at
//! shutdown ([`Interrupted`]).

use chimera_runtime::runtime::{fatal, Runtime};
use std::time::Duration;

/// A venue call given up at shutdown while the venue was unavailable: the command it served
/// is neither applied nor acknowledged, so it runs again after the restart.
#[derive(Debug)]
pub(crate) struct Interrupted(String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped while the venue was unavailable ({})", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Runs a venue call, again and again while the venue is unavailable (a transient error: the
/// request was not executed, so the same one may go again — an exchange throttling us, a lost
/// connection), with backoff from 100 ms to 5 s. A fatal error ends it with that error;
/// shutdown while waiting with [`Interrupted`]: the command is then neither recorded as
/// applied nor acknowledged, so it is executed after a restart (idempotent by client id).
///
/// # Errors
/// A fatal venue error, or [`Interrupted`].
pub(super) async fn until_sent<'a, F, Fut>(rt: &Runtime, what: &str, call: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = chimera_ports::PortResult<()>> + 'a,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && rt.shutdown.is_triggered() => {
                return Err(anyhow::Error::new(Interrupted(format!(
                    "venue {what}: {e}"
                ))));
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(component = %rt.source, "venue {what}: {e}; again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(fatal(&format!("venue {what}"), &e)),
        }
    }
}
