//! Malformed PDUs (issue 13): each case goes to its own connection, which the server answers
//! or closes, never hanging on it; a second connection is served after every case, and the
//! server is still running at the end.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use piratenldap_tests::standard_server;

/// A BER element: tag, definite length, body.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut out = vec![tag];
    if n < 0x80 {
        out.push(n as u8);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(body);
    out
}

/// An LDAPMessage with message ID 1.
fn message(op: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend_from_slice(op);
    tlv(0x30, &body)
}

fn anonymous_bind() -> Vec<u8> {
    message(&tlv(0x60, &[0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]))
}

/// A search of the root DSE with `filter`.
fn root_search(filter: &[u8]) -> Vec<u8> {
    let mut s = tlv(0x04, b"");
    s.extend([
        0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00,
    ]);
    s.extend_from_slice(filter);
    s.extend(tlv(0x30, b""));
    message(&tlv(0x63, &s))
}

fn cases() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    let bind = anonymous_bind();
    let search = root_search(&tlv(0x87, b"objectClass"));
    for cut in 1..bind.len() {
        cases.push((format!("bind cut at {cut}"), bind[..cut].to_vec()));
    }
    for at in 0..search.len() {
        let mut bad = search.clone();
        bad[at] ^= 0xff;
        cases.push((format!("search with byte {at} flipped"), bad));
    }
    let special: Vec<(&str, Vec<u8>)> = vec![
        (
            "length of 4 GiB",
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01],
        ),
        (
            "indefinite length",
            vec![0x30, 0x80, 0x02, 0x01, 0x01, 0x42, 0x00, 0x00, 0x00],
        ),
        ("nine length bytes", vec![0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ("empty sequence", vec![0x30, 0x00]),
        ("an octet string, not a message", tlv(0x04, b"hello")),
        ("unknown operation", message(&tlv(0x7f, b""))),
        ("message ID 0", {
            let mut m = bind.clone();
            m[4] = 0;
            m
        }),
        ("message ID -1", {
            let mut m = bind.clone();
            m[4] = 0xff;
            m
        }),
        (
            "message ID of 5 bytes",
            tlv(0x30, &[0x02, 0x05, 1, 0, 0, 0, 0, 0x42, 0x00]),
        ),
        (
            "LDAP version 2",
            message(&tlv(0x60, &[0x02, 0x01, 0x02, 0x04, 0x00, 0x80, 0x00])),
        ),
        (
            "bind without credentials",
            message(&tlv(0x60, &[0x02, 0x01, 0x03, 0x04, 0x00])),
        ),
        (
            "SASL without mechanism",
            message(&tlv(0x60, &[0x02, 0x01, 0x03, 0x04, 0x00, 0xa3, 0x00])),
        ),
        ("scope 9", {
            let mut m = search.clone();
            let at = m.iter().position(|b| *b == 0x0a).unwrap();
            m[at + 2] = 9;
            m
        }),
        ("unknown filter tag", root_search(&tlv(0xaf, b"x"))),
        (
            "empty substring filter",
            root_search(&tlv(0xa4, &[tlv(0x04, b"cn"), tlv(0x30, b"")].concat())),
        ),
        ("empty extensible match", root_search(&tlv(0xa9, b""))),
        (
            "NOT with two children",
            root_search(&tlv(0xa2, &[tlv(0x87, b"cn"), tlv(0x87, b"uid")].concat())),
        ),
        ("NOT with no child", root_search(&tlv(0xa2, b""))),
        ("equality without value", root_search(&tlv(0xa3, &tlv(0x04, b"cn")))),
        ("filter nested 200 deep", {
            let mut f = tlv(0x87, b"cn");
            for _ in 0..200 {
                f = tlv(0xa2, &f);
            }
            root_search(&f)
        }),
        ("extended request without name", message(&tlv(0x77, b""))),
        (
            "compare without assertion",
            message(&tlv(0x6e, &tlv(0x04, b"dc=example,dc=org"))),
        ),
        ("abandon of a string", message(&tlv(0x50, b"xy"))),
        ("unbind with content", message(&tlv(0x42, b"zz"))),
        ("controls of garbage", {
            let mut body = vec![0x02, 0x01, 0x01];
            body.extend(tlv(0x42, b""));
            body.extend(tlv(0xa0, b"\xff\xff\xff"));
            tlv(0x30, &body)
        }),
        (
            "a response sent as a request",
            message(&tlv(0x61, &[0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00])),
        ),
        ("trailing bytes inside the message", {
            let mut body = vec![0x02, 0x01, 0x01];
            body.extend(tlv(0x60, &[0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]));
            body.extend([0x04, 0x01, 0x00, 0x04, 0x01, 0x00]);
            tlv(0x30, &body)
        }),
        ("a good bind then garbage", [bind.clone(), vec![0xff; 16]].concat()),
        ("zero bytes", vec![0u8; 64]),
    ];
    cases.extend(special.into_iter().map(|(n, b)| (n.to_string(), b)));
    cases
}

/// Sends `bytes`, half-closes, and reads until the server closes (true) or 3 s pass (false).
fn closes_or_answers(server: std::net::SocketAddr, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    if s.write_all(bytes).is_err() {
        return true; // closed while we were still writing
    }
    let _ = s.shutdown(Shutdown::Write);
    let mut sink = Vec::new();
    match s.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

/// Whether the long-lived connection still gets an answer to an anonymous bind.
fn still_served(healthy: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    healthy.write_all(&anonymous_bind()).is_ok() && matches!(healthy.read(&mut buf), Ok(n) if n > 0 && buf[0] == 0x30)
}

#[tokio::test]
async fn malformed_pdus_end_only_their_own_connection() {
    let mut server = standard_server().await;
    let addr = server.ldap;
    let cases = cases();
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let report = tokio::task::spawn_blocking(move || {
        let mut healthy = TcpStream::connect(addr).unwrap();
        healthy.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut failures = Vec::new();
        for (name, bytes) in &cases {
            if !closes_or_answers(addr, bytes) {
                failures.push(format!("{name}: connection neither answered nor closed"));
            }
            if !still_served(&mut healthy) {
                failures.push(format!("{name}: another connection was not served after it"));
                healthy = TcpStream::connect(addr).unwrap();
                healthy.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            }
        }
        (cases.len(), failures)
    })
    .await
    .unwrap();
    assert!(server.child.try_wait().unwrap().is_none(), "the server exited");
    assert!(
        report.1.is_empty(),
        "{} of {} cases failed:\n{}",
        report.1.len(),
        report.0,
        report.1.join("\n")
    );
}
