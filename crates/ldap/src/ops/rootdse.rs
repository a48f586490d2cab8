//! The root DSE (what the server supports) and `cn=Subschema` (every attribute type and object
//! class we serve), as synthetic entries that filters and attribute selection treat like any
//! other.

use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};
use piratenldap_core::Dn;
use piratenldap_core::schema::{ATTRIBUTE_TYPES, OBJECT_CLASSES};
use piratenldap_directory::build::{Layout, SUBSCHEMA_DN};
use piratenldap_directory::entry::{Entry, EntryKind};
use piratenldap_directory::render::Selection;

use super::{OID_MANAGE_DSA_IT, OID_PAGED_RESULTS, OID_STARTTLS};

/// The root DSE.
pub fn root_dse(layout: &Layout, starttls: bool) -> Entry {
    let mut e = Entry::new(Dn::root(), EntryKind::Container);
    e.add("objectClass", ["top"]);
    e.add("namingContexts", [layout.base.to_string()]);
    e.add("supportedLDAPVersion", ["3"]);
    let mut extensions = vec![ldap3_proto::proto::OID_WHOAMI, ldap3_proto::proto::OID_PASSWORD_MODIFY];
    if starttls {
        extensions.insert(0, OID_STARTTLS);
    }
    e.add("supportedExtension", extensions);
    e.add("supportedControl", [OID_PAGED_RESULTS, OID_MANAGE_DSA_IT]);
    // All operational attributes with "+" (RFC 3673); absolute true/false filters (RFC 4526).
    e.add("supportedSASLMechanisms", ["EXTERNAL"]);
    e.add(
        "supportedFeatures",
        ["1.3.6.1.4.1.4203.1.5.1", "1.3.6.1.4.1.4203.1.5.3"],
    );
    e.add("subschemaSubentry", [SUBSCHEMA_DN]);
    e.add("vendorName", ["piratenldap"]);
    e.add("vendorVersion", [concat!("piratenldap ", env!("CARGO_PKG_VERSION"))]);
    e
}

/// The subschema entry.
pub fn subschema_entry() -> &'static Entry {
    // Built once: it formats every attribute type and object class, which is far too much
    // work to repeat on each search (every search compares its base with this entry's DN).
    static SUBSCHEMA: std::sync::LazyLock<Entry> = std::sync::LazyLock::new(build_subschema);
    &SUBSCHEMA
}

fn build_subschema() -> Entry {
    let dn = Dn::parse(SUBSCHEMA_DN).unwrap_or_else(|_| Dn::root());
    let mut e = Entry::new(dn, EntryKind::Container);
    e.add("objectClass", ["top", "subschema"]);
    e.add("cn", ["Subschema"]);
    e.add("attributeTypes", ATTRIBUTE_TYPES.iter().map(|a| a.definition()));
    e.add("objectClasses", OBJECT_CLASSES.iter().map(|c| c.definition()));
    e.add("structuralObjectClass", ["subentry"]);
    e.add("entryDN", [SUBSCHEMA_DN]);
    e
}

/// Renders a synthetic entry. Its attributes are operational, but clients that ask for
/// everything (`*` or no list) get them too, as most expect to see `namingContexts` then.
pub fn render_synthetic(entry: &Entry, selection: &Selection, types_only: bool) -> LdapSearchResultEntry {
    LdapSearchResultEntry {
        dn: entry.dn_string.to_string(),
        attributes: entry
            .attrs()
            .filter(|a| selection.includes_loosely(a.kind))
            .map(|a| LdapPartialAttribute {
                atype: a.kind.name().to_string(),
                vals: if types_only {
                    Vec::new()
                } else {
                    a.values.iter().map(|v| v.as_bytes().to_vec()).collect()
                },
            })
            .collect(),
    }
}
