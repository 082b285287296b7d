//! Requests the engine makes to the outside and their answers: a strategy asks (here, for a
//! risk reservation before it trades), the engine names the request and leaves it as an output
//! with a deadline in its timer table; the answer comes back as an input and the strategy is
//! told once; without an answer by the deadline the engine times it out itself, at the
//! deadline's time — also after a checkpoint and a restore.

use chimera_kernel::engine::{
    Input, IssueKind, Outcome, Output, PortfolioEngine, Request, RequestKind, Response,
};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{Asset, PortfolioId, Symbol};
use chimera_kernel::order::Side;
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{Actions, OrderRequest, Strategy, StrategyContext};
use chimera_kernel::testing::{bar, btc_perp, drain, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use std::sync::{Arc, Mutex};

type Told = Arc<Mutex<Vec<(u64, Outcome, Timestamp)>>>;

/// On each bar asks to reserve 1 000 USDT (waiting 5 s); buys when granted.
struct Reserving {
    told: Told,
}

impl Strategy for Reserving {
    fn name(&self) -> &'static str {
        "reserving"
    }

    fn on_market(&mut self, _: &MarketEvent, _: &StrategyContext<'_>, out: &mut Actions) {
        out.request(
            RequestKind::RiskReservation {
                key: "venue-notional".into(),
                claims: vec![chimera_kernel::decision::BudgetClaim {
                    budget: "venue-notional".into(),
                    amount: 1_000,
                    ceiling: 10_000,
                }],
            },
            5_000,
        );
    }

    fn on_response(
        &mut self,
        request: &Request,
        outcome: &Outcome,
        ctx: &StrategyContext<'_>,
        out: &mut Actions,
    ) {
        self.told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((request.request_id, outcome.clone(), ctx.now));
        if *outcome == Outcome::Granted {
            out.submit(OrderRequest::market(
                Symbol::new("BTCUSDT"),
                Side::Buy,
                qty(Decimal::new(1, 2)),
                "reserved",
            ));
        }
    }
}

fn engine(told: &Told) -> PortfolioEngine {
    let mut portfolio = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
    portfolio.deposit(Asset::new("USDT"), Amount::new(Decimal::from(100_000)));
    portfolio.add_instrument(btc_perp());
    PortfolioEngine::new(
        portfolio,
        Box::new(Reserving {
            told: Arc::clone(told),
        }),
    )
}

fn requests(outputs: &[Output]) -> Vec<Request> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Request(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn respond(request: &Request, outcome: Outcome) -> Response {
    Response {
        portfolio_id: request.portfolio_id.clone(),
        request_id: request.request_id,
        outcome,
    }
}

#[test]
fn an_answer_is_told_once_and_a_late_one_is_an_issue() {
    let told = Told::default();
    let mut e = engine(&told);
    let minute = bar("BTCUSDT", 1, Decimal::from(40_000));
    e.handle(Input::Market(&minute), minute.ts());
    let asked = requests(&drain(&mut e));
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].deadline, Timestamp(minute.ts().0 + 5_000));
    assert_eq!(
        e.next_deadline(),
        Some(asked[0].deadline),
        "its deadline is a timer"
    );

    let granted = respond(&asked[0], Outcome::Granted);
    e.handle(Input::Response(&granted), Timestamp(minute.ts().0 + 200));
    let after = drain(&mut e);
    assert!(
        after.iter().any(|o| matches!(o, Output::Command(_))),
        "granted: the strategy trades: {after:?}"
    );
    assert_eq!(e.next_deadline(), None, "answered: no deadline left");

    e.handle(Input::Response(&granted), Timestamp(minute.ts().0 + 300));
    let late = drain(&mut e);
    assert!(
        matches!(late.as_slice(), [Output::Issue(i)] if i.kind == IssueKind::UnknownRequest),
        "{late:?}"
    );
    assert_eq!(told.lock().map(|t| t.len()).unwrap_or_default(), 1);
}

#[test]
fn without_an_answer_the_request_times_out_at_its_deadline() {
    let told = Told::default();
    let mut e = engine(&told);
    let first = bar("BTCUSDT", 1, Decimal::from(40_000));
    e.handle(Input::Market(&first), first.ts());
    let asked = requests(&drain(&mut e));
    // The next input comes a minute later: the timeout fires first, at its own time.
    let second = bar("BTCUSDT", 2, Decimal::from(40_100));
    e.handle(Input::Market(&second), second.ts());
    let outputs = drain(&mut e);
    assert!(!outputs.iter().any(|o| matches!(o, Output::Command(_))));
    let told = told.lock().map(|t| t.clone()).unwrap_or_default();
    assert_eq!(
        told,
        vec![(asked[0].request_id, Outcome::TimedOut, asked[0].deadline)]
    );
    assert_eq!(
        requests(&outputs).len(),
        1,
        "the second bar asks again, under a new id"
    );
    assert_ne!(requests(&outputs)[0].request_id, asked[0].request_id);
}

#[test]
fn a_pending_request_survives_a_checkpoint() {
    let told = Told::default();
    let mut e = engine(&told);
    let first = bar("BTCUSDT", 1, Decimal::from(40_000));
    e.handle(Input::Market(&first), first.ts());
    let asked = requests(&drain(&mut e));
    let snapshot = e.snapshot();
    assert_eq!(snapshot.pending_requests, asked);

    let restored_told = Told::default();
    let mut restored = PortfolioEngine::from_snapshot(
        snapshot,
        Box::new(Reserving {
            told: Arc::clone(&restored_told),
        }),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(restored.next_deadline(), Some(asked[0].deadline));
    let answer = respond(
        &asked[0],
        Outcome::Refused {
            reason: "budget exhausted".into(),
        },
    );
    restored.handle(Input::Response(&answer), Timestamp(first.ts().0 + 100));
    drain(&mut restored);
    let second = bar("BTCUSDT", 2, Decimal::from(40_100));
    restored.handle(Input::Market(&second), second.ts());
    let next = requests(&drain(&mut restored));
    assert_eq!(
        next[0].request_id,
        asked[0].request_id + 1,
        "ids keep counting after a restore"
    );
    let told = restored_told.lock().map(|t| t.clone()).unwrap_or_default();
    assert!(
        matches!(told.as_slice(), [(id, Outcome::Refused { .. }, _)] if *id == asked[0].request_id),
        "{told:?}"
    );
}

#[test]
fn a_portfolio_set_routes_an_answer_to_the_portfolio_that_asked() {
    let told = Told::default();
    let mut set = chimera_kernel::engine::PortfolioSet::default();
    set.add(engine(&told));
    let first = bar("BTCUSDT", 1, Decimal::from(40_000));
    set.on_market(&first);
    let asked: Vec<Request> = std::iter::from_fn(|| set.poll_output())
        .filter_map(|(_, o)| match o {
            Output::Request(r) => Some(r),
            _ => None,
        })
        .collect();
    let stranger = Response {
        portfolio_id: PortfolioId::new("nobody"),
        ..respond(&asked[0], Outcome::Granted)
    };
    assert!(!set.on_response(&stranger, first.ts()));
    assert!(set.on_response(&respond(&asked[0], Outcome::Granted), first.ts()));
    assert_eq!(told.lock().map(|t| t.len()).unwrap_or_default(), 1);
}
