//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, off by default):
//! the wire decoder exactly as a connection reads with it, and the comparison of the common
//! search request's reader with the general decoder. Nothing in the server uses this
//! module; it exists so that `fuzz/` runs the real codec rather than a copy.

use ldap3_proto::proto::LdapMsg;
use tokio_util::codec::Decoder;

/// The decoder a connection reads requests with (`codec.rs`: the message-ID, operation and
/// shape checks, then ldap3_proto's messages), limited to [`MAX_MESSAGE_BYTES`](crate::MAX_MESSAGE_BYTES) once `bound`, else to
/// [`MAX_MESSAGE_BYTES_UNBOUND`](crate::MAX_MESSAGE_BYTES_UNBOUND).
pub fn decoder(bound: bool) -> impl Decoder<Item = LdapMsg, Error = std::io::Error> {
    crate::connection::codec(bound)
}

/// Panics unless the reader of the common search request (`search_request.rs`) reads `bytes`
/// exactly as the general decoder does, whenever it reads them at all.
pub fn check_search_reader(bytes: &[u8]) {
    let Some((fast, size)) = crate::search_request::read(bytes) else {
        return;
    };
    let mut buf = bytes::BytesMut::from(bytes);
    let general = crate::connection::codec(true).decode_general(&mut buf);
    assert_eq!(general.ok().flatten(), Some(fast), "the two decoders disagree");
    assert_eq!(bytes.len() - buf.len(), size, "the two decoders took different lengths");
}
