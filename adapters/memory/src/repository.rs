//! [`MemoryRepository`]: orders, fills, position snapshots and signals in maps, with the same
//! idempotency and no-regression rules as the SQL adapter.

use crate::lock;
use async_trait::async_trait;
use chimera_kernel::ids::{ClientOrderId, PortfolioId, SignalId, Symbol, TradeId};
use chimera_kernel::order::Order;
use chimera_kernel::time::Timestamp;
use chimera_ports::{
    ExecutionJournal, FillRecord, FillRepository, Inserted, OrderRepository, PortResult,
    PositionRepository, PositionSnapshot, SignalRecord, SignalRepository,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct Tables {
    orders: HashMap<ClientOrderId, (u64, Order)>,
    next_order_seq: u64,
    fills: Vec<FillRecord>,
    fill_keys: HashSet<TradeId>,
    snapshots: BTreeMap<(PortfolioId, Symbol, Timestamp), PositionSnapshot>,
    signals: HashMap<SignalId, SignalRecord>,
}

/// All four repositories over one set of in-memory tables.
#[derive(Default)]
pub struct MemoryRepository {
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for MemoryRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRepository").finish_non_exhaustive()
    }
}

impl MemoryRepository {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl OrderRepository for MemoryRepository {
    async fn upsert_order(&self, order: &Order) -> PortResult<()> {
        let mut t = lock(&self.tables);
        let seq = t.next_order_seq;
        if let Some((_, stored)) = t.orders.get_mut(&order.intent.client_order_id) {
            if order.supersedes(stored) {
                *stored = order.clone();
            }
        } else {
            t.orders
                .insert(order.intent.client_order_id.clone(), (seq, order.clone()));
            t.next_order_seq += 1;
        }
        Ok(())
    }

    async fn get_order(&self, id: &ClientOrderId) -> PortResult<Option<Order>> {
        Ok(lock(&self.tables).orders.get(id).map(|(_, o)| o.clone()))
    }

    async fn open_orders(&self, portfolio: &PortfolioId) -> PortResult<Vec<Order>> {
        let t = lock(&self.tables);
        let mut open: Vec<_> = t
            .orders
            .values()
            .filter(|(_, o)| o.intent.portfolio_id == *portfolio && !o.status.is_terminal())
            .collect();
        open.sort_by_key(|(seq, o)| (o.intent.created_at, *seq));
        Ok(open.into_iter().map(|(_, o)| o.clone()).collect())
    }
}

#[async_trait]
impl FillRepository for MemoryRepository {
    async fn record_fill(&self, fill: &FillRecord) -> PortResult<Inserted> {
        let mut t = lock(&self.tables);
        if !t.fill_keys.insert(fill.fill.trade_id.clone()) {
            return Ok(Inserted::Duplicate);
        }
        t.fills.push(fill.clone());
        Ok(Inserted::New)
    }

    async fn fills(&self, portfolio: &PortfolioId) -> PortResult<Vec<FillRecord>> {
        Ok(lock(&self.tables)
            .fills
            .iter()
            .filter(|f| f.portfolio_id == *portfolio)
            .cloned()
            .collect())
    }
}

/// One record after the other: the memory store has no crash to be atomic against.
impl ExecutionJournal for MemoryRepository {}

#[async_trait]
impl PositionRepository for MemoryRepository {
    async fn save_snapshot(&self, snapshot: &PositionSnapshot) -> PortResult<()> {
        let key = (
            snapshot.portfolio_id.clone(),
            snapshot.position.symbol.clone(),
            snapshot.ts,
        );
        lock(&self.tables).snapshots.insert(key, snapshot.clone());
        Ok(())
    }

    async fn latest_snapshots(&self, portfolio: &PortfolioId) -> PortResult<Vec<PositionSnapshot>> {
        let t = lock(&self.tables);
        let mut latest: BTreeMap<&Symbol, &PositionSnapshot> = BTreeMap::new();
        for ((p, symbol, _), snap) in &t.snapshots {
            if p == portfolio {
                latest.insert(symbol, snap); // keys ascend by ts, so the last one wins
            }
        }
        Ok(latest.into_values().cloned().collect())
    }
}

#[async_trait]
impl SignalRepository for MemoryRepository {
    async fn record_signal(&self, signal: &SignalRecord) -> PortResult<Inserted> {
        let mut t = lock(&self.tables);
        if t.signals.contains_key(&signal.signal_id) {
            return Ok(Inserted::Duplicate);
        }
        t.signals.insert(signal.signal_id.clone(), signal.clone());
        Ok(Inserted::New)
    }

    async fn get_signal(&self, id: &SignalId) -> PortResult<Option<SignalRecord>> {
        Ok(lock(&self.tables).signals.get(id).cloned())
    }
}
