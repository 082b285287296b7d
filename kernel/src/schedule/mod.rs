//! Where portfolios run: the scheduler's assignment logic as a pure state machine (the
//! scheduler runtime keeps its state in Redis and feeds it heartbeats, portfolio changes and
//! operator commands; nodes act on the [`Change`]s it publishes).
//!
//! Invariants, checked by property tests:
//! - a portfolio is on at most one node, and a node never holds more than its capacity;
//! - no portfolio is left unassigned while a live, non-draining node has room;
//! - assignments are sticky: nothing moves that need not move (a heartbeat, a tick without a
//!   death, a portfolio added where there is room move nothing else);
//! - every placement carries a fresh **epoch**, increasing across the whole schedule: the fencing
//!   token a node stamps on its orders, so the gateway refuses a zombie's orders once the
//!   portfolio has moved on.
//!
//! Probation: a node that comes back after being declared dead takes waiting portfolios but
//! draws no running one until it has stayed alive one more dead-node timeout (flap damping:
//! a thawed zombie, or a node with a bad link, does not pull portfolios off healthy nodes).
//!
//! Balance: when a node joins (or a drain ends, or a probation ends), portfolios move from the most loaded nodes to
//! the least loaded until loads differ by at most one (relative to nothing else: capacities are
//! limits, not weights), one portfolio per move, fewest moves first.

use crate::ids::PortfolioId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the scheduler knows of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// Portfolios it can run.
    pub capacity: u32,
    /// Its last heartbeat.
    pub last_heartbeat: Timestamp,
    /// Declared dead (heartbeat lapsed); a heartbeat revives it.
    pub dead: bool,
    /// Being drained: it keeps what it runs until moved, takes nothing new.
    pub draining: bool,
    /// Came back after being declared dead: until this time no running portfolio is moved
    /// onto it (a node that flaps, or a paused process thawed just before it finds it lost
    /// its leases, would otherwise draw portfolios away from healthy nodes). It still takes
    /// portfolios that wait for room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probation_until: Option<Timestamp>,
}

/// Where a portfolio runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The node.
    pub node: String,
    /// The fencing token of this placement.
    pub epoch: u64,
}

/// An input to the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum ScheduleInput {
    /// A node is alive and can run `capacity` portfolios.
    Heartbeat {
        /// The node.
        node: String,
        /// Its capacity.
        capacity: u32,
    },
    /// Time passed: nodes whose heartbeat lapsed are declared dead and their portfolios move.
    Tick,
    /// A portfolio to run.
    AddPortfolio {
        /// The portfolio.
        portfolio: PortfolioId,
        /// Where it ran before the scheduler knew it (the database's assignment): kept there
        /// when that node is usable and has room, so adopting running portfolios moves none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefer: Option<String>,
    },
    /// A portfolio no longer to run.
    RemovePortfolio {
        /// The portfolio.
        portfolio: PortfolioId,
    },
    /// Move one portfolio to a named node (an operator's command).
    Migrate {
        /// The portfolio.
        portfolio: PortfolioId,
        /// Where to.
        to: String,
    },
    /// Move every portfolio off a node and give it nothing new.
    Drain {
        /// The node.
        node: String,
    },
}

/// Why a command was refused. A closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleRefusal {
    /// No such portfolio.
    UnknownPortfolio,
    /// No such node, or it is dead.
    NodeUnavailable,
    /// The node is draining.
    NodeDraining,
    /// The node is full.
    NodeFull,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A node must start running a portfolio (restore from its checkpoint first).
    Assigned {
        /// The portfolio.
        portfolio: PortfolioId,
        /// The node and epoch.
        placement: Placement,
    },
    /// A node must stop running a portfolio (final checkpoint, release its lease).
    Unassigned {
        /// The portfolio.
        portfolio: PortfolioId,
        /// Where it ran.
        placement: Placement,
    },
    /// A node's heartbeat lapsed.
    NodeDead {
        /// The node.
        node: String,
    },
    /// A command was refused.
    Refused {
        /// The command.
        input: ScheduleInput,
        /// Why.
        reason: ScheduleRefusal,
    },
}

/// The assignment of portfolios to nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// A node is dead once its last heartbeat is older than this.
    pub dead_after_ms: i64,
    nodes: BTreeMap<String, NodeState>,
    portfolios: BTreeMap<PortfolioId, Option<Placement>>,
    next_epoch: u64,
}

