//! Claims from the directory, read as the client's service reads it over LDAP: every value
//! goes through [`View::readable`] with the service's principal, so a client receives exactly
//! what its profile lets its LDAP bind read (real names only with `--real-names`, groups only
//! those it may see, nobody outside its `--members-of` population).
//!
//! Scopes pick among what the profile allows: `profile` (preferred_username, name, and with
//! real names given_name, family_name), `email`, `groups`, `membership` (state association,
//! voting right, and with real names the member number).

use piratenldap_core::Dn;
use piratenldap_core::schema::{self, AttributeType};
use piratenldap_directory::entry::EntryKind;
use piratenldap_directory::{Principal, View};
use serde_json::{Map, Value};

use crate::subject::subject;

/// The scopes the provider knows.
pub const SCOPES: &[&str] = &["openid", "profile", "email", "groups", "membership", "offline_access"];

/// The claims the provider may issue (discovery's `claims_supported`).
pub const CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "sid",
    "preferred_username",
    "name",
    "given_name",
    "family_name",
    "email",
    "groups",
    "state_association",
    "voting_right",
    "member_number",
];

/// Why a member gets no claims for a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The client's service is not in the view (removed, or the view is older than it).
    #[error("this service is not registered")]
    UnknownClient,
    /// The member is not in the service's population (`--members-of`, status rules).
    #[error("this service is not open to you")]
    NotInPopulation,
}

/// Which claim comes from which attribute, under which scope.
const MAPPED: &[(&str, &str, &str)] = &[
    ("profile", "preferred_username", "uid"),
    ("profile", "name", "displayName"),
    ("profile", "given_name", "givenName"),
    ("profile", "family_name", "sn"),
    ("email", "email", "mail"),
    ("membership", "state_association", "pirateStateAssociation"),
    ("membership", "member_number", "pirateMemberNumber"),
];

fn attribute(name: &str) -> Option<&'static AttributeType> {
    schema::attribute(name)
}

/// The claims about the member at `person` for `client`, whose service entry is `service`,
/// with the granted `scopes`. `pairwise_key` is set for pairwise clients.
pub fn claims(
    view: &View,
    client: &str,
    service: &Dn,
    person: &Dn,
    scopes: &[&str],
    pairwise_key: Option<&[u8]>,
) -> Result<Map<String, Value>, Refused> {
    let principal = &view.credential(service).ok_or(Refused::UnknownClient)?.principal;
    if !matches!(principal, Principal::Service { .. }) {
        return Err(Refused::UnknownClient);
    }
    // A pseudonymous client reads the member's pseudonymous entry; its pseudonym is the `sub`.
    let i = view
        .entry_index(person)
        .and_then(|i| view.seen_by_service(principal, i))
        .ok_or(Refused::NotInPopulation)?;
    let entry = &view.entries[i];
    let sub = match &entry.kind {
        EntryKind::Pseudonym(_) => entry.values("uid").first().map(|v| v.to_string()),
        _ => entry
            .values("entryUUID")
            .first()
            .map(|uuid| subject(uuid, client, pairwise_key)),
    };
    let mut out = Map::new();
    out.insert("sub".into(), Value::String(sub.ok_or(Refused::NotInPopulation)?));
    let first = |name: &str| -> Option<String> {
        let kind = attribute(name)?;
        view.readable(principal, i, kind)?
            .attr()
            .values
            .first()
            .map(str::to_string)
    };
    for (scope, claim, attr) in MAPPED {
        if scopes.contains(scope)
            && let Some(v) = first(attr)
        {
            out.insert((*claim).into(), Value::String(v));
        }
    }
    if scopes.contains(&"membership")
        && let Some(v) = first("pirateVotingRight")
    {
        out.insert("voting_right".into(), Value::Bool(v.eq_ignore_ascii_case("TRUE")));
    }
    if scopes.contains(&"groups")
        && let Some(member_of) = attribute("memberOf").and_then(|k| view.readable(principal, i, k))
    {
        let member_of = member_of.attr();
        let groups: Vec<Value> = member_of
            .values
            .iter()
            .zip(member_of.normalised())
            .filter(|(_, n)| view.dn_visible(principal, n))
            .filter_map(|(v, _)| Some(Value::String(Dn::parse(v).ok()?.rdn()?.value_of("cn")?.to_string())))
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    Ok(out)
}

/// The granted scopes of a request: those asked for that the provider knows, `openid` first.
pub fn granted(requested: &str) -> Vec<&'static str> {
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    SCOPES.iter().copied().filter(|s| asked.contains(s)).collect()
}
