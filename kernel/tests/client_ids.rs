//! Client order ids derived from intents: always accepted by the venue, the same for the same
//! intent and leg, never shared by two legs of one intent.

use chimera_kernel::ids::{ClientOrderId, IntentId};
use chimera_kernel::order::{is_venue_safe, Leg};
use proptest::prelude::*;

fn leg() -> impl Strategy<Value = Leg> {
    prop_oneof![
        Just(Leg::Whole),
        Just(Leg::Entry),
        any::<u32>().prop_map(Leg::Slice),
        any::<u32>().prop_map(Leg::TakeProfit),
        any::<u32>().prop_map(Leg::Stop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_id_is_venue_safe_and_stable(intent in "\\PC{0,80}", leg in leg()) {
        let intent = IntentId::new(&intent);
        let id = ClientOrderId::for_leg(&intent, leg);
        prop_assert!(is_venue_safe(id.as_str()), "{id}");
        prop_assert_eq!(&id, &ClientOrderId::for_leg(&intent, leg));
    }

    #[test]
    fn legs_of_one_intent_never_share_an_id(intent in "[a-z0-9 é-]{0,60}", a in leg(), b in leg()) {
        let intent = IntentId::new(&intent);
        prop_assume!(a != b);
        prop_assert_ne!(ClientOrderId::for_leg(&intent, a), ClientOrderId::for_leg(&intent, b));
    }

    #[test]
    fn different_intents_get_different_ids(x in "[a-z0-9 .s-]{1,60}", y in "[a-z0-9 .s-]{1,60}", a in leg(), b in leg()) {
        prop_assume!(x != y);
        prop_assert_ne!(
            ClientOrderId::for_leg(&IntentId::new(&x), a),
            ClientOrderId::for_leg(&IntentId::new(&y), b)
        );
    }
}

#[test]
fn an_intent_cannot_pose_as_another_intents_leg() {
    let slice = ClientOrderId::for_leg(&IntentId::new("p1-7"), Leg::Slice(1));
    let lookalike = ClientOrderId::for_leg(&IntentId::new("p1-7.s1"), Leg::Whole);
    assert_eq!(slice.as_str(), "c-p1-7.s1");
    assert_ne!(slice, lookalike);
}

#[test]
fn the_whole_order_keeps_its_historic_id() {
    let intent = IntentId::new("btc-ema-5-13-1234");
    assert_eq!(
        ClientOrderId::for_intent(&intent).as_str(),
        "c-btc-ema-5-13-1234"
    );
    assert_eq!(
        ClientOrderId::for_leg(&intent, Leg::TakeProfit(2)).as_str(),
        "c-btc-ema-5-13-1234.t2"
    );
}
