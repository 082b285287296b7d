//! Loopback ports for the tests' listeners: one free to bind, and a wait until something
//! listens on one. Shared by the process tests (`support`) and the in-process ones
//! (`embedded`, which includes this file by path).

/// A loopback TCP port free at the time of the call.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on loopback `port` (`what`, named in the failure), for up
/// to 10 s.
pub(crate) async fn wait_listening(port: u16, what: &str) {
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{what} is not listening on port {port}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
