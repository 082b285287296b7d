//! Execution algorithms: how a parent order becomes child orders at the venue.
//!
//! A [`ParentOrder`] is a pure state machine the engine owns beside its orders. It is driven
//! by the engine's inputs — market events (the top of the book moves), execution reports of
//! its children, and its own deadline in the engine's timer table — and answers with
//! [`ExecAction`]s: place a child, cancel a child. It never talks to a venue and never reads a
//! clock, so it runs the same in a backtest, in the demo and on a live node, and it
//! checkpoints with the engine (a restarted node resumes it where it was).
//!
//! Invariants every algorithm keeps:
//! - the children's quantities never add up to more than the parent's: a child is sized from
//!   what is neither filled nor still working;
//! - every child's client order id is derived from the parent's intent id, the leg and its
//!   sequence ([`crate::ids::ClientOrderId::for_leg`]), so a replayed or restarted parent
//!   names the same children and the venue refuses a second copy of any of them;
//! - progress (filled, remaining, average price, slippage against the mid when the parent
//!   arrived) is reported as [`ExecProgress`] on every change, the terminal state last.

mod bracket;
mod maker_taker;
mod oco;
mod progress;
mod protect;
mod spec;
mod twap;

pub use bracket::BracketState;
pub use maker_taker::MakerTakerState;
pub use oco::{OcoLegs, OcoParams, OcoState};
pub use progress::{ExecProgress, ExecState};
pub use protect::{GuardParams, GuardState, TrailParams, TrailState, MAX_RETRIES};
pub use spec::{ExecSpec, ExecSpecError, MakerTakerParams, TwapParams};
pub use twap::TwapState;

use crate::event::{ExecutionReport, ReportKind};
use crate::ids::ClientOrderId;
use crate::instrument::Instrument;
use crate::order::{Leg, OrderIntent, OrderKind, Side, TimeInForce};
use crate::time::Timestamp;
use crate::value::{Price, Quantity};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The best prices the engine knows for the parent's symbol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Top {
    /// Best bid.
    pub bid: Option<Price>,
    /// Best ask.
    pub ask: Option<Price>,
    /// Last trade (or bar close).
    pub last: Option<Price>,
}

impl Top {
    /// The mid when both sides are known, else the last price.
    pub fn mid(&self) -> Option<Decimal> {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) => Some((b.get() + a.get()) / Decimal::TWO),
            _ => self.last.map(Price::get),
        }
    }

    /// The mid as a price, when both sides are known.
    pub fn mid_price(&self) -> Option<Price> {
        match (self.bid, self.ask) {
            (Some(_), Some(_)) => self.mid().and_then(|m| Price::new(m).ok()),
            _ => None,
        }
    }

    /// The last price, else the mid: the market's price for checks and trailing.
    pub fn last_or_mid(&self) -> Option<Price> {
        self.last.or_else(|| self.mid_price())
    }

    /// The best price on `side`'s own side of the book (where it would rest).
    pub fn near(&self, side: Side) -> Option<Price> {
        match side {
            Side::Buy => self.bid,
            Side::Sell => self.ask,
        }
    }
}

/// What an algorithm sees besides its own state.
#[derive(Debug, Clone, Copy)]
pub struct ExecContext<'a> {
    /// The engine's time.
    pub now: Timestamp,
    /// The parent's instrument (tick, lot and notional rules).
    pub instrument: &'a Instrument,
    /// The top of the book.
    pub top: Top,
}

/// How a child's fills count for its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// It executes the parent's quantity (slices, attempts, an entry, an OCO's legs).
    #[default]
    Work,
    /// It exits what the parent's entry opened (a bracket's take-profit and stop).
    Exit,
}

/// A child order an algorithm asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildOrder {
    /// Which leg of the parent (sets its client order id).
    pub leg: Leg,
    /// Direction (an exit leg is on the other side of the entry).
    pub side: Side,
    /// Only reduce the position (exit legs).
    pub reduce_only: bool,
    /// Quantity (already lot-rounded).
    pub qty: Quantity,
    /// Type.
    pub kind: OrderKind,
    /// Time in force.
    pub time_in_force: TimeInForce,
}

