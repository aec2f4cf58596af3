//! TCP settings that std does not offer, for latency: immediate ACKs and an `accept` with a
//! time limit (Linux, through socket2; elsewhere they do nothing and callers fall back).

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Acknowledges what was just read at once instead of after the delayed-ACK timer (Linux
/// `TCP_QUICKACK`; elsewhere nothing is done).
///
/// Two server habits make a delayed ACK cost a whole delayed-ACK timeout (up to 200 ms on
/// Linux) per transfer:
/// - Nagle's algorithm left on for the control connection (vsftpd): a final reply written
///   while the preliminary one is unacknowledged waits for our ACK;
/// - `SO_LINGER` on data connections (vsftpd): the server's `close` blocks until we have
///   acknowledged its last bytes (its close_notify), and only then does it send the final
///   reply.
pub(crate) fn ack_now(tcp: &TcpStream) {
    #[cfg(target_os = "linux")]
    if let Err(e) = socket2::SockRef::from(tcp).set_quickack(true) {
        log::debug!("TCP_QUICKACK failed: {e}");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = tcp;
}

/// Makes the next `accept` on `listener` block for at most `slice` (Linux applies
/// `SO_RCVTIMEO` to `accept`), so a connection is taken the moment it arrives; false where
/// that is not available, and the caller polls.
pub(crate) fn accept_blocks_for(listener: &TcpListener, slice: Duration) -> bool {
    #[cfg(target_os = "linux")]
    {
        socket2::SockRef::from(listener)
            .set_read_timeout(Some(slice))
            .is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (listener, slice);
        false
    }
}
