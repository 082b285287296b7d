//! Request authentication as Binance does it: the API key header, the signature over the
//! query string (and body) as sent, and the timestamp inside `recvWindow`.

use crate::config::FakeKey;
use crate::wire::ApiError;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Percent-decodes a query value.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parameters of a query string, decoded, in order.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Checks the signature of a request whose raw parameters are `payload` (query then body,
/// `signature` included somewhere).
///
/// # Errors
/// `-1022` when the signature is missing or wrong.
pub fn verify(key: &FakeKey, raw_query: &str, body: &str) -> Result<(), ApiError> {
    let invalid = || ApiError::new(400, -1022, "Signature for this request is not valid.");
    let (payload, signature) = split_signature(raw_query, body).ok_or_else(invalid)?;
    let ok = match key {
        FakeKey::Hmac(secret) => {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
                return Err(invalid());
            };
            mac.update(payload.as_bytes());
            hex::decode(signature.to_ascii_lowercase())
                .is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
        }
        FakeKey::Ed25519(public) => {
            let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
                return Err(invalid());
            };
            base64::engine::general_purpose::STANDARD
                .decode(signature.as_bytes())
                .ok()
                .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
                .is_some_and(|sig| key.verify_strict(payload.as_bytes(), &sig).is_ok())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// The signed payload (everything but `signature`, as sent) and the decoded signature.
fn split_signature(raw_query: &str, body: &str) -> Option<(String, String)> {
    let mut signature = None;
    let mut parts = Vec::new();
    for source in [raw_query, body] {
        let kept: Vec<&str> = source
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| match p.strip_prefix("signature=") {
                Some(sig) => {
                    signature = Some(decode(sig));
                    false
                }
                None => true,
            })
            .collect();
        parts.push(kept.join("&"));
    }
    Some((parts.concat(), signature?))
}

/// Checks `timestamp` and `recvWindow` against the server's `now`.
///
/// # Errors
/// `-1021` outside the window; `-1102` without a timestamp.
pub fn check_time(params: &[(String, String)], now: i64) -> Result<(), ApiError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let ts = get("timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| crate::orders::missing("timestamp"))?;
    let window = get("recvWindow")
        .and_then(|w| w.parse::<i64>().ok())
        .unwrap_or(5_000);
    if ts > now + 1_000 || now - ts > window {
        return Err(ApiError::new(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

/// Percent-encodes `text` as Binance's examples do (unreserved characters kept).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("%{b:02X}"));
        }
    }
    out
}