/// What an algorithm asks the engine to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecAction {
    /// Send a child order.
    Place(ChildOrder),
    /// Cancel a working child.
    Cancel(ClientOrderId),
    /// Send children as one native order list (an OCO), the `list`-th of the parent.
    PlaceList {
        /// The list's number (sets its list id).
        list: u32,
        /// The legs.
        legs: Vec<ChildOrder>,
    },
}

/// Whether the venue links OCO legs itself: Binance has order lists on spot only.
fn native_lists(ctx: &ExecContext<'_>) -> bool {
    ctx.instrument.kind == crate::instrument::MarketKind::Spot
}

/// Algorithm-specific state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algo", rename_all = "snake_case")]
pub enum AlgoState {
    /// One market order.
    Market,
    /// Maker→taker.
    MakerTaker(MakerTakerState),
    /// TWAP.
    Twap(TwapState),
    /// OCO exit.
    Oco(OcoState),
    /// Bracket.
    Bracket(BracketState),
    /// Guard stop.
    GuardStop(GuardState),
    /// Trailing protective stop.
    TrailingStop(TrailState),
}

/// A parent order being worked by an algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentOrder {
    /// The engine's number for it (its timer key).
    pub seq: u64,
    /// What the strategy asked for.
    pub intent: OrderIntent,
    /// The algorithm's state.
    pub algo: AlgoState,
    /// Mid when it arrived.
    #[serde(with = "crate::value::decimal_str::option", default)]
    pub arrival_mid: Option<Decimal>,
    /// Filled so far over all children.
    pub filled: Quantity,
    /// Σ price × qty of the fills.
    #[serde(with = "crate::value::decimal_str")]
    pub cum_quote: Decimal,
    /// Σ fees of the fills (in their assets' units; one asset per instrument in practice).
    #[serde(with = "crate::value::decimal_str", default)]
    pub fees: Decimal,
    /// Σ of the fills taken as maker.
    #[serde(default)]
    pub maker_qty: Quantity,
    /// Working children and what each still has open.
    pub open_children: BTreeMap<ClientOrderId, Quantity>,
    /// How each working child's fills count.
    #[serde(default)]
    pub roles: BTreeMap<ClientOrderId, Role>,
    /// Closed again by exit legs.
    #[serde(default)]
    pub exited: Quantity,
    /// Children sent so far (the next slice's sequence number).
    pub children: u32,
    /// Where it stands.
    pub state: ExecState,
    /// When it next wants to be called without a market event.
    pub deadline: Option<Timestamp>,
}

impl ParentOrder {
    /// A parent for `intent` under `spec` (not [`ExecSpec::Direct`]: `None` then).
    pub fn new(
        seq: u64,
        intent: OrderIntent,
        spec: &ExecSpec,
        ctx: &ExecContext<'_>,
    ) -> Option<Self> {
        let algo = match spec {
            ExecSpec::Direct => return None,
            ExecSpec::Market => AlgoState::Market,
            ExecSpec::MakerTaker(p) => AlgoState::MakerTaker(MakerTakerState::new(*p, ctx.now)),
            ExecSpec::Twap(p) => AlgoState::Twap(TwapState::new(*p, ctx.now)),
            ExecSpec::Oco(p) => AlgoState::Oco(OcoState::new(*p, intent.side, native_lists(ctx))),
            ExecSpec::Bracket(p) => {
                AlgoState::Bracket(BracketState::new(*p, intent.side, native_lists(ctx)))
            }
            ExecSpec::GuardStop(p) => AlgoState::GuardStop(GuardState::new(*p)),
            ExecSpec::TrailingStop(p) => AlgoState::TrailingStop(TrailState::new(*p)),
        };
        Some(Self {
            seq,
            intent,
            algo,
            arrival_mid: ctx.top.mid(),
            filled: Quantity::ZERO,
            cum_quote: Decimal::ZERO,
            fees: Decimal::ZERO,
            maker_qty: Quantity::ZERO,
            open_children: BTreeMap::new(),
            roles: BTreeMap::new(),
            exited: Quantity::ZERO,
            children: 0,
            state: ExecState::Working,
            deadline: None,
        })
    }

