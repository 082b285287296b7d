//! Parsing of the stream replies (`XREADGROUP`, `XAUTOCLAIM`) and of entry ids.

use chimera_ports::{PortError, PortResult};
use redis::Value;

/// One stream entry: its id, the message key and the payload.
pub(super) struct Entry {
    pub id: String,
    pub key: String,
    pub payload: Vec<u8>,
}

/// `ms-seq` → one ordered integer (the sequence stays below a million per millisecond), so
/// offsets grow with the entries of a stream.
pub(super) fn offset_of(id: &str) -> i64 {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    ms.parse::<i64>()
        .unwrap_or(0)
        .saturating_mul(1_000_000)
        .saturating_add(seq.parse::<i64>().unwrap_or(0))
}

/// The entry id of an offset [`offset_of`] gave (`ms-seq`).
pub(super) fn id_of(offset: i64) -> String {
    format!("{}-{}", offset / 1_000_000, offset % 1_000_000)
}

pub(super) fn text(value: &Value) -> Option<String> {
    bytes_of(value)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .map(str::to_owned)
}

/// [`text`], taking the value: its bytes become the string, not a copy.
fn into_text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// The bytes of a string reply, borrowed.
fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Parses `[[id, [field, value, ...]], ...]`; entries deleted since their delivery (`[id, nil]`)
/// are skipped. Takes the reply so that ids, keys and payloads move out of it rather than being
/// copied (a reader's hot path: every message read passes here).
///
/// # Errors
/// [`PortError::Codec`] when the reply does not have that shape.
pub(super) fn entries(value: Value) -> PortResult<Vec<Entry>> {
    let Value::Array(items) = value else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let pair = match item {
            Value::Array(pair) => pair,
            other => {
                return Err(PortError::Codec {
                    message: format!("unexpected stream entry: {other:?}"),
                    bytes: Vec::new(),
                })
            }
        };
        let mut pair = pair.into_iter();
        let (Some(id), Some(Value::Array(fields))) = (pair.next().and_then(into_text), pair.next())
        else {
            continue;
        };
        let mut entry = Entry {
            id,
            key: String::new(),
            payload: Vec::new(),
        };
        let mut fields = fields.into_iter();
        while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
            match (bytes_of(&name), value) {
                (Some(b"k"), value) => entry.key = into_text(value).unwrap_or_default(),
                (Some(b"p"), Value::BulkString(bytes)) => entry.payload = bytes,
                _ => {}
            }
        }
        out.push(entry);
    }
    Ok(out)
}

/// Parses an `XREADGROUP` reply over several streams: `[[stream, entries], ...]` (RESP2) or a
/// map from stream to entries (RESP3).
///
/// # Errors
/// [`PortError::Codec`] when the reply does not have that shape.
pub(super) fn streams(value: Value) -> PortResult<Vec<(String, Vec<Entry>)>> {
    let mut out = Vec::new();
    match value {
        Value::Array(items) => {
            for item in items {
                if let Value::Array(pair) = item {
                    let mut pair = pair.into_iter();
                    if let (Some(name), Some(found)) =
                        (pair.next().and_then(into_text), pair.next())
                    {
                        out.push((name, entries(found)?));
                    }
                }
            }
        }
        Value::Map(pairs) => {
            for (name, found) in pairs {
                if let Some(name) = into_text(name) {
                    out.push((name, entries(found)?));
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// Field `field` of group `group` in an `XINFO GROUPS` reply (a list of groups, each a map in
/// RESP3 or a flat `[name, value, …]` list in RESP2).
pub(super) fn group_field(value: &Value, group: &str, field: &str) -> Option<String> {
    let Value::Array(groups) = value else {
        return None;
    };
    groups.iter().find_map(|item| {
        let pairs: Vec<(String, &Value)> = match item {
            Value::Map(pairs) => pairs
                .iter()
                .filter_map(|(k, v)| Some((text(k)?, v)))
                .collect(),
            Value::Array(flat) => flat
                .chunks(2)
                .filter_map(|kv| Some((text(kv.first()?)?, kv.get(1)?)))
                .collect(),
            _ => return None,
        };
        let named = pairs
            .iter()
            .any(|(k, v)| k == "name" && text(v).as_deref() == Some(group));
        named
            .then(|| {
                pairs
                    .iter()
                    .find(|(k, _)| k == field)
                    .and_then(|(_, v)| text(v))
            })
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn offsets_follow_entry_ids() {
        assert!(offset_of("1700000000000-1") > offset_of("1700000000000-0"));
        assert!(offset_of("1700000000001-0") > offset_of("1700000000000-999"));
    }

    #[test]
    fn reads_entries_of_several_streams() {
        let entry = |id: &str, key: &str, p: &[u8]| {
            Value::Array(vec![
                Value::BulkString(id.into()),
                Value::Array(vec![
                    Value::BulkString(b"k".to_vec()),
                    Value::BulkString(key.into()),
                    Value::BulkString(b"p".to_vec()),
                    Value::BulkString(p.to_vec()),
                ]),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::BulkString(b"s1".to_vec()),
                Value::Array(vec![entry("1-0", "a", b"x"), entry("1-1", "a", b"y")]),
            ]),
            Value::Array(vec![
                Value::BulkString(b"s2".to_vec()),
                Value::Array(vec![
                    entry("2-0", "b", b"z"),
                    Value::Array(vec![Value::BulkString(b"3-0".to_vec()), Value::Nil]),
                ]),
            ]),
        ]);
        let got = streams(reply).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "s1");
        assert_eq!(
            got[0]
                .1
                .iter()
                .map(|e| e.payload.clone())
                .collect::<Vec<_>>(),
            vec![b"x".to_vec(), b"y".to_vec()]
        );
        assert_eq!(got[1].1.len(), 1, "a deleted entry is skipped");
        assert_eq!(got[1].1[0].key, "b");
        assert!(streams(Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn finds_a_groups_field_in_either_protocol() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let resp2 = Value::Array(vec![
            Value::Array(vec![
                bulk("name"),
                bulk("other"),
                bulk("last-delivered-id"),
                bulk("1-1"),
            ]),
            Value::Array(vec![
                bulk("name"),
                bulk("g"),
                bulk("last-delivered-id"),
                bulk("5-2"),
            ]),
        ]);
        assert_eq!(
            group_field(&resp2, "g", "last-delivered-id").as_deref(),
            Some("5-2")
        );
        let resp3 = Value::Array(vec![Value::Map(vec![
            (bulk("name"), bulk("g")),
            (bulk("last-delivered-id"), bulk("0-0")),
        ])]);
        assert_eq!(
            group_field(&resp3, "g", "last-delivered-id").as_deref(),
            Some("0-0")
        );
        assert_eq!(group_field(&resp3, "absent", "last-delivered-id"), None);
    }
}
