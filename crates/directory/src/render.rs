//! Which attributes a search returns (`*`, `+`, `1.1`, names in any case, typesOnly) and the
//! rendering of an entry for one reader.

use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};
use piratenldap_core::schema::{self, AttributeType};

use crate::access::{Principal, selected_by_wildcards};
use crate::view::View;

/// The attribute list of a search request, parsed.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    all_user: bool,
    all_operational: bool,
    named: Vec<&'static AttributeType>,
}

impl Selection {
    /// Parses the requested attribute list (RFC 4511 section 4.5.1.8): an empty list means all
    /// user attributes; `1.1` alone means none; unknown names are ignored.
    pub fn parse(attrs: &[String]) -> Selection {
        let mut sel = Selection {
            all_user: attrs.is_empty(),
            ..Selection::default()
        };
        for a in attrs {
            match a.as_str() {
                "*" => sel.all_user = true,
                "+" => sel.all_operational = true,
                "1.1" => {}
                name => {
                    // Attribute options such as `;binary` are not served: take the base type.
                    let base = name.split(';').next().unwrap_or(name);
                    if let Some(kind) = schema::attribute(base) {
                        sel.named.push(kind);
                    }
                }
            }
        }
        sel
    }

    /// Whether `attr` is selected by name or by either wildcard (for the root DSE and the
    /// subschema entry, whose attributes are all operational).
    pub fn includes_loosely(&self, attr: &AttributeType) -> bool {
        self.all_user || self.all_operational || self.named.iter().any(|n| std::ptr::eq(*n, attr))
    }

    /// Whether `attr` is selected.
    pub fn includes(&self, attr: &AttributeType) -> bool {
        selected_by_wildcards(attr, self.all_user, self.all_operational)
            || self.named.iter().any(|n| std::ptr::eq(*n, attr))
    }
}

/// Renders entry `i` for `principal`: the selected attributes as [`View::readable`] gives them.
pub fn render(
    view: &View,
    principal: &Principal,
    i: usize,
    selection: &Selection,
    types_only: bool,
) -> LdapSearchResultEntry {
    let entry = &view.entries[i];
    let attributes = view
        .attribute_types(i)
        .filter(|kind| selection.includes(kind))
        .filter_map(|kind| view.readable(principal, i, kind))
        .map(|a| {
            let a = a.attr();
            LdapPartialAttribute {
                atype: a.kind.name().to_string(),
                vals: if types_only {
                    Vec::new()
                } else {
                    a.values.iter().map(|v| v.as_bytes().to_vec()).collect()
                },
            }
        })
        .collect();
    LdapSearchResultEntry {
        dn: String::from(&*entry.dn_string),
        attributes,
    }
}