    /// What is neither filled nor working at the venue.
    pub fn unsent(&self) -> Quantity {
        let working: Decimal = self
            .open_children
            .iter()
            .filter(|(id, _)| self.roles.get(*id).copied().unwrap_or_default() == Role::Work)
            .map(|(_, q)| q.get())
            .sum();
        Quantity::new((self.intent.qty.get() - self.filled.get() - working).max(Decimal::ZERO))
            .unwrap_or(Quantity::ZERO)
    }

    /// Still to fill.
    pub fn remaining(&self) -> Quantity {
        self.intent
            .qty
            .checked_sub(self.filled)
            .unwrap_or(Quantity::ZERO)
    }

    /// Starts working.
    pub fn start(&mut self, ctx: &ExecContext<'_>, out: &mut Vec<ExecAction>) {
        self.step(ctx, &Event::Start, out);
    }

    /// The top of the book moved.
    pub fn on_market(&mut self, ctx: &ExecContext<'_>, out: &mut Vec<ExecAction>) {
        self.step(ctx, &Event::Market, out);
    }

    /// Its deadline passed.
    pub fn on_timer(&mut self, ctx: &ExecContext<'_>, out: &mut Vec<ExecAction>) {
        self.step(ctx, &Event::Timer, out);
    }

    /// A report about one of its children. Returns whether it changed the parent.
    pub fn on_child_report(
        &mut self,
        ctx: &ExecContext<'_>,
        report: &ExecutionReport,
        out: &mut Vec<ExecAction>,
    ) {
        let id = &report.client_order_id;
        if let Some(fill) = report.fill() {
            if self.roles.get(id).copied().unwrap_or_default() == Role::Exit {
                self.exited = self.exited + fill.qty;
            } else {
                self.filled = self.filled + fill.qty;
                self.cum_quote += fill.price.get() * fill.qty.get();
            }
            self.fees += fill.fee.amount;
            if fill.liquidity == crate::event::Liquidity::Maker {
                self.maker_qty = self.maker_qty + fill.qty;
            }
            if let Some(open) = self.open_children.get_mut(id) {
                *open = open.checked_sub(fill.qty).unwrap_or(Quantity::ZERO);
            }
        }
        let terminal = report.kind.ends_order();
        if terminal {
            self.open_children.remove(id);
            self.roles.remove(id);
        }
        let event = match &report.kind {
            ReportKind::Rejected { reason, message } => Event::ChildRejected {
                child: id.clone(),
                reason: message.clone(),
                post_only: *reason == crate::event::RejectReason::PostOnlyWouldCross,
                code: *reason,
            },
            _ if terminal => {
                Event::ChildDone(id.clone(), matches!(report.kind, ReportKind::Filled(_)))
            }
            _ => Event::ChildFill,
        };
        self.step(ctx, &event, out);
    }

    /// The engine stops it (cancel-all, stop): cancels working children; terminal once they
    /// are done.
    pub fn cancel(&mut self, out: &mut Vec<ExecAction>) {
        if self.state.is_terminal() {
            return;
        }
        out.extend(self.open_children.keys().cloned().map(ExecAction::Cancel));
        self.state = ExecState::Canceled;
        self.deadline = None;
    }

    fn step(&mut self, ctx: &ExecContext<'_>, event: &Event, out: &mut Vec<ExecAction>) {
        if self.state.is_terminal() {
            return;
        }
        let completes_on_fill = matches!(
            self.algo,
            AlgoState::Market | AlgoState::MakerTaker(_) | AlgoState::Twap(_)
        );
        if completes_on_fill && self.remaining().is_zero() {
            self.state = ExecState::Completed;
            self.deadline = None;
            return;
        }
        // Taken out for the step (the algorithm needs the parent mutably); `Market` is an
        // allocation-free placeholder.
        let mut algo = std::mem::replace(&mut self.algo, AlgoState::Market);
        match &mut algo {
            AlgoState::Market => self.market_step(event, out),
            AlgoState::MakerTaker(s) => s.step(self, ctx, event, out),
            AlgoState::Twap(s) => s.step(self, ctx, event, out),
            AlgoState::Oco(s) => s.step(self, ctx, event, out),
            AlgoState::Bracket(s) => s.step(self, ctx, event, out),
            AlgoState::GuardStop(s) => s.step(self, ctx, event, out),
            AlgoState::TrailingStop(s) => s.step(self, ctx, event, out),
        }
        self.algo = algo;
    }

