//! Fuzz target `token`: bytes → UTF-8 → `Token::parse` (activation tokens as a person types
//! them); a token that parses must print as a form that parses back to itself.

use piratenldap_core::token::Token;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(token) = Token::parse(text) else {
            return;
        };
        let shown = token.display();
        assert!(Token::parse(&shown) == Ok(token.clone()), "{shown} does not parse back");
        let _ = token.hmac(b"fuzz key");
    });
}
