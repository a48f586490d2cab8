//! Applying a change to a view (issue 17): the rows of what changed since the view's revision
//! ([`PartialSnapshot`], from the store's change log) turn the view into the next one without
//! rebuilding it. Only the changed people (and their pseudonymous entries), the changed groups'
//! own entries, the credentials, populations, certificates and index keys they touch are
//! redone; everything else is shared with the previous view (`Arc`s and persistent maps), so
//! a change costs what it changes. The previous view stays valid for the searches reading it.
//!
//! What this does not apply in place, it refuses with a reason, and the caller rebuilds the
//! view whole: a service added, changed or removed (populations of every entry), a group added
//! or removed, an account or member deleted (erasure), a gap in the revisions.

use std::collections::HashMap;
use std::sync::Arc;

use piratenldap_core::dn::fold_case_ignore;
use piratenldap_store::{Account, Group, GroupKind, Member, PartialSnapshot};

use crate::build::{group_entry, member_of, members_gid, person_entry};
use crate::credentials::{account_credential, certificate_binding};
use crate::entry::{Entry, EntryKind};
use crate::pseudonymous::pseudonymous_entry;
use crate::view::View;

/// Why a change was not applied in place: rebuild the view instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the change needs a whole rebuild: {0}")]
pub struct NeedsRebuild(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, NeedsRebuild> {
    Err(NeedsRebuild(why.into()))
}

impl View {
    /// The view after `change`, which must start at this view's revision. CPU work
    /// proportional to the change (plus copying the per-service population flags): run it off
    /// the async reactor all the same.
    pub fn apply(&self, change: &PartialSnapshot) -> Result<View, NeedsRebuild> {
        if change.from != self.revision {
            return refuse(format!(
                "the change starts at revision {}, the view is at {}",
                change.from, self.revision
            ));
        }
        if !change.service_names.is_empty() {
            return refuse("services changed");
        }
        let mut next = self.clone();
        next.revision = change.revision;
        next.apply_groups(change)?;
        let members: HashMap<&str, &Member> = change.members.iter().map(|m| (m.number.as_str(), m)).collect();
        for uid in &change.uids {
            let Some(account) = change.accounts.iter().find(|a| a.uid == *uid) else {
                return refuse(format!("account {uid} was deleted"));
            };
            let Some(member) = members.get(account.member_number.as_str()) else {
                return refuse(format!("the member of account {uid} is missing"));
            };
            next.apply_person(account, member, change)?;
        }
        for c in &change.certificates {
            next.certificates
                .insert(c.fingerprint.clone(), certificate_binding(&next.layout, c));
        }
        Ok(next)
    }

    /// New rows of existing groups: their entries (members are derived, so only the group's
    /// own attributes) and the rows people's memberOf is computed from.
    fn apply_groups(&mut self, change: &PartialSnapshot) -> Result<(), NeedsRebuild> {
        if change.group_names.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<Group> = self.groups.as_ref().clone();
        for name in &change.group_names {
            let Some(row) = change.groups.iter().find(|g| g.name == *name) else {
                return refuse(format!("group {name} was deleted"));
            };
            let Some(slot) = groups.iter_mut().find(|g| g.name == *name) else {
                return refuse(format!("group {name} is new"));
            };
            if slot.kind != row.kind {
                return refuse(format!("group {name} changed its kind"));
            }
            *slot = row.clone();
            let entry = group_entry(&self.layout, row);
            let Some(i) = self.entry_index(&entry.dn) else {
                return refuse(format!("group {name} has no entry"));
            };
            self.replace(i, entry)?;
        }
        self.groups = Arc::new(groups);
        Ok(())
    }

    /// The person entry of `account` (replaced or added), its credential, populations and
    /// pseudonymous entries.
    fn apply_person(
        &mut self,
        account: &Account,
        member: &Member,
        change: &PartialSnapshot,
    ) -> Result<(), NeedsRebuild> {
        let uid = account.uid.as_str();
        let groups = member_of(&self.layout, &self.groups, uid, member);
        let groups: Vec<(&str, &str)> = groups.iter().map(|(s, n)| (s.as_str(), n.as_str())).collect();
        let entry = person_entry(&self.layout, account, member, &groups, members_gid(&self.groups));
        let dn = entry.dn.clone();
        let folded = fold_case_ignore(uid);
        let same_uid = |j: &usize| {
            self.entries[*j]
                .values("uid")
                .iter()
                .any(|u| fold_case_ignore(u) == folded)
        };
        let i = match self.indexes.by_uid.get(&folded).iter().copied().find(same_uid) {
            Some(i) if matches!(self.entries[i].kind, EntryKind::Person { .. }) => {
                self.replace(i, entry)?;
                i
            }
            Some(_) => return refuse(format!("uid {uid} names another kind of entry")),
            None => self.append(entry),
        };
        let admin = self.groups.iter().any(|g| {
            g.name.as_str() == "admins"
                && g.kind == GroupKind::Manual
                && g.manual_members.iter().any(|u| u.as_str() == uid)
        });
        let apps = change
            .app_passwords
            .iter()
            .filter(|p| p.uid == account.uid)
            .map(|p| (p.label.clone(), p.hash.clone()))
            .collect();
        let active = member.status == piratenldap_core::ids::MembershipStatus::Active;
        let credential = account_credential(account.clone(), dn.clone(), admin, active, apps);
        self.credentials.insert(dn, Arc::new(credential));
        self.apply_populations(i)
    }

    /// The flags of person `i` in every population, and its pseudonymous entries.
    fn apply_populations(&mut self, i: usize) -> Result<(), NeedsRebuild> {
        let populations = Arc::clone(&self.populations);
        for p in populations.iter() {
            let admitted = p.admits(&self.entries[i]);
            if !p.pseudonymous {
                self.set_flag(&p.service_dn, i, admitted);
                continue;
            }
            self.set_flag(&p.service_dn, i, false);
            let Some(key) = self.layout.pseudonym_key.clone() else {
                continue;
            };
            let Some(shadow) = pseudonymous_entry(&self.layout, &key, &p.name, &self.entries[i]) else {
                continue;
            };
            let j = match self.entry_index(&shadow.dn) {
                Some(j) => {
                    self.replace(j, shadow)?;
                    j
                }
                None if admitted => self.append(shadow),
                None => continue,
            };
            self.set_flag(&p.service_dn, j, admitted);
        }
        Ok(())
    }

    fn set_flag(&mut self, service_dn: &str, i: usize, value: bool) {
        if let Some(flags) = self.service_scope.get_mut(service_dn)
            && flags.get(i).copied() != Some(value)
        {
            flags.resize_to(i + 1, false);
            flags.set(i, value);
        }
    }

    /// Puts `entry` at position `i` (same DN) and moves its index keys.
    fn replace(&mut self, i: usize, entry: Entry) -> Result<(), NeedsRebuild> {
        let Some(old) = self.entries.set(i, Arc::new(entry)) else {
            return refuse(format!("the index names entry {i}, past the end"));
        };
        self.indexes.update(i, Some(&old), &self.entries[i]);
        Ok(())
    }

    /// Adds `entry` at the end; every population's flags grow with it (not admitted).
    fn append(&mut self, entry: Entry) -> usize {
        let i = self.entries.len();
        self.entries.push_back(Arc::new(entry));
        self.indexes.update(i, None, &self.entries[i]);
        for flags in self.service_scope.values_mut() {
            flags.resize_to(i + 1, false);
        }
        i
    }
}
