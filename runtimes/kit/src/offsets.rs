//! The latest position per stream or symbol that checkpoints keep (`topic/partition` → offset,
//! symbol → bar time), updated once per input on the hot paths of node and gateway.

use std::collections::BTreeMap;

/// Sets `map[key]` to `value`, allocating the key only the first time (once per stream or
/// symbol, not once per input).
pub fn set_latest(map: &mut BTreeMap<String, i64>, key: &str, value: i64) {
    match map.get_mut(key) {
        Some(latest) => *latest = value,
        None => {
            map.insert(key.to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::set_latest;
    use std::collections::BTreeMap;

    #[test]
    fn keeps_the_latest_value_per_key() {
        let mut map = BTreeMap::new();
        set_latest(&mut map, "t/0", 3);
        set_latest(&mut map, "t/1", 1);
        set_latest(&mut map, "t/0", 7);
        assert_eq!(map, BTreeMap::from([("t/0".into(), 7), ("t/1".into(), 1)]));
    }
}
