//! A member's own data (GDPR art. 15, issue 16): everything the system holds about one
//! member as one JSON document: the record, the account, groups, the letters' tokens (state
//! and dates, never the token), certificates, the second factor and app passwords (labels and
//! dates, never secrets or hashes), the audit events by or about them, and which services
//! receive which of their attributes under today's profiles (read through each service's view
//! with `View::readable`, the rule searches use). `piratenldap member export NUMBER` and the
//! member's own download on the web (`/account/export`) both call [`member_export`].

use piratenldap_core::ids::MemberNumber;
use piratenldap_directory::entry::EntryKind;
use piratenldap_directory::{Principal, View};
use piratenldap_store::{Store, StoreError};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No member with this number.
    #[error("no member {0}")]
    NoSuchMember(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn stamp(t: OffsetDateTime) -> Value {
    t.format(&Rfc3339).map_or(Value::Null, Value::String)
}

fn stamp_opt(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, stamp)
}

/// Everything about member `number` as of `now`, as JSON.
pub async fn member_export(
    store: &dyn Store,
    view: &View,
    number: &MemberNumber,
    now: OffsetDateTime,
) -> Result<Value, ExportError> {
    let member = store
        .member(number)
        .await?
        .ok_or_else(|| ExportError::NoSuchMember(number.to_string()))?;
    let account = store.account_of_member(number).await?;
    let tokens = store.tokens_of_member(number).await?;
    let mut audit = Vec::new();
    for e in store.audit_events(Some(number.as_str()), None).await? {
        audit.push(e);
    }
    let (account_json, groups, certificates, services) = match &account {
        None => (Value::Null, Vec::new(), Vec::new(), Vec::new()),
        Some(a) => {
            audit.extend(store.audit_events(Some(a.uid.as_str()), None).await?);
            let app_passwords: Vec<Value> = store
                .app_passwords(&a.uid)
                .await?
                .into_iter()
                .map(|p| json!({"label": p.label, "created_at": stamp(p.created_at), "last_used_at": stamp_opt(p.last_used_at)}))
                .collect();
            let certificates: Vec<Value> = store
                .certificates()
                .await?
                .into_iter()
                .filter(|c| c.uid == a.uid)
                .map(|c| {
                    json!({
                        "serial": c.serial, "role": c.role, "not_before": stamp(c.not_before),
                        "not_after": stamp(c.not_after), "issued_at": stamp(c.issued_at),
                        "revoked_at": stamp_opt(c.revoked_at), "revoke_reason": c.revoke_reason,
                    })
                })
                .collect();
            let account_json = json!({
                "uid": a.uid.as_str(),
                "display_name": a.display_name,
                "locked": a.locked,
                "uid_number": a.uid_number,
                "entry_uuid": a.entry_uuid,
                "created_at": stamp(a.created_at),
                "modified_at": stamp(a.modified_at),
                "second_factor": {"totp_enabled": a.totp_enabled, "totp_enrolled": a.totp_secret.is_some()},
                "app_passwords": app_passwords,
            });
            let (groups, services) = seen_by_services(view, a.uid.as_str());
            (account_json, groups, certificates, services)
        }
    };
    audit.sort_by_key(|e| e.at);
    audit.dedup_by(|a, b| {
        a.at == b.at && a.action == b.action && a.actor == b.actor && a.subject == b.subject && a.detail == b.detail
    });
    let audit: Vec<Value> = audit
        .into_iter()
        .map(|e| json!({"at": stamp(e.at), "actor": e.actor, "action": e.action, "subject": e.subject, "detail": e.detail}))
        .collect();
    let tokens: Vec<Value> = tokens
        .into_iter()
        .map(|t| {
            json!({"kind": t.kind.as_str(), "state": t.state, "issued_at": stamp(t.issued_at),
                   "expires_at": stamp(t.expires_at), "used_at": stamp_opt(t.used_at)})
        })
        .collect();
    Ok(json!({
        "generated_at": stamp(now),
        "member": {
            "number": member.number.as_str(),
            "state": member.state.as_str(),
            "status": member.status.as_str(),
            "voting_right": member.voting_right,
            "given_name": member.given_name,
            "surname": member.surname,
            "email": member.email,
            "joined": member.joined.map(|d| d.to_string()),
        },
        "account": account_json,
        "groups": groups,
        "tokens": tokens,
        "certificates": certificates,
        "services": services,
        "audit": audit,
    }))
}

/// The groups of the person `uid` and, per service, whether it sees the entry and which
/// attributes it reads (through the service's view, as its searches do).
fn seen_by_services(view: &View, uid: &str) -> (Vec<String>, Vec<Value>) {
    let Some(i) = view.entry_index(&view.layout.person_dn(uid)) else {
        return (Vec::new(), Vec::new());
    };
    let groups: Vec<String> = view.entries[i]
        .values("memberOf")
        .iter()
        .filter_map(|dn| {
            piratenldap_core::Dn::parse(dn)
                .ok()?
                .rdn()?
                .value_of("cn")
                .map(str::to_string)
        })
        .collect();
    let services = view
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Service { name } => Some((name.clone(), e.dn.clone())),
            _ => None,
        })
        .filter_map(|(name, dn)| {
            let principal = view.credential(&dn)?.principal.clone();
            if !matches!(principal, Principal::Service { .. }) {
                return None;
            }
            // A pseudonymous service sees the member's pseudonymous entry instead.
            let seen = view.seen_by_service(&principal, i);
            let attributes: Vec<&str> = match seen {
                Some(j) => view.entries[j]
                    .attrs()
                    .filter(|a| view.readable(&principal, j, a.kind).is_some())
                    .map(|a| a.kind.name())
                    .collect(),
                None => Vec::new(),
            };
            let pseudonymous = seen.is_some_and(|j| j != i);
            Some(json!({
                "service": name,
                "sees_entry": seen.is_some(),
                "pseudonymous": pseudonymous,
                "attributes": attributes,
            }))
        })
        .collect();
    (groups, services)
}
