//! Fuzz target `member_csv`: bytes → `import::parse_members_csv`, the member import (any
//! bytes: the parser itself checks the BOM and UTF-8).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(records) = piratenldap_core::import::parse_members_csv(data) {
            for r in &records {
                let _ = (r.number.to_string(), r.state.to_string());
            }
        }
    });
}
