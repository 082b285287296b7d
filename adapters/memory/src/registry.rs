//! [`MemoryRegistry`]: portfolios and assignments, checkpoints and the audit trail in maps.

use crate::lock;
use async_trait::async_trait;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_ports::{
    AuditKind, AuditRecord, AuditRepository, Checkpoint, CheckpointRepository, Inserted,
    PortResult, PortfolioRecord, PortfolioRepository, PortfolioStatus,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct Tables {
    portfolios: BTreeMap<PortfolioId, PortfolioRecord>,
    checkpoints: BTreeMap<PortfolioId, Checkpoint>,
    audit: Vec<AuditRecord>,
    audit_keys: HashSet<(AuditKind, String)>,
}

/// The registry repositories over in-memory maps.
#[derive(Default)]
pub struct MemoryRegistry {
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRegistry").finish_non_exhaustive()
    }
}

impl MemoryRegistry {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PortfolioRepository for MemoryRegistry {
    async fn upsert_portfolio(&self, record: &PortfolioRecord) -> PortResult<()> {
        lock(&self.tables)
            .portfolios
            .insert(record.id.clone(), record.clone());
        Ok(())
    }

    async fn get_portfolio(&self, id: &PortfolioId) -> PortResult<Option<PortfolioRecord>> {
        Ok(lock(&self.tables).portfolios.get(id).cloned())
    }

    async fn portfolios_for_node(&self, node_id: &str) -> PortResult<Vec<PortfolioRecord>> {
        Ok(lock(&self.tables)
            .portfolios
            .values()
            .filter(|r| {
                r.node_id.as_deref() == Some(node_id) && r.status != PortfolioStatus::Stopped
            })
            .cloned()
            .collect())
    }

    async fn list_portfolios(&self) -> PortResult<Vec<PortfolioRecord>> {
        Ok(lock(&self.tables).portfolios.values().cloned().collect())
    }

    async fn assign(&self, id: &PortfolioId, node_id: &str, at: Timestamp) -> PortResult<bool> {
        let mut t = lock(&self.tables);
        let Some(record) = t.portfolios.get_mut(id) else {
            return Ok(false);
        };
        record.node_id = Some(node_id.to_owned());
        record.updated_at = at;
        Ok(true)
    }
}

#[async_trait]
impl CheckpointRepository for MemoryRegistry {
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> PortResult<Inserted> {
        let mut t = lock(&self.tables);
        if let Some(stored) = t.checkpoints.get(&checkpoint.portfolio_id) {
            if stored.revision >= checkpoint.revision {
                return Ok(Inserted::Duplicate);
            }
        }
        t.checkpoints
            .insert(checkpoint.portfolio_id.clone(), checkpoint.clone());
        Ok(Inserted::New)
    }

    async fn load_checkpoint(&self, id: &PortfolioId) -> PortResult<Option<Checkpoint>> {
        Ok(lock(&self.tables).checkpoints.get(id).cloned())
    }
}

#[async_trait]
impl AuditRepository for MemoryRegistry {
    async fn record(&self, record: &AuditRecord) -> PortResult<Inserted> {
        let mut t = lock(&self.tables);
        if !t.audit_keys.insert((record.kind, record.key.clone())) {
            return Ok(Inserted::Duplicate);
        }
        t.audit.push(record.clone());
        Ok(Inserted::New)
    }

    async fn recent(&self, kind: AuditKind, limit: u32) -> PortResult<Vec<AuditRecord>> {
        Ok(lock(&self.tables)
            .audit
            .iter()
            .rev()
            .filter(|r| r.kind == kind)
            .take(limit as usize)
            .cloned()
            .collect())
    }
}