    /// Places a slice of the parent: numbers it, records it as working.
    fn place(
        &mut self,
        qty: Quantity,
        kind: OrderKind,
        tif: TimeInForce,
        out: &mut Vec<ExecAction>,
    ) -> ClientOrderId {
        let leg = Leg::Slice(self.children + 1);
        let side = self.intent.side;
        self.place_leg(leg, Role::Work, side, qty, kind, tif, out)
    }

    /// Places a child as `leg`; take-profit and stop legs are reduce-only.
    #[allow(clippy::too_many_arguments, reason = "one child order's fields")]
    fn place_leg(
        &mut self,
        leg: Leg,
        role: Role,
        side: Side,
        qty: Quantity,
        kind: OrderKind,
        tif: TimeInForce,
        out: &mut Vec<ExecAction>,
    ) -> ClientOrderId {
        self.children += 1;
        let id = ClientOrderId::for_leg(&self.intent.intent_id, leg);
        self.open_children.insert(id.clone(), qty);
        self.roles.insert(id.clone(), role);
        out.push(ExecAction::Place(ChildOrder {
            leg,
            side,
            reduce_only: matches!(leg, Leg::TakeProfit(_) | Leg::Stop(_)),
            qty,
            kind,
            time_in_force: tif,
        }));
        id
    }

    /// [`AlgoState::Market`]: one market order for the whole quantity; whatever it leaves
    /// (a refusal, an expiry for lack of liquidity) fails the parent.
    fn market_step(&mut self, event: &Event, out: &mut Vec<ExecAction>) {
        match event {
            Event::Start => {
                let qty = self.unsent();
                self.place(qty, OrderKind::Market, TimeInForce::Gtc, out);
            }
            Event::ChildRejected { reason, .. } => {
                self.state = ExecState::Failed {
                    reason: reason.clone(),
                };
            }
            Event::ChildDone(..) if self.open_children.is_empty() => {
                self.state = ExecState::Failed {
                    reason: format!("the market order left {} unfilled", self.remaining()),
                };
            }
            _ => {}
        }
    }

    /// Progress now.
    pub fn progress(&self, at: Timestamp) -> ExecProgress {
        let avg_price = (!self.filled.is_zero()).then(|| self.cum_quote / self.filled.get());
        let slippage_bps = match (avg_price, self.arrival_mid) {
            (Some(avg), Some(mid)) if !mid.is_zero() => Some(
                ((avg - mid) / mid * Decimal::from(10_000) * self.intent.side.sign()).round_dp(4),
            ),
            _ => None,
        };
        ExecProgress {
            intent_id: self.intent.intent_id.clone(),
            portfolio_id: self.intent.portfolio_id.clone(),
            symbol: self.intent.symbol.clone(),
            side: self.intent.side,
            algo: match self.algo {
                AlgoState::Market => "market".into(),
                AlgoState::MakerTaker(_) => "maker-taker".into(),
                AlgoState::Twap(_) => "twap".into(),
                AlgoState::Oco(_) => "oco".into(),
                AlgoState::Bracket(_) => "bracket".into(),
                AlgoState::GuardStop(_) => "guard-stop".into(),
                AlgoState::TrailingStop(_) => "trailing-stop".into(),
            },
            qty: self.intent.qty,
            filled: self.filled,
            remaining: self.remaining(),
            exited: self.exited,
            avg_price,
            arrival_mid: self.arrival_mid,
            slippage_bps,
            fees: self.fees,
            maker_qty: self.maker_qty,
            children: self.children,
            state: self.state.clone(),
            at,
        }
    }
}

/// What moved an algorithm.
#[derive(Debug, Clone)]
enum Event {
    Start,
    Market,
    Timer,
    ChildFill,
    /// A child is done; `true` when it ended filled (else canceled or expired).
    ChildDone(ClientOrderId, bool),
    ChildRejected {
        child: ClientOrderId,
        reason: String,
        post_only: bool,
        code: crate::event::RejectReason,
    },
}
