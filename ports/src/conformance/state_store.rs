//! The [`StateStore`] contract.

use super::TimeTravel;
use crate::{Increment, LockToken, StateStore};
use std::time::Duration;

/// Runs every state-store rule against `store` with keys prefixed by `prefix`. TTLs used are
/// 300 ms; `time` must make that much time pass for the store.
///
/// # Panics
/// When the store breaks a rule of the [`StateStore`] contract.
pub async fn state_store_suite(store: &dyn StateStore, time: &dyn TimeTravel, prefix: &str) {
    let key = |k: &str| format!("{prefix}:{{t}}:{k}");
    let ttl = Duration::from_millis(300);

    // get / set / delete
    assert_eq!(
        store.get(&key("missing")).await.expect("get"),
        None,
        "absent key reads None"
    );
    store.set(&key("a"), b"1", None).await.expect("set");
    store
        .set(&key("a"), b"2", None)
        .await
        .expect("set replaces");
    assert_eq!(
        store.get(&key("a")).await.expect("get"),
        Some(b"2".to_vec())
    );
    assert!(
        store.delete(&key("a")).await.expect("delete"),
        "delete reports a deletion"
    );
    assert!(
        !store.delete(&key("a")).await.expect("delete"),
        "deleting twice reports nothing"
    );

    // set_if_absent
    assert!(store
        .set_if_absent(&key("once"), b"x", None)
        .await
        .expect("nx"));
    assert!(
        !store
            .set_if_absent(&key("once"), b"y", None)
            .await
            .expect("nx"),
        "second set_if_absent refused"
    );
    assert_eq!(
        store.get(&key("once")).await.expect("get"),
        Some(b"x".to_vec())
    );

    // TTL
    store
        .set(&key("ttl"), b"v", Some(ttl))
        .await
        .expect("set ttl");
    assert!(store
        .set_if_absent(&key("ttl-nx"), b"v", Some(ttl))
        .await
        .expect("nx ttl"));
    assert!(
        store.get(&key("ttl")).await.expect("get").is_some(),
        "value readable before its TTL"
    );
    time.advance(ttl * 2).await;
    assert_eq!(
        store.get(&key("ttl")).await.expect("get"),
        None,
        "value gone after its TTL"
    );
    assert!(
        store
            .set_if_absent(&key("ttl-nx"), b"w", None)
            .await
            .expect("nx"),
        "expired key counts as absent"
    );

    // bounded counter
    let c = key("budget");
    assert_eq!(
        store.increment_within(&c, 60, 100).await.expect("incr"),
        Increment::Applied(60)
    );
    assert_eq!(
        store.increment_within(&c, 40, 100).await.expect("incr"),
        Increment::Applied(100),
        "reaching the ceiling is allowed"
    );
    assert_eq!(
        store.increment_within(&c, 1, 100).await.expect("incr"),
        Increment::Refused(100),
        "passing the ceiling is refused"
    );
    assert_eq!(
        store.increment_within(&c, -30, 100).await.expect("release"),
        Increment::Applied(70)
    );
    assert_eq!(
        store
            .increment_within(&c, -500, 100)
            .await
            .expect("release"),
        Increment::Applied(0),
        "never below zero"
    );
    store.set(&key("text"), b"abc", None).await.expect("set");
    assert!(
        store.increment_within(&key("text"), 1, 10).await.is_err(),
        "a non-integer value is a conflict"
    );

    // locks
    let l = key("lock");
    let token = store
        .lock(&l, ttl)
        .await
        .expect("lock")
        .expect("free lock is granted");
    assert!(
        store.lock(&l, ttl).await.expect("lock").is_none(),
        "held lock is not granted twice"
    );
    let stranger = LockToken("not-the-holder".into());
    assert!(
        !store.unlock(&l, &stranger).await.expect("unlock"),
        "a stranger cannot release"
    );
    assert!(
        store.extend_lock(&l, &token, ttl).await.expect("extend"),
        "holder can extend"
    );
    assert!(
        store.unlock(&l, &token).await.expect("unlock"),
        "holder releases"
    );
    assert!(
        !store.unlock(&l, &token).await.expect("unlock"),
        "releasing twice reports false"
    );
    let first = store
        .lock(&l, ttl)
        .await
        .expect("lock")
        .expect("free again");
    time.advance(ttl * 2).await;
    let second = store
        .lock(&l, ttl)
        .await
        .expect("lock")
        .expect("expired lock can be taken");
    assert_ne!(first, second, "tokens are unique");
    assert!(
        !store.unlock(&l, &first).await.expect("unlock"),
        "an expired holder cannot release the new holder's lock"
    );
    assert!(
        !store.extend_lock(&l, &first, ttl).await.expect("extend"),
        "an expired holder cannot extend"
    );
    assert!(store.unlock(&l, &second).await.expect("unlock"));
}
