//! Issue 13 (first part) against the real server: connection slots per source address, the
//! short idle timeout before a bind, and filter limits answered with a result code.

use std::net::SocketAddr;
use std::time::Duration;

use ldap3::Scope;
use piratenldap_tests::{PASSWORD, Server, person, standard_server_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::{bound, search};

/// An anonymous simple bind, message ID 1.
const ANONYMOUS_BIND: &[u8] = &[
    0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
];

/// A TCP connection to the server from `source` (a loopback address).
async fn connect_from(source: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    socket.connect(server).await.unwrap()
}

/// Whether the server answers an anonymous bind on this connection within a second.
async fn answers(stream: &mut TcpStream) -> bool {
    if stream.write_all(ANONYMOUS_BIND).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0 && buf[0] == 0x30
    )
}

/// Whether the server closed the connection (EOF) within `within`.
async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a Notice of Disconnection comes first
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn one_address_cannot_hold_every_slot() {
    let server: Server = standard_server_with("connections_per_address = 256", "connections_per_address = 5").await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from([127, 0, 0, 1], server.ldap).await);
    }
    let mut sixth = connect_from([127, 0, 0, 1], server.ldap).await;
    assert!(
        closed(&mut sixth, Duration::from_secs(2)).await,
        "a sixth connection from one address"
    );
    let mut other = connect_from([127, 0, 0, 2], server.ldap).await;
    assert!(answers(&mut other).await, "another address is served");
    assert!(answers(&mut held[0]).await, "the held connections still work");
}

#[tokio::test]
async fn a_connection_that_never_binds_is_closed_soon() {
    let server = standard_server_with("unbound_idle_seconds = 30", "unbound_idle_seconds = 1").await;
    let mut idle = connect_from([127, 0, 0, 1], server.ldap).await;
    let mut ldap = bound(&server, &person("bob"), PASSWORD).await;
    assert!(
        closed(&mut idle, Duration::from_secs(3)).await,
        "the unbound connection stayed open"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (entries, res) = search(&mut ldap, &person("bob"), Scope::Base, "(objectClass=*)", &["uid"]).await;
    assert_eq!((res.rc, entries.len()), (0, 1), "the bound connection was closed too");
}

#[tokio::test]
async fn an_oversized_filter_gets_admin_limit_exceeded() {
    let server = standard_server_with("filter_elements = 512", "filter_elements = 8").await;
    let mut ldap = bound(&server, &person("bob"), PASSWORD).await;
    let filter = format!("(|{})", "(uid=bob)".repeat(8));
    let (_, res) = search(&mut ldap, &person("bob"), Scope::Base, &filter, &["uid"]).await;
    assert_eq!(res.rc, 11, "{res:?}");
    assert!(res.text.contains("limits.filter_elements"), "{}", res.text);
}
