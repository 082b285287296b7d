//! [`MemoryRegistry`]: portfolios and assignments, checkpoints and the audit trail in maps.

use crate::lock;
use async_trait::async_trait;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_ports::{
    ApiToken, AuditKind, AuditQuery, AuditRecord, AuditRepository, Checkpoint,
    CheckpointRepository, Inserted, PortError, PortResult, PortfolioRecord, PortfolioRepository,
    PortfolioStatus, TokenRepository,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct Tables {
    portfolios: BTreeMap<PortfolioId, PortfolioRecord>,
    checkpoints: BTreeMap<PortfolioId, Checkpoint>,
    audit: Vec<AuditRecord>,
    audit_keys: HashSet<(AuditKind, String)>,
    tokens: Vec<ApiToken>,
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

    async fn discard_checkpoint(&self, id: &PortfolioId) -> PortResult<bool> {
        Ok(lock(&self.tables).checkpoints.remove(id).is_some())
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

    async fn query(&self, kind: AuditKind, query: &AuditQuery) -> PortResult<Vec<AuditRecord>> {
        let t = lock(&self.tables);
        let mut picked: Vec<(usize, &AuditRecord)> = t
            .audit
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.kind == kind
                    && query.since.is_none_or(|s| r.ts >= s)
                    && query.until.is_none_or(|u| r.ts < u)
                    && query.category.as_ref().is_none_or(|c| &r.category == c)
                    && query.source.as_ref().is_none_or(|s| &r.source == s)
            })
            .collect();
        picked.sort_by(|(ia, a), (ib, b)| b.ts.cmp(&a.ts).then(ib.cmp(ia)));
        Ok(picked
            .into_iter()
            .take(query.limit as usize)
            .map(|(_, r)| r.clone())
            .collect())
    }
}

#[async_trait]
impl TokenRepository for MemoryRegistry {
    async fn insert_token(&self, token: &ApiToken) -> PortResult<()> {
        let mut t = lock(&self.tables);
        if t.tokens.iter().any(|x| x.id == token.id) {
            return Err(PortError::Conflict(format!("token {} exists", token.id)));
        }
        t.tokens.push(token.clone());
        Ok(())
    }

    async fn get_token(&self, id: &str) -> PortResult<Option<ApiToken>> {
        Ok(lock(&self.tables)
            .tokens
            .iter()
            .find(|t| t.id == id)
            .cloned())
    }

    async fn list_tokens(&self) -> PortResult<Vec<ApiToken>> {
        Ok(lock(&self.tables).tokens.clone())
    }

    async fn revoke_token(&self, id: &str, at: Timestamp) -> PortResult<bool> {
        let mut t = lock(&self.tables);
        match t.tokens.iter_mut().find(|x| x.id == id) {
            Some(token) if token.revoked_at.is_none() => {
                token.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
