//! The "who sees what" table of `docs/privacy.md` (issue 16), generated from the access rules
//! of `access.rs` rather than written by hand: for each attribute of a member's entry, which
//! kind of reader may read it. A unit test keeps the document equal to what the rules say
//! (`UPDATE_PRIVACY_TABLE=1 cargo test -p piratenldap-directory visibility` rewrites it).

use std::sync::Arc;

use piratenldap_core::Dn;
use piratenldap_core::ids::Name;
use piratenldap_core::schema;
use piratenldap_core::service_pseudonym::PseudonymKey;
use piratenldap_store::ServiceProfile;

use crate::access::{Principal, ServiceAccess, attribute_visible, entry_visible};
use crate::build::Layout;
use crate::entry::{Entry, EntryKind};
use crate::pseudonymous::pseudonymous_entry;

/// The attributes of a member's entry, in the order the table lists them.
const PERSON_ATTRIBUTES: &[&str] = &[
    "uid",
    "cn",
    "displayName",
    "mail",
    "givenName",
    "sn",
    "pirateMemberNumber",
    "pirateStateAssociation",
    "pirateMembershipStatus",
    "pirateVotingRight",
    "memberOf",
    "entryUUID",
    "uidNumber",
    "gidNumber",
    "homeDirectory",
    "loginShell",
    "userPassword",
];

fn dn(text: &str) -> Option<Dn> {
    Dn::parse(text).ok()
}

fn service(attrs: Option<&[&str]>, real_names: bool, pseudonymous: bool) -> Option<Principal> {
    let profile = ServiceProfile {
        name: Name::parse("example").ok()?,
        attrs: attrs.map(|a| a.iter().map(|s| s.to_string()).collect()),
        members_of: None,
        real_names,
        include_inactive: false,
        pseudonymous,
        chapter: None,
    };
    Some(Principal::Service {
        dn: dn("uid=example,ou=services,dc=example,dc=org")?,
        access: Arc::new(ServiceAccess::new(profile)),
    })
}

/// The table as Markdown, in German and English column heads.
pub fn person_table() -> String {
    table().unwrap_or_default()
}

fn table() -> Option<String> {
    let me = dn("uid=m,ou=people,dc=example,dc=org")?;
    let mut entry = Entry::new(
        me.clone(),
        EntryKind::Person {
            uid: "m".into(),
            active: true,
            locked: false,
        },
    );
    for name in PERSON_ATTRIBUTES {
        entry.add(name, ["m"]);
    }
    // What a pseudonymous service reads instead: the member's pseudonymous entry.
    let layout = Layout::new(me.parent()?, "example").with_pseudonym_key(PseudonymKey::new([0; 32]));
    let key = layout.pseudonym_key.clone()?;
    let pseudonymous = pseudonymous_entry(&layout, &key, "example", &entry)?;
    let readers: Vec<(&str, Option<Principal>)> = vec![
        ("anonym / anonymous", Some(Principal::Anonymous)),
        (
            "das Mitglied selbst / the member",
            Some(Principal::Member { dn: me.clone() }),
        ),
        (
            "andere Mitglieder / other members",
            dn("uid=o,ou=people,dc=example,dc=org").map(|dn| Principal::Member { dn }),
        ),
        (
            "Bundesadmins / federal admins",
            dn("uid=a,ou=people,dc=example,dc=org").map(|dn| Principal::Admin { dn }),
        ),
        ("Dienst (Standard) / service (default)", service(None, false, false)),
        (
            "Dienst `--real-names` / service `--real-names`",
            service(None, true, false),
        ),
        (
            "Dienst `--attrs uid,mail` / service `--attrs uid,mail`",
            service(Some(&["uid", "mail"]), false, false),
        ),
        (
            "Dienst `--pseudonymous` / service `--pseudonymous`",
            service(None, false, true),
        ),
    ];
    let mut out = String::from("| Attribut / attribute |");
    for (name, _) in &readers {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(readers.len()));
    out.push('\n');
    for name in PERSON_ATTRIBUTES {
        let Some(attr) = schema::attribute(name) else { continue };
        out.push_str(&format!("| `{name}` |"));
        for (_, reader) in &readers {
            let pseudonymous_reader =
                matches!(reader, Some(Principal::Service { access, .. }) if access.profile.pseudonymous);
            let read = if pseudonymous_reader { &pseudonymous } else { &entry };
            let sees = reader
                .as_ref()
                .is_some_and(|p| entry_visible(p, read, true) && attribute_visible(p, read, attr));
            let same = read.get(attr).map(|a| a.values) == entry.get(attr).map(|a| a.values);
            out.push_str(match (sees && read.get(attr).is_some(), same) {
                (false, _) => " – |",
                (true, true) => " ✓ |",
                (true, false) => " Pseudonym |",
            });
        }
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "<!-- generated: who sees what (crates/directory/src/visibility_table.rs) -->\n";
    const END: &str = "<!-- end of generated table -->";

    /// `docs/privacy.md` holds exactly the table the rules give.
    #[test]
    fn the_privacy_document_shows_what_the_access_rules_say() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/privacy.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        let table = person_table();
        assert!(
            table.contains("| `givenName` | – | ✓ | – | ✓ | – | ✓ | – | – |"),
            "{table}"
        );
        assert!(
            table.contains("| `uid` | – | ✓ | – | ✓ | ✓ | ✓ | ✓ | Pseudonym |"),
            "{table}"
        );
        assert!(table.contains("| `mail` | – | ✓ | – | ✓ | ✓ | ✓ | ✓ | – |"), "{table}");
        assert!(
            table.contains("| `uidNumber` | – | ✓ | – | ✓ | ✓ | ✓ | ✓ | – |"),
            "{table}"
        );
        assert!(
            table.contains("| `userPassword` | – | – | – | – | – | – | – | – |"),
            "{table}"
        );
        let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
            panic!("docs/privacy.md lacks the generated table's markers");
        };
        let current = &doc[start + START.len()..end];
        if current != table {
            if std::env::var_os("UPDATE_PRIVACY_TABLE").is_some() {
                let updated = format!("{}{table}{}", &doc[..start + START.len()], &doc[end..]);
                std::fs::write(&path, updated).unwrap_or_else(|_| std::process::abort());
            } else {
                panic!(
                    "docs/privacy.md is out of date; run UPDATE_PRIVACY_TABLE=1 cargo test -p piratenldap-directory visibility\n{table}"
                );
            }
        }
    }
}
