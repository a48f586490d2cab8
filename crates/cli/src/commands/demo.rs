//! `demo`: a directory with made-up members, accounts, groups and one service, served on the
//! configured ports, with instructions that work as printed.

use std::path::Path;

use anyhow::{Context as _, Result};
use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use piratenldap_store::{NewAccount, ServiceProfile};

use super::now;
use super::serve::run_server;
use crate::args::InitArgs;
use crate::context::{Ctx, hash_password, open};

/// Password of the demo service `wiki`.
const WIKI_PASSWORD: &str = "wiki-demo-password";
/// Password of the named demo accounts (alice, bob, …) and of every generated one.
const MEMBER_PASSWORD: &str = "demo-password";
/// alice's TOTP secret in the demo (she is an admin, and admins must have TOTP).
const DEMO_TOTP_SECRET: &[u8] = b"piratenldap-demo-totp";
/// How many generated members the demo has (enough to page through).
const DEMO_MEMBERS: usize = 300;

const GIVEN: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannes", "Ida", "Jonas", "Käthe", "Lukas", "Mia",
    "Niklas", "Olga", "Paul",
];
const SURNAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
];
const STATES: &[&str] = &["BY", "BE", "NW", "HH", "SN", "BW"];

/// Runs `demo`.
pub async fn demo(data_dir: &Path) -> Result<()> {
    let config_path = data_dir.join("piratenldap.toml");
    if !config_path.exists() {
        crate::files::create_private_dir(data_dir)?;
        let args = InitArgs {
            data_dir: Some(".".into()),
            base_dn: "dc=example,dc=org".into(),
            org: "Piratenpartei Demo".into(),
            hosts: Vec::new(),
            ldap_listen: "127.0.0.1:3389".into(),
            ldaps_listen: "127.0.0.1:6636".into(),
            http_listen: "127.0.0.1:8080".into(),
            database_url: None,
            tls_cert: None,
            tls_key: None,
        };
        super::init::init(&config_path, &args).await?;
    }
    let ctx = open(&config_path).await?;
    if ctx.store.members().await?.is_empty() {
        println!("Loading the demo directory ({DEMO_MEMBERS} members)…");
        load(&ctx).await?;
    }
    let base = ctx.config.base_dn.to_string();
    let listen = ctx.config.ldap.listen;
    let config_shown = config_path.display().to_string();
    run_server(ctx, |bound| {
        let ldap = bound.ldap;
        println!();
        println!("piratenldap demo is serving {base} on ldap://{ldap} (Ctrl-C stops it).");
        println!("Try, in another terminal (apt-get install ldap-utils):");
        println!();
        println!("  ldapsearch -x -H ldap://{ldap} -D 'cn=wiki,ou=services,{base}' -w {WIKI_PASSWORD} -b 'ou=people,{base}' '(uid=alice)'");
        println!("  ldapwhoami -x -H ldap://{ldap} -D 'uid=bob,ou=people,{base}' -w {MEMBER_PASSWORD}");
        println!("  ldapsearch -x -H ldap://{ldap} -b '' -s base '+'");
        println!();
        println!("Members alice, bob, carol and {DEMO_MEMBERS} generated ones all use the password {MEMBER_PASSWORD}.");
        println!(
            "alice is an admin, so she binds with the password immediately followed by her TOTP code (secret {}).",
            piratenldap_core::totp::secret_base32(DEMO_TOTP_SECRET)
        );
        println!("The CLI works on the same data: piratenldap --config {config_shown} member list");
        let _ = listen;
    })
    .await
}

fn demo_records() -> Result<Vec<MemberRecord>> {
    (0..DEMO_MEMBERS + 3)
        .map(|i| {
            let given = GIVEN[i % GIVEN.len()];
            let surname = SURNAMES[(i / GIVEN.len()) % SURNAMES.len()];
            Ok(MemberRecord {
                number: MemberNumber::parse(&format!("{}", 100_000 + i))?,
                state: StateCode::parse(STATES[i % STATES.len()])?,
                status: match i % 25 {
                    7 => MembershipStatus::Suspended,
                    13 => MembershipStatus::Left,
                    _ => MembershipStatus::Active,
                },
                voting_right: i % 4 != 3,
                given_name: Some(given.to_string()),
                surname: Some(surname.to_string()),
                email: Some(format!("member{i}@example.org")),
                joined: None,
            })
        })
        .collect()
}

async fn load(ctx: &Ctx) -> Result<()> {
    let records = demo_records()?;
    ctx.store.import_members(&records, false, false, now()).await?;
    // One hash for every demo account keeps startup quick; real accounts each get their own salt.
    let hash = hash_password(ctx, MEMBER_PASSWORD).await?;
    let named = ["alice", "bob", "carol"];
    for (i, rec) in records.iter().enumerate() {
        if rec.status == MembershipStatus::Left {
            continue;
        }
        let (uid, display) = match named.get(i) {
            Some(n) => (n.to_string(), format!("{}{}", n[..1].to_uppercase(), &n[1..])),
            None => (format!("member{i}"), format!("Mitglied {i}")),
        };
        let account = NewAccount {
            uid: Uid::parse(&uid)?,
            member_number: rec.number.clone(),
            display_name: display,
            password_hash: hash.clone(),
        };
        ctx.store.create_account(account, now()).await?;
    }
    // Admins must have TOTP: alice gets a fixed demo secret (never do this for real accounts).
    let alice = Uid::parse("alice")?;
    let key_path = &ctx.config.secret_key_file;
    let key_text = std::fs::read_to_string(key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let key = piratenldap_core::sealed::SealKey::from_hex(&key_text)?;
    ctx.store
        .set_totp_secret(&alice, &key.seal(DEMO_TOTP_SECRET), "demo", now())
        .await?;
    ctx.store.set_totp_enabled(&alice, true, "demo", now()).await?;
    ctx.store
        .add_group_member(&Name::parse("admins")?, &alice, now())
        .await?;
    let wiki_admins = Name::parse("wiki-admins")?;
    ctx.store
        .create_group(&wiki_admins, Some("Administrators of the wiki"), None, now())
        .await?;
    ctx.store.add_group_member(&wiki_admins, &alice, now()).await?;
    ctx.store
        .add_group_member(&wiki_admins, &Uid::parse("bob")?, now())
        .await?;
    let wiki = ServiceProfile {
        name: Name::parse("wiki")?,
        attrs: None,
        members_of: None,
        real_names: false,
        include_inactive: false,
        pseudonymous: false,
        chapter: None,
    };
    ctx.store
        .add_service(&wiki, &hash_password(ctx, WIKI_PASSWORD).await?, now())
        .await?;
    let layout = crate::context::layout(&ctx.config)?;
    println!(
        "Demo data loaded; the service account is {}.",
        layout.service_dn("wiki")
    );
    Ok(())
}