impl Schedule {
    /// An empty schedule declaring nodes dead after `dead_after_ms` without a heartbeat.
    pub fn new(dead_after_ms: i64) -> Self {
        Self {
            dead_after_ms,
            nodes: BTreeMap::new(),
            portfolios: BTreeMap::new(),
            next_epoch: 1,
        }
    }

    /// The nodes.
    pub fn nodes(&self) -> &BTreeMap<String, NodeState> {
        &self.nodes
    }

    /// Every portfolio and where it runs (`None`: waiting for room).
    pub fn placements(&self) -> &BTreeMap<PortfolioId, Option<Placement>> {
        &self.portfolios
    }

    /// Portfolios on `node`.
    pub fn load(&self, node: &str) -> u32 {
        let n = self
            .portfolios
            .values()
            .filter(|p| p.as_ref().is_some_and(|p| p.node == node))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn usable(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| !n.dead && !n.draining)
    }

    fn room(&self, node: &str) -> u32 {
        self.nodes
            .get(node)
            .map_or(0, |n| n.capacity.saturating_sub(self.load(node)))
    }

    /// Applies `input` at `now`; returns what changed, in order.
    pub fn handle(&mut self, input: &ScheduleInput, now: Timestamp) -> Vec<Change> {
        let mut changes = Vec::new();
        match input {
            ScheduleInput::Heartbeat { node, capacity } => {
                let is_new = !self.nodes.contains_key(node);
                let dead_after = self.dead_after_ms;
                let state = self.nodes.entry(node.clone()).or_insert(NodeState {
                    capacity: *capacity,
                    last_heartbeat: now,
                    dead: false,
                    draining: false,
                    probation_until: None,
                });
                if state.dead {
                    state.probation_until = Some(Timestamp(now.0.saturating_add(dead_after)));
                }
                let joined = is_new || state.dead || state.capacity != *capacity;
                state.capacity = *capacity;
                state.last_heartbeat = state.last_heartbeat.max(now);
                state.dead = false;
                // A node that shrank gives back what it can no longer hold.
                let over = self.load(node).saturating_sub(*capacity);
                if over > 0 {
                    let moved: Vec<PortfolioId> = self
                        .on(node)
                        .into_iter()
                        .rev()
                        .take(usize::try_from(over).unwrap_or(usize::MAX))
                        .collect();
                    for portfolio in moved {
                        self.unassign(&portfolio, &mut changes);
                    }
                }
                if joined {
                    self.place_waiting(&mut changes);
                    self.balance(&mut changes);
                }
            }
            ScheduleInput::Tick => {
                let lapsed: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| !n.dead && now.0 - n.last_heartbeat.0 > self.dead_after_ms)
                    .map(|(id, _)| id.clone())
                    .collect();
                let mut served = false;
                for state in self.nodes.values_mut() {
                    if state.probation_until.is_some_and(|until| until <= now) {
                        state.probation_until = None;
                        served = !state.dead;
                    }
                }
                for node in lapsed {
                    if let Some(state) = self.nodes.get_mut(&node) {
                        state.dead = true;
                        state.probation_until = None;
                    }
                    changes.push(Change::NodeDead { node: node.clone() });
                    for portfolio in self.on(&node) {
                        self.unassign(&portfolio, &mut changes);
                    }
                }
                self.place_waiting(&mut changes);
                if served {
                    self.balance(&mut changes);
                }
            }
            ScheduleInput::AddPortfolio { portfolio, prefer } => {
                if !self.portfolios.contains_key(portfolio) {
                    self.portfolios.insert(portfolio.clone(), None);
                    if let Some(node) = prefer
                        .as_deref()
                        .filter(|n| self.usable(n) && self.room(n) > 0)
                    {
                        self.assign(portfolio, node, &mut changes);
                    }
                }
                self.place_waiting(&mut changes);
            }
            ScheduleInput::RemovePortfolio { portfolio } => {
                if self.portfolios.contains_key(portfolio) {
                    self.unassign(portfolio, &mut changes);
                    self.portfolios.remove(portfolio);
                    self.place_waiting(&mut changes);
                } else {
                    changes.push(refused(input, ScheduleRefusal::UnknownPortfolio));
                }
            }
            ScheduleInput::Migrate { portfolio, to } => {
                let reason = if !self.portfolios.contains_key(portfolio) {
                    Some(ScheduleRefusal::UnknownPortfolio)
                } else if self.nodes.get(to).is_none_or(|n| n.dead) {
                    Some(ScheduleRefusal::NodeUnavailable)
                } else if self.nodes.get(to).is_some_and(|n| n.draining) {
                    Some(ScheduleRefusal::NodeDraining)
                } else if self.portfolios[portfolio]
                    .as_ref()
                    .is_some_and(|p| p.node == *to)
                {
                    None
                } else if self.room(to) == 0 {
                    Some(ScheduleRefusal::NodeFull)
                } else {
                    self.unassign(portfolio, &mut changes);
                    self.assign(portfolio, to, &mut changes);
                    None
                };
                if let Some(reason) = reason {
                    changes.push(refused(input, reason));
                }
            }
            ScheduleInput::Drain { node } => {
                let Some(state) = self.nodes.get_mut(node) else {
                    changes.push(refused(input, ScheduleRefusal::NodeUnavailable));
                    return changes;
                };
                state.draining = true;
                for portfolio in self.on(node) {
                    if self.best_node(Some(node)).is_some() {
                        self.unassign(&portfolio, &mut changes);
                        let target = self.best_node(Some(node));
                        if let Some(target) = target {
                            self.assign(&portfolio, &target, &mut changes);
                        }
                    }
                }
            }
        }
        changes
    }

    /// Portfolios on `node`, in id order.
    fn on(&self, node: &str) -> Vec<PortfolioId> {
        self.portfolios
            .iter()
            .filter(|(_, p)| p.as_ref().is_some_and(|p| p.node == node))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The usable node with the most room (ties: the least loaded, then the first id),
    /// other than `except`.
    fn best_node(&self, except: Option<&str>) -> Option<String> {
        self.nodes
            .keys()
            .filter(|n| Some(n.as_str()) != except && self.usable(n) && self.room(n) > 0)
            .max_by(|a, b| {
                self.room(a)
                    .cmp(&self.room(b))
                    .then(self.load(b).cmp(&self.load(a)))
                    .then(b.cmp(a))
            })
            .cloned()
    }

    fn assign(&mut self, portfolio: &PortfolioId, node: &str, changes: &mut Vec<Change>) {
        let placement = Placement {
            node: node.to_owned(),
            epoch: self.next_epoch,
        };
        self.next_epoch += 1;
        self.portfolios
            .insert(portfolio.clone(), Some(placement.clone()));
        changes.push(Change::Assigned {
            portfolio: portfolio.clone(),
            placement,
        });
    }

    fn unassign(&mut self, portfolio: &PortfolioId, changes: &mut Vec<Change>) {
        if let Some(slot) = self.portfolios.get_mut(portfolio) {
            if let Some(placement) = slot.take() {
                changes.push(Change::Unassigned {
                    portfolio: portfolio.clone(),
                    placement,
                });
            }
        }
    }

    /// Places every waiting portfolio where there is room.
    fn place_waiting(&mut self, changes: &mut Vec<Change>) {
        let waiting: Vec<PortfolioId> = self
            .portfolios
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for portfolio in waiting {
            let Some(node) = self.best_node(None) else {
                return;
            };
            self.assign(&portfolio, &node, changes);
        }
    }

    /// Moves portfolios from the most to the least loaded usable nodes until their loads
    /// differ by at most one (or the least loaded is full).
    fn balance(&mut self, changes: &mut Vec<Change>) {
        loop {
            let usable: Vec<String> = self
                .nodes
                .keys()
                .filter(|n| self.usable(n))
                .cloned()
                .collect();
            let most = usable
                .iter()
                .max_by_key(|n| (self.load(n), std::cmp::Reverse((*n).clone())));
            let least = usable
                .iter()
                .filter(|n| self.room(n) > 0 && self.nodes[*n].probation_until.is_none())
                .min_by_key(|n| (self.load(n), (*n).clone()));
            let (Some(most), Some(least)) = (most.cloned(), least.cloned()) else {
                return;
            };
            if self.load(&most) <= self.load(&least) + 1 {
                return;
            }
            let Some(portfolio) = self.on(&most).pop() else {
                return;
            };
            self.unassign(&portfolio, changes);
            self.assign(&portfolio, &least, changes);
        }
    }
}

fn refused(input: &ScheduleInput, reason: ScheduleRefusal) -> Change {
    Change::Refused {
        input: input.clone(),
        reason,
    }
}
