//! Compare: one attribute value assertion on one entry, with the schema's equality rule and
//! the reader's access rights; `userPassword` is never compared.

use ldap3_proto::proto::{LdapCompareRequest, LdapResult, LdapResultCode};
use piratenldap_core::Dn;
use piratenldap_core::schema;

use super::result;
use crate::session::{Context, Session};

/// Handles a compare request.
pub fn compare(ctx: &Context, session: &Session, req: &LdapCompareRequest) -> LdapResult {
    let Ok(dn) = Dn::parse(&req.dn) else {
        return result(
            LdapResultCode::InvalidDNSyntax,
            format!("{:?} is not a valid DN", req.dn),
        );
    };
    let Some(kind) = schema::attribute(&req.atype) else {
        return result(
            LdapResultCode::UndefinedAttributeType,
            format!("attribute type {} is not in the schema", req.atype),
        );
    };
    if kind.name() == "userPassword" {
        return result(
            LdapResultCode::InsufficentAccessRights,
            "userPassword cannot be compared; bind to check a password",
        );
    }
    let view = ctx.directory.view();
    let principal = view.current(&session.principal);
    let Some(i) = view.entry_index(&dn).filter(|i| view.visible(&principal, *i)) else {
        return result(LdapResultCode::NoSuchObject, "no such entry");
    };
    let value = String::from_utf8_lossy(&req.val);
    let Some(wanted) = kind.matching.normalise(&value) else {
        return result(
            LdapResultCode::InvalidAttributeSyntax,
            format!("the value is not valid for {}", kind.name()),
        );
    };
    // The values a read of the entry would return: compare can prove no more than a read shows.
    let Some(held) = view.holds(&principal, i, kind, &wanted) else {
        return result(
            LdapResultCode::NoSuchAttribute,
            format!("the entry has no {} value you may read", kind.name()),
        );
    };
    if held {
        result(LdapResultCode::CompareTrue, "")
    } else {
        result(LdapResultCode::CompareFalse, "")
    }
}
