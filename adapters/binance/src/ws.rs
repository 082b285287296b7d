//! Opening Binance's WebSocket connections (market streams, user-data streams, the WebSocket
//! API) with Nagle's algorithm off: what the connector writes there (pongs, the subscription,
//! requests) is small and wanted at once, and a write held back until the previous one is
//! acknowledged waits out the peer's delayed acknowledgement, 40 ms or more.

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open WebSocket connection.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `request` with `TCP_NODELAY` set.
///
/// # Errors
/// The connection or the handshake failed.
pub(crate) async fn connect<R>(
    request: R,
) -> Result<(Socket, Response), tokio_tungstenite::tungstenite::Error>
where
    R: IntoClientRequest + Unpin,
{
    tokio_tungstenite::connect_async_with_config(request, None, true).await
}
