//! `export --ldif` and `import --ldif FILE`: interchange with other LDAP servers. Export writes
//! the tree as an admin sees it (plus password hashes with `--with-secrets`, in OpenLDAP's
//! `{ARGON2}` form); import reads an OpenLDAP `slapcat` export of people (inetOrgPerson,
//! posixAccount) and groups (groupOfNames, groupOfUniqueNames, posixGroup) with their password
//! hashes, so members keep their passwords; a legacy hash is replaced at the next bind.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use piratenldap_core::dn::Dn;
use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use piratenldap_core::ldif::{self, LdifEntry};
use piratenldap_directory::build::build_entries;
use piratenldap_store::{ImportedGroup, ImportedPerson};

use super::{actor, now};
use crate::context::open;

/// Runs `export --ldif [--with-secrets] [--out FILE]`.
pub async fn export(config: &Path, with_secrets: bool, out: Option<&Path>) -> Result<()> {
    let ctx = open(config).await?;
    let snap = ctx.store.snapshot().await.context("reading the database")?;
    let layout = crate::context::layout(&ctx.config)?;
    let mut hashes = std::collections::HashMap::new();
    if with_secrets {
        for a in &snap.accounts {
            hashes.insert(layout.person_dn(a.uid.as_str()).to_string(), a.password_hash.as_str());
        }
        for s in &snap.services {
            hashes.insert(
                layout.service_dn(s.profile.name.as_str()).to_string(),
                s.password_hash.as_str(),
            );
        }
    }
    let mut text = String::from("version: 1\n");
    for entry in build_entries(&layout, &snap, true) {
        text.push('\n');
        ldif::write_line(&mut text, "dn", &entry.dn_string);
        for attr in entry.attrs() {
            for value in &attr.values {
                ldif::write_line(&mut text, attr.kind.name(), value);
            }
        }
        if let Some(hash) = hashes.get(entry.dn_string.as_ref()) {
            ldif::write_line(&mut text, "userPassword", &openldap_hash(hash));
        }
    }
    // Member data (real names, member numbers, addresses) is personal data: private either way.
    match out {
        Some(path) => crate::files::write_secret(path, &text)?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// Our argon2 PHC strings as OpenLDAP's argon2 module stores them; legacy hashes as they are.
fn openldap_hash(hash: &str) -> String {
    if hash.starts_with("$argon2") {
        format!("{{ARGON2}}{hash}")
    } else {
        hash.to_string()
    }
}

/// Options of `import --ldif`.
pub struct ImportOptions {
    /// The LDIF file.
    pub file: PathBuf,
    /// State association for people without pirateStateAssociation or st.
    pub state: Option<String>,
    /// Check and report, change nothing.
    pub dry_run: bool,
}

/// Runs `import --ldif FILE`.
pub async fn import(config: &Path, opts: &ImportOptions) -> Result<()> {
    let text = std::fs::read_to_string(&opts.file).with_context(|| format!("reading {}", opts.file.display()))?;
    let entries = ldif::parse(&text).with_context(|| format!("{} is not valid LDIF", opts.file.display()))?;
    let default_state = opts
        .state
        .as_deref()
        .map(StateCode::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--state: {e}"))?;
    let (mut people, mut groups, mut errors, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
    for entry in &entries {
        let origin = format!("line {}: {}", entry.line, entry.dn);
        let result = if entry.has_class("inetOrgPerson") || entry.has_class("posixAccount") {
            person(entry, default_state.as_ref(), &origin).map(|p| people.push(p))
        } else if entry.has_class("groupOfNames")
            || entry.has_class("groupOfUniqueNames")
            || entry.has_class("posixGroup")
        {
            group(entry, &origin).map(|g| groups.push(g))
        } else {
            skipped += 1;
            Ok(())
        };
        if let Err(e) = result {
            errors.push(format!("{origin}: {e}"));
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} has {} entries that cannot be imported; nothing was changed:\n  {}",
            opts.file.display(),
            errors.len(),
            errors.join("\n  ")
        );
    }
    let ctx = open(config).await?;
    let report = ctx
        .store
        .import_directory(&people, &groups, opts.dry_run, &actor(), now())
        .await?;
    for note in &report.notes {
        println!("note: {note}");
    }
    println!(
        "{}{} members, {} accounts ({} already there), {} groups and {} group memberships added; {} other entries (containers, services, …) skipped.",
        if opts.dry_run { "dry run, nothing changed: " } else { "" },
        report.members_added,
        report.accounts_added,
        report.accounts_unchanged,
        report.groups_added,
        report.memberships_added,
        skipped
    );
    Ok(())
}

/// A person entry: the member number from pirateMemberNumber or employeeNumber, the state
/// from pirateStateAssociation, st or `--state`, the password hash as stored.
fn person(e: &LdifEntry, default_state: Option<&StateCode>, origin: &str) -> Result<ImportedPerson> {
    let uid = e.first("uid").context("no uid")?;
    let uid = Uid::parse(uid).map_err(|err| anyhow::anyhow!("{err}"))?;
    let number = e
        .first("pirateMemberNumber")
        .or_else(|| e.first("employeeNumber"))
        .context("no member number (pirateMemberNumber or employeeNumber)")?;
    let number = MemberNumber::parse(number).map_err(|err| anyhow::anyhow!("{err}"))?;
    let state = match e
        .first("pirateStateAssociation")
        .or_else(|| e.first("st"))
        .and_then(|s| StateCode::parse(s).ok())
    {
        Some(s) => s,
        None => default_state
            .cloned()
            .context("no state association (pirateStateAssociation or st); give one with --state")?,
    };
    let status = match e.first("pirateMembershipStatus") {
        Some(s) => MembershipStatus::parse(s).map_err(|err| anyhow::anyhow!("pirateMembershipStatus: {err}"))?,
        None => MembershipStatus::Active,
    };
    let hash = e
        .first("userPassword")
        .context("no userPassword (the member can activate with a token instead)")?;
    let upper = hash.to_ascii_uppercase();
    let supported =
        ["{SSHA}", "{ARGON2}", "{CRYPT}"].iter().any(|s| upper.starts_with(s)) || hash.starts_with("$argon2");
    if !supported {
        let scheme = hash
            .split('}')
            .next()
            .filter(|_| hash.starts_with('{'))
            .map(|s| format!("{s}}}"));
        bail!(
            "userPassword scheme {} is not supported (only {{SSHA}}, {{ARGON2}}, {{CRYPT}})",
            scheme.unwrap_or_else(|| "(none: clear text)".into())
        );
    }
    let display_name = e
        .first("displayName")
        .or_else(|| e.first("cn"))
        .unwrap_or(uid.as_str())
        .to_string();
    let uid_number = e
        .first("uidNumber")
        .map(|n| {
            n.parse::<i64>()
                .with_context(|| format!("uidNumber {n:?} is not a number"))
        })
        .transpose()?;
    Ok(ImportedPerson {
        member: MemberRecord {
            number,
            state,
            status,
            voting_right: e
                .first("pirateVotingRight")
                .is_some_and(|v| v.eq_ignore_ascii_case("TRUE")),
            given_name: e.first("givenName").map(str::to_string),
            surname: e.first("sn").map(str::to_string),
            email: e.first("mail").map(str::to_string),
            joined: None,
        },
        uid,
        display_name,
        password_hash: hash.to_string(),
        uid_number,
        origin: origin.to_string(),
    })
}

/// A group entry: members from member/uniqueMember DNs (their uid) and memberUid.
fn group(e: &LdifEntry, origin: &str) -> Result<ImportedGroup> {
    let cn = e.first("cn").context("no cn")?;
    let name = Name::parse(&cn.to_ascii_lowercase()).map_err(|err| anyhow::anyhow!("group name {cn:?}: {err}"))?;
    let mut members = Vec::new();
    for dn in e.values("member").chain(e.values("uniqueMember")) {
        let parsed = Dn::parse(dn).map_err(|err| anyhow::anyhow!("member {dn:?}: {err}"))?;
        if let Some(uid) = uid_of(&parsed) {
            members.push(uid);
        }
    }
    for uid in e.values("memberUid") {
        if let Ok(uid) = Uid::parse(uid) {
            members.push(uid);
        }
    }
    members.sort();
    members.dedup();
    Ok(ImportedGroup {
        name,
        description: e.first("description").map(str::to_string),
        gid_number: e.first("gidNumber").and_then(|n| n.parse().ok()),
        members,
        origin: origin.to_string(),
    })
}

/// The uid in a DN's first RDN (`uid=anna,ou=people,…`), if it has one.
fn uid_of(dn: &Dn) -> Option<Uid> {
    Uid::parse(dn.rdn()?.value_of("uid")?).ok()
}
