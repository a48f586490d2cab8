//! Fuzz target `pdu`: a client's byte stream through the server's wire decoder
//! (`piratenldap_ldap::fuzzing::decoder`, the codec a connection reads with) and every message
//! it decodes through `ops::dispatch` on a real view over SQLite (`piratenldap_fuzz::Harness`),
//! streamed results drained, as `connection.rs` does.
//!
//! Input: one selector byte, then the stream. The selector's low three bits pick who the
//! connection is bound as (anonymous, bob, alice the admin, the services wiki, wikionly, hr;
//! 6 and 7 are anonymous too), bit 3 whether it runs over TLS. The stream is handed to the
//! decoder in reads of at most 8 KiB, the codec's limit follows the bind state as on a real
//! connection, and the stream ends where a connection would close: an undecodable message,
//! an unbind, StartTLS with bytes after it, or a Notice of Disconnection.

use bytes::BytesMut;
use ldap3_proto::proto::LdapMsg;
use piratenldap_directory::Principal;
use piratenldap_fuzz::Harness;
use piratenldap_ldap::fuzzing::decoder;
use piratenldap_ldap::ops::After;
use tokio_util::codec::Decoder;

/// Bytes the connection reads from the socket at once (tokio-util's default capacity).
const READ: usize = 8 * 1024;

fn main() {
    piratenldap_fuzz::prepare();
    afl::fuzz!(|data: &[u8]| {
        let Some((&selector, mut stream)) = data.split_first() else {
            return;
        };
        let harness = Harness::get();
        let mut session = harness.session(usize::from(selector & 7), selector & 8 != 0);
        let mut bound = !matches!(session.principal, Principal::Anonymous);
        let mut codec = decoder(bound);
        let mut buf = BytesMut::new();
        loop {
            let msg: LdapMsg = match codec.decode(&mut buf) {
                Ok(Some(msg)) => msg,
                Ok(None) if !stream.is_empty() => {
                    let (now, later) = stream.split_at(stream.len().min(READ));
                    buf.extend_from_slice(now);
                    stream = later;
                    continue;
                }
                Ok(None) | Err(_) => return,
            };
            let after = harness.dispatch(&mut session, msg);
            let now_bound = !matches!(session.principal, Principal::Anonymous);
            if now_bound != bound {
                bound = now_bound;
                codec = decoder(bound);
            }
            match after {
                After::Continue => {}
                After::Close => return,
                After::StartTls if buf.is_empty() && stream.is_empty() => return,
                // The handshake would follow; the fuzzer goes on as if it had succeeded.
                After::StartTls if buf.is_empty() => session.tls = true,
                After::StartTls => return,
            }
        }
    });
}
