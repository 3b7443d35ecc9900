//! Listening sockets with a server-sized accept queue. `TcpListener::bind` asks for 1,024
//! pending connections; thousands of clients connecting at once (a gateway resuming its
//! chats) overflow that, and each dropped SYN costs its client a second or more of
//! retransmission, which a production endpoint would not charge. The kernel caps the request
//! at `net.core.somaxconn` (4,096 on current Linux).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Pending connections asked for.
const BACKLOG: u32 = 8192;

/// Binds `addr` (port 0: any free port) and listens with [`BACKLOG`].
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}
