//! What `/metrics` records of each LDAP request (issue 18): the operation's name, the kind of
//! principal that searched and the search's result, as fixed words (the label values).

use ldap3_proto::proto::LdapOp;
use ldap3_proto::proto::LdapResultCode;
use piratenldap_directory::Principal;

/// The operation a request asks for.
pub fn operation(op: &LdapOp) -> &'static str {
    match op {
        LdapOp::BindRequest(_) => "bind",
        LdapOp::UnbindRequest => "unbind",
        LdapOp::SearchRequest(_) => "search",
        LdapOp::CompareRequest(_) => "compare",
        LdapOp::ExtendedRequest(_) => "extended",
        LdapOp::AbandonRequest(_) => "abandon",
        LdapOp::AddRequest(_) | LdapOp::ModifyRequest(_) | LdapOp::DelRequest(_) | LdapOp::ModifyDNRequest(_) => {
            "write"
        }
        _ => "other",
    }
}

/// The kind of principal.
pub fn principal(p: &Principal) -> &'static str {
    match p {
        Principal::Anonymous => "anonymous",
        Principal::Member { .. } => "member",
        Principal::Admin { .. } => "admin",
        Principal::Service { .. } => "service",
    }
}

/// A search's result, if `op` is the SearchResultDone that ends one.
pub fn search_result(op: &LdapOp) -> Option<&'static str> {
    let LdapOp::SearchResultDone(res) = op else {
        return None;
    };
    Some(match res.code {
        LdapResultCode::Success => "success",
        LdapResultCode::SizeLimitExceeded => "size_limit",
        LdapResultCode::TimeLimitExceeded => "time_limit",
        LdapResultCode::AdminLimitExceeded => "admin_limit",
        LdapResultCode::NoSuchObject => "no_such_object",
        LdapResultCode::InsufficentAccessRights | LdapResultCode::UnwillingToPerform => "refused",
        LdapResultCode::Busy | LdapResultCode::Unavailable => "busy",
        LdapResultCode::ProtocolError | LdapResultCode::InvalidDNSyntax => "bad_request",
        _ => "other",
    })
}
