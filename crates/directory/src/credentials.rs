//! Bind credentials and client certificates of a view: what each bind DN (a member's entry,
//! a service) authenticates with, the principal a bind makes, and which certificate maps to
//! which account for SASL EXTERNAL. Held as persistent maps of shared values, so a view that
//! changes one account copies one credential (issue 17).

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use piratenldap_core::Dn;
use piratenldap_core::ids::{Name, Uid};
use piratenldap_store::{Account, AppPassword, Certificate, Group, Service};
use rayon::prelude::*;

use crate::access::{Principal, ServiceAccess};
use crate::build::Layout;
use crate::dn_map::DnMap;
use crate::entry::{Entry, EntryKind};

/// Whose credential it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A member's account.
    Account(Uid),
    /// A service bind account.
    Service(Name),
}

impl Owner {
    /// The uid or the service's name (the audit trail's subject).
    pub fn name(&self) -> &str {
        match self {
            Owner::Account(uid) => uid.as_str(),
            Owner::Service(name) => name.as_str(),
        }
    }
}

/// What a bind DN may authenticate with.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The stored password hash.
    pub hash: String,
    /// Binds are refused.
    pub locked: bool,
    /// The principal the connection becomes after a successful bind.
    pub principal: Principal,
    /// Whose it is (where a rehashed or changed password is stored).
    pub owner: Owner,
    /// The sealed TOTP secret, when binds need a code.
    pub totp: Option<String>,
    /// App passwords: (label, argon2 hash).
    pub app_passwords: Vec<(String, String)>,
}

/// A client certificate as SASL EXTERNAL sees it.
#[derive(Debug, Clone)]
pub struct CertBinding {
    /// The account's DN.
    pub dn: Dn,
    /// Revoked.
    pub revoked: bool,
    /// Validity start.
    pub not_before: time::OffsetDateTime,
    /// Validity end.
    pub not_after: time::OffsetDateTime,
}

/// Credentials by bind DN (found by its normalised form).
pub(crate) type Credentials = DnMap<Arc<Credential>>;

/// Client certificates by SHA-256 fingerprint (lower-case hex).
pub(crate) type Certificates = imbl::OrdMap<String, CertBinding>;

/// What an account's credential needs besides the account.
struct AccountExtras {
    /// Its entry's DN and whether its member is active (`None`: no entry).
    person: Option<(Dn, bool)>,
    admin: bool,
    apps: Vec<(String, String)>,
}

/// What every bind DN (people and services) may authenticate with, by normalised DN. Takes
/// the accounts and app passwords: their hashes and secrets move into the credentials instead
/// of being copied (at 100 000 members, 10 MB less memory touched at start-up, issue 17).
///
/// `people` are the person entries built from `accounts`, in the same order (an account whose
/// member record is missing has none): each account is paired with its entry by walking both,
/// without a map of either.
pub(crate) fn credentials(
    layout: &Layout,
    accounts: Vec<Account>,
    app_passwords: Vec<AppPassword>,
    groups: &[Group],
    services: &[Service],
    people: &[Arc<Entry>],
) -> Credentials {
    let admins: HashSet<&str> = groups
        .iter()
        .filter(|g| g.name.as_str() == "admins")
        .flat_map(|g| g.manual_members.iter().map(|u| u.as_str()))
        .collect();
    let mut apps: HashMap<Uid, Vec<(String, String)>> = HashMap::default();
    for p in app_passwords {
        apps.entry(p.uid).or_default().push((p.label, p.hash));
    }
    let mut people = people.iter().filter_map(|e| match &e.kind {
        EntryKind::Person { uid, active, .. } => Some((uid.as_str(), &e.dn, *active)),
        _ => None,
    });
    let mut next_person = people.next();
    // What each account's credential needs besides the account, in the accounts' order.
    let mut pairing: Vec<AccountExtras> = Vec::with_capacity(accounts.len());
    for a in &accounts {
        let person = next_person.filter(|(uid, ..)| *uid == a.uid.as_str());
        if person.is_some() {
            next_person = people.next();
        }
        pairing.push(AccountExtras {
            person: person.map(|(_, dn, active)| (dn.clone(), active)),
            admin: admins.contains(a.uid.as_str()),
            apps: apps.remove(&a.uid).unwrap_or_default(),
        });
    }
    // An account whose member record is missing has no entry; its credential is locked.
    let mut all: Vec<(Dn, Arc<Credential>)> = accounts
        .into_par_iter()
        .zip(pairing)
        .map(|(a, x)| {
            let (dn, active) = x.person.unwrap_or_else(|| (layout.person_dn(a.uid.as_str()), false));
            (dn.clone(), Arc::new(account_credential(a, dn, x.admin, active, x.apps)))
        })
        .collect();
    for s in services {
        let credential = service_credential(layout, s);
        all.push((credential.principal_dn_key(), Arc::new(credential)));
    }
    DnMap::from_pairs(all)
}

/// The credential of account `a` whose entry is `dn`: an admin's when `admin`; locked when the
/// account is, or its member is not active (a suspended one, by the one switch or the
/// membership administration's CSV, is locked out like one who has left, app passwords, SASL
/// EXTERNAL and open sessions included).
pub(crate) fn account_credential(
    a: Account,
    dn: Dn,
    admin: bool,
    active: bool,
    app_passwords: Vec<(String, String)>,
) -> Credential {
    let principal = if admin {
        Principal::Admin { dn }
    } else {
        Principal::Member { dn }
    };
    Credential {
        hash: a.password_hash,
        locked: a.locked || !active,
        principal,
        owner: Owner::Account(a.uid),
        totp: a.totp_secret.filter(|_| a.totp_enabled),
        app_passwords,
    }
}

/// The credential of service `s`.
pub(crate) fn service_credential(layout: &Layout, s: &Service) -> Credential {
    let dn = layout.service_dn(s.profile.name.as_str());
    let access = Arc::new(ServiceAccess::new(s.profile.clone()));
    Credential {
        hash: s.password_hash.clone(),
        locked: false,
        principal: Principal::Service { dn, access },
        owner: Owner::Service(s.profile.name.clone()),
        totp: None,
        app_passwords: Vec::new(),
    }
}

impl Credential {
    /// The DN it is stored under.
    pub(crate) fn principal_dn_key(&self) -> Dn {
        self.principal.dn().cloned().unwrap_or_else(Dn::root)
    }
}

/// Every client certificate of a snapshot.
pub(crate) fn certificates(layout: &Layout, certs: &[Certificate]) -> Certificates {
    certs
        .iter()
        .map(|c| (c.fingerprint.clone(), certificate_binding(layout, c)))
        .collect()
}

/// What SASL EXTERNAL needs of one certificate.
pub(crate) fn certificate_binding(layout: &Layout, c: &Certificate) -> CertBinding {
    CertBinding {
        dn: layout.person_dn(c.uid.as_str()),
        revoked: c.revoked_at.is_some(),
        not_before: c.not_before,
        not_after: c.not_after,
    }
}
