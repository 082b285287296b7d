//! The gateway's checkpoint as stored: the last command applied per partition, the venue's
//! own part and the fencing epochs, read back on start (also in the layout before venues were
//! pluggable).

use chimera_kernel::ids::PortfolioId;
use chimera_ports::CheckpointRepository;
use chimera_runtime::runtime::Runtime;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The gateway's checkpoint: what it applied, and the venue's state.
#[derive(Debug, Deserialize)]
pub(super) struct GatewayState {
    /// Last `orders.submission` offset applied per `topic/partition`.
    #[serde(default)]
    pub(super) applied: BTreeMap<String, i64>,
    /// The venue's own part ([`super::GatewayVenue::checkpoint`]).
    #[serde(default)]
    pub(super) venue: Option<serde_json::Value>,
    /// The newest assignment epoch per portfolio ([`super::fence`]).
    #[serde(default)]
    pub(super) fence: BTreeMap<PortfolioId, u64>,
}

impl GatewayState {
    /// Reads a checkpoint, also in the layout before venues were pluggable
    /// (`{"sim":…,"progress":{"applied":…,"funded":…}}`).
    fn parse(text: &str) -> serde_json::Result<Self> {
        let mut value: serde_json::Value = serde_json::from_str(text)?;
        if let Some(object) = value.as_object_mut() {
            if let (Some(sim), Some(mut progress)) =
                (object.remove("sim"), object.remove("progress"))
            {
                let funded = progress
                    .get_mut("funded")
                    .map(serde_json::Value::take)
                    .unwrap_or_default();
                let applied = progress
                    .get_mut("applied")
                    .map(serde_json::Value::take)
                    .unwrap_or_default();
                value = serde_json::json!({
                    "applied": applied,
                    "venue": { "sim": sim, "funded": funded },
                });
            }
        }
        serde_json::from_value(value)
    }
}

/// The newest checkpoint of `owner` and its revision (0 and an empty state: none yet).
///
/// # Errors
/// The store failed, or the checkpoint does not decode.
pub(super) async fn restore(
    rt: &Runtime,
    owner: &PortfolioId,
) -> anyhow::Result<(i64, GatewayState)> {
    Ok(match rt.store.load_checkpoint(owner).await? {
        Some(cp) => {
            let state = GatewayState::parse(&cp.state).map_err(|e| {
                anyhow::anyhow!("gateway checkpoint {} is undecodable: {e}", cp.revision)
            })?;
            tracing::info!(
                component = %rt.source,
                "restored from checkpoint revision {}",
                cp.revision
            );
            (cp.revision, state)
        }
        None => (
            0,
            GatewayState {
                applied: BTreeMap::new(),
                venue: None,
                fence: BTreeMap::new(),
            },
        ),
    })
}
