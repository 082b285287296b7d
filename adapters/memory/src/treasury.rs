//! [`MemoryTreasury`]: funding records, transfers and treasury locks in maps, with the same
//! idempotency, compare-and-set and expiry rules as the SQL adapter.

use crate::lock;
use async_trait::async_trait;
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_ports::{
    FundingRecord, Inserted, PortResult, TransferRecord, TransferState, TransferTransition,
    TreasuryRepository,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Tables {
    funding: BTreeMap<(String, Timestamp, Symbol), FundingRecord>,
    transfers: HashMap<String, TransferRecord>,
    transitions: Vec<TransferTransition>,
    locks: HashMap<String, (String, i64)>,
}

/// The treasury tables in memory.
#[derive(Default)]
pub struct MemoryTreasury {
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for MemoryTreasury {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTreasury").finish_non_exhaustive()
    }
}

impl MemoryTreasury {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TreasuryRepository for MemoryTreasury {
    async fn record_funding(&self, record: &FundingRecord) -> PortResult<Inserted> {
        let mut t = lock(&self.tables);
        let key = (
            record.account.clone(),
            record.funding_time,
            record.symbol.clone(),
        );
        if t.funding.contains_key(&key) {
            return Ok(Inserted::Duplicate);
        }
        t.funding.insert(key, record.clone());
        Ok(Inserted::New)
    }

    async fn funding_records(
        &self,
        account: &str,
        since: Timestamp,
    ) -> PortResult<Vec<FundingRecord>> {
        let t = lock(&self.tables);
        Ok(t.funding
            .values()
            .filter(|r| r.account == account && r.funding_time >= since)
            .cloned()
            .collect())
    }

    async fn create_transfer(&self, transfer: &TransferRecord) -> PortResult<Inserted> {
        let mut t = lock(&self.tables);
        if t.transfers.contains_key(&transfer.transfer_id) {
            return Ok(Inserted::Duplicate);
        }
        t.transfers
            .insert(transfer.transfer_id.clone(), transfer.clone());
        t.transitions.push(TransferTransition {
            transfer_id: transfer.transfer_id.clone(),
            state: transfer.state,
            at: transfer.created_at,
            detail: transfer.detail.clone(),
        });
        Ok(Inserted::New)
    }

    async fn get_transfer(&self, transfer_id: &str) -> PortResult<Option<TransferRecord>> {
        Ok(lock(&self.tables).transfers.get(transfer_id).cloned())
    }

    async fn transfer_by_venue_id(&self, venue_tran_id: i64) -> PortResult<Option<TransferRecord>> {
        Ok(lock(&self.tables)
            .transfers
            .values()
            .find(|t| t.venue_tran_id == Some(venue_tran_id))
            .cloned())
    }

    async fn transition(
        &self,
        transfer_id: &str,
        from: TransferState,
        to: TransferState,
        venue_tran_id: Option<i64>,
        detail: &str,
        at: Timestamp,
    ) -> PortResult<bool> {
        let mut t = lock(&self.tables);
        let Some(transfer) = t.transfers.get_mut(transfer_id) else {
            return Ok(false);
        };
        if transfer.state != from {
            return Ok(false);
        }
        transfer.state = to;
        if venue_tran_id.is_some() {
            transfer.venue_tran_id = venue_tran_id;
        }
        detail.clone_into(&mut transfer.detail);
        transfer.updated_at = at;
        t.transitions.push(TransferTransition {
            transfer_id: transfer_id.to_owned(),
            state: to,
            at,
            detail: detail.to_owned(),
        });
        Ok(true)
    }

    async fn transfer_transitions(&self, transfer_id: &str) -> PortResult<Vec<TransferTransition>> {
        Ok(lock(&self.tables)
            .transitions
            .iter()
            .filter(|t| t.transfer_id == transfer_id)
            .cloned()
            .collect())
    }

    async fn take_lock(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> PortResult<bool> {
        let mut t = lock(&self.tables);
        let until = now.0 + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        match t.locks.get(name) {
            Some((owner, expires)) if owner != holder && *expires > now.0 => Ok(false),
            _ => {
                t.locks.insert(name.to_owned(), (holder.to_owned(), until));
                Ok(true)
            }
        }
    }

    async fn release_lock(&self, name: &str, holder: &str) -> PortResult<bool> {
        let mut t = lock(&self.tables);
        if t.locks.get(name).is_some_and(|(owner, _)| owner == holder) {
            t.locks.remove(name);
            return Ok(true);
        }
        Ok(false)
    }
}
