//! Fuzz target `config`: bytes → UTF-8 → `Config::parse`, the TOML parser and every validation
//! of `piratenldap.toml` (no I/O: paths are only resolved against a base directory).

use std::path::Path;

use piratenldap_core::config::Config;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(config) = Config::parse(text, Path::new("/srv/piratenldap"), 2) {
            let _ = format!("{config:?}");
        }
    });
}
