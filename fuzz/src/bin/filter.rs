//! Fuzz target `filter`: bytes → one BER element (ldap3_lber's parser with the depth limit the
//! codec uses) → ldap3_proto's `LdapFilter` → `filter::measure`, and, for a filter within the
//! default `limits.filter_elements`/`filter_depth` (as `ops::search` checks), the view's
//! `candidates` (index lookups) and `matching` (evaluation through each principal's reader)
//! for every identity of the harness, plus `filter::evaluate` with the reader that sees
//! everything on each entry.

use std::time::{Duration, Instant};

use ldap3_lber::parse::{DEFAULT_MAX_BER_DEPTH, Parser};
use ldap3_proto::proto::{LdapFilter, LdapSearchScope};
use piratenldap_core::Dn;
use piratenldap_core::limits::Limits;
use piratenldap_directory::filter::{Everything, evaluate, measure};
use piratenldap_fuzz::{BASE, Harness};

fn main() {
    piratenldap_fuzz::prepare();
    let base = Dn::parse(BASE).expect("base DN");
    let limits = Limits::default();
    afl::fuzz!(|data: &[u8]| {
        let Ok((_, tag)) = Parser::new(DEFAULT_MAX_BER_DEPTH).parse(data) else {
            return;
        };
        let Ok(filter) = LdapFilter::try_from(tag) else {
            return;
        };
        let (elements, depth) = measure(&filter);
        if elements > limits.filter_elements || depth > limits.filter_depth {
            return;
        }
        let harness = Harness::get();
        let view = harness.ctx.directory.view();
        for entry in &view.entries {
            let _ = evaluate(&filter, entry, &Everything(entry));
        }
        let deadline = Instant::now() + Duration::from_secs(limits.search_seconds);
        for (principal, _) in &harness.identities {
            for scope in [
                LdapSearchScope::Subtree,
                LdapSearchScope::OneLevel,
                LdapSearchScope::Base,
            ] {
                if let Ok(candidates) = view.candidates(principal, &base, &scope, &filter) {
                    let _ = view.matching(principal, &filter, candidates, deadline);
                }
            }
        }
    });
}
