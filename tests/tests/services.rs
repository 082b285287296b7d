//! The services the test command provisions answer on loopback in their own protocols.
//! Skipped (with the reason printed) when the connection variables are not set, e.g. under a
//! bare `cargo test`; `scripts/test.sh` sets them.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(var: &str, strip: &str) -> Option<TcpStream> {
    let Ok(url) = std::env::var(var) else {
        println!("skipped: {var} is not set (run scripts/test.sh)");
        return None;
    };
    let address = url.trim_start_matches(strip);
    let address = address.rsplit('@').next().unwrap_or(address);
    let address = address.split('/').next().unwrap_or(address);
    let stream = TcpStream::connect(address)
        .unwrap_or_else(|e| panic!("{var}={url}: cannot connect to {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    Some(stream)
}

#[test]
fn redis_answers_ping() {
    let Some(mut s) = connect("CHIMERA_REDIS_URL", "redis://") else {
        return;
    };
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0_u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn postgres_answers_the_ssl_request() {
    let Some(mut s) = connect("CHIMERA_DATABASE_URL", "postgres://") else {
        return;
    };
    // SSLRequest: length 8, code 80877103; a PostgreSQL server answers with one byte, S or N.
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).unwrap();
    let mut answer = [0_u8; 1];
    s.read_exact(&mut answer).unwrap();
    assert!(
        matches!(&answer, b"S" | b"N"),
        "unexpected answer {answer:?}"
    );
}

#[test]
fn kafka_broker_answers_api_versions() {
    let Some(mut s) = connect("CHIMERA_KAFKA_BROKERS", "") else {
        return;
    };
    // ApiVersions v0: api_key 18, version 0, correlation id 7, null client id.
    let body: [u8; 10] = [0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff];
    s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut header = [0_u8; 10];
    s.read_exact(&mut header).unwrap();
    let correlation = i32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let error_code = i16::from_be_bytes([header[8], header[9]]);
    assert_eq!(correlation, 7, "response matches the request");
    assert_eq!(error_code, 0, "ApiVersions succeeded");
}
