#![allow(clippy::unwrap_used, reason = "tests")]
use super::*;

fn id(n: usize) -> ClientOrderId {
    ClientOrderId::new(format!("c-{n}"))
}

fn at(n: usize) -> Timestamp {
    Timestamp(i64::try_from(n).unwrap())
}

#[test]
fn remembers_a_window_and_says_when_it_cannot_tell() {
    let p = PortfolioId::new("p");
    let mut known = KnownOrders::default();
    for n in 0..KNOWN_WINDOW + 10 {
        assert!(known.insert(&id(n), &p, at(n)));
    }
    assert!(!known.insert(&id(KNOWN_WINDOW + 9), &p, at(0)));
    assert_eq!(known.knows(&id(20), &p, at(20)), Knowledge::Received);
    assert_eq!(known.knows(&id(3), &p, at(3)), Knowledge::Forgotten);
    // Created at the same time as the newest id forgotten: it may be one of them.
    assert_eq!(known.knows(&id(99_999), &p, at(9)), Knowledge::Forgotten);
    assert_eq!(
        known.knows(&id(99_999), &p, at(99_999)),
        Knowledge::NeverReceived
    );
    let json = serde_json::to_string(&known).unwrap();
    let back: KnownOrders = serde_json::from_str(&json).unwrap();
    assert_eq!(back.knows(&id(20), &p, at(20)), Knowledge::Received);
    assert_eq!(back.knows(&id(3), &p, at(3)), Knowledge::Forgotten);
    assert_eq!(
        back.knows(&id(99_999), &p, at(99_999)),
        Knowledge::NeverReceived
    );
}

#[test]
fn a_portfolio_behind_the_others_is_not_forgotten_for_their_evictions() {
    let (ahead, behind) = (PortfolioId::new("ahead"), PortfolioId::new("behind"));
    let mut known = KnownOrders::default();
    assert!(known.insert(&id(0), &behind, at(10)));
    // The portfolio ahead sends a window's worth at later times: the one behind loses its id.
    for n in 1..=KNOWN_WINDOW {
        assert!(known.insert(&id(n), &ahead, at(1_000 + n)));
    }
    assert!(!known.contains(&id(0)));
    // Its next order, created after its own forgotten one, was never received, though it is
    // older than everything the portfolio ahead had forgotten.
    assert_eq!(
        known.knows(&id(50_000), &behind, at(11)),
        Knowledge::NeverReceived
    );
    assert_eq!(known.knows(&id(0), &behind, at(10)), Knowledge::Forgotten);
    // A portfolio that never lost an id to the window has nothing forgotten.
    assert_eq!(
        known.knows(&id(50_001), &PortfolioId::new("new"), at(0)),
        Knowledge::NeverReceived
    );
    let back: KnownOrders = serde_json::from_str(&serde_json::to_string(&known).unwrap()).unwrap();
    assert_eq!(
        back.knows(&id(50_000), &behind, at(11)),
        Knowledge::NeverReceived
    );
    assert_eq!(back.knows(&id(0), &behind, at(10)), Knowledge::Forgotten);
}

#[test]
fn restores_a_checkpoint_written_before_marks_were_per_portfolio() {
    // The old form: ids with their arrival times, and one venue-wide mark.
    let old = r#"{"order":[["c-1",100],["c-2",200]],"forgotten_until":50}"#;
    let mut known: KnownOrders = serde_json::from_str(old).unwrap();
    let p = PortfolioId::new("p");
    assert_eq!(known.knows(&id(1), &p, at(0)), Knowledge::Received);
    // The old mark still holds for every portfolio.
    assert_eq!(known.knows(&id(7), &p, at(50)), Knowledge::Forgotten);
    assert_eq!(known.knows(&id(7), &p, at(51)), Knowledge::NeverReceived);
    // Evicting an id of no known portfolio raises that mark, to its arrival time.
    for n in 0..KNOWN_WINDOW - 1 {
        assert!(known.insert(&id(1_000 + n), &p, at(300)));
    }
    assert!(!known.contains(&id(1)));
    assert!(known.contains(&id(2)));
    assert_eq!(known.knows(&id(7), &p, at(100)), Knowledge::Forgotten);
    assert_eq!(known.knows(&id(7), &p, at(101)), Knowledge::NeverReceived);
    // Written back in the new form, it keeps the old entry and the raised mark.
    let json = serde_json::to_string(&known).unwrap();
    assert!(json.contains(r#"["c-2",200,null]"#), "{json}");
    let back: KnownOrders = serde_json::from_str(&json).unwrap();
    assert_eq!(back.knows(&id(2), &p, at(0)), Knowledge::Received);
    assert_eq!(back.knows(&id(7), &p, at(100)), Knowledge::Forgotten);
}

#[test]
fn writes_each_portfolio_once_not_per_id() {
    let p = PortfolioId::new("a-rather-long-portfolio-name");
    let mut known = KnownOrders::default();
    for n in 0..3 {
        known.insert(&id(n), &p, at(n));
    }
    let json = serde_json::to_string(&known).unwrap();
    assert_eq!(
        json.matches("a-rather-long-portfolio-name").count(),
        1,
        "{json}"
    );
    assert!(!json.contains("forgotten_until"), "{json}");
}
