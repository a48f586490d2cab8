//! Fuzz target `dn`: bytes → UTF-8 → `Dn::parse`; a parsed DN must survive its accessors, and
//! its string form (what the server writes into results) must parse back to the same DN.

use piratenldap_core::Dn;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(dn) = Dn::parse(text) else {
            return;
        };
        let _ = (dn.rdn(), dn.is_root(), dn.parent_normalised());
        if let Some(parent) = dn.parent() {
            assert!(dn.is_within(&parent), "{text:?} is not within its parent");
            assert_eq!(parent.normalised(), dn.parent_normalised(), "{text:?}");
        }
        let shown = dn.to_string();
        let again =
            Dn::parse(&shown).unwrap_or_else(|e| panic!("{text:?} shows as {shown:?}, which does not parse: {e}"));
        assert_eq!(again.normalised(), dn.normalised(), "{text:?} shows as {shown:?}");
    });
}
