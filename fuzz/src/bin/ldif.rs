//! Fuzz target `ldif`: bytes → UTF-8 → `ldif::parse`; every entry it reads, written back with
//! `ldif::write_line` (what the project writes), must read back as the same entry.

use piratenldap_core::ldif;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(entries) = ldif::parse(text) else {
            return;
        };
        for entry in entries {
            let mut out = String::new();
            ldif::write_line(&mut out, "dn", &entry.dn);
            for (name, value) in &entry.attrs {
                ldif::write_line(&mut out, name, value);
            }
            let again = ldif::parse(&out).unwrap_or_else(|e| panic!("{out:?} does not parse back: {e}"));
            assert_eq!(again.len(), 1, "{out:?}");
            assert_eq!(again[0].dn, entry.dn, "{out:?}");
            assert_eq!(again[0].attrs, entry.attrs, "{out:?}");
        }
    });
}
