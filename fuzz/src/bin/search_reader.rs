//! Fuzz target `search_reader`: the reader of the common search request
//! (`piratenldap-ldap`'s `search_request.rs`) against the general decoder. Whatever bytes the
//! reader accepts, the general decoder must read as the same message of the same length
//! (`piratenldap_ldap::fuzzing::check_search_reader` panics otherwise).
//!
//! Input: the bytes at the start of a connection's read buffer.

fn main() {
    piratenldap_fuzz::prepare();
    afl::fuzz!(|data: &[u8]| {
        piratenldap_ldap::fuzzing::check_search_reader(data);
    });
}
