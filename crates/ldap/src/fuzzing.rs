//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, off by default):
//! the wire decoder exactly as a connection reads with it. Nothing in the server uses this
//! module; it exists so that `fuzz/` runs the real codec rather than a copy.

use ldap3_proto::proto::LdapMsg;
use tokio_util::codec::Decoder;

/// The decoder a connection reads requests with (`codec.rs`: the message-ID, operation and
/// shape checks, then ldap3_proto's messages), limited to [`MAX_MESSAGE_BYTES`](crate::MAX_MESSAGE_BYTES) once `bound`, else to
/// [`MAX_MESSAGE_BYTES_UNBOUND`](crate::MAX_MESSAGE_BYTES_UNBOUND).
pub fn decoder(bound: bool) -> impl Decoder<Item = LdapMsg, Error = std::io::Error> {
    crate::connection::codec(bound)
}
