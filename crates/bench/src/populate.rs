//! `populate`: fills an installation's database with N generated members, each with an account
//! `u000000…` (one shared argon2id hash of the given password, so populating is quick), through
//! the real store.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use piratenldap_core::config::Config;
use piratenldap_core::ids::{MemberNumber, MembershipStatus, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use piratenldap_core::password::hash_password;
use piratenldap_store::NewAccount;

const STATES: &[&str] = &[
    "BY", "BE", "BW", "NW", "HH", "HE", "NI", "SN", "TH", "RP", "SH", "ST", "MV", "BB", "SL", "HB",
];

/// Runs `populate`.
pub async fn populate(config: PathBuf, members: usize, password: String, all_active: bool) -> Result<()> {
    let text = std::fs::read_to_string(&config).with_context(|| format!("reading {}", config.display()))?;
    let base = config.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let config = Config::parse(&text, &base, 1)?;
    let store = piratenldap_store::connect(&config.database_url).await?;
    let records = (0..members)
        .map(|i| {
            Ok(MemberRecord {
                number: MemberNumber::parse(&format!("B{i:07}"))?,
                state: StateCode::parse(STATES[i % STATES.len()])?,
                status: if !all_active && i % 50 == 49 {
                    MembershipStatus::Suspended
                } else {
                    MembershipStatus::Active
                },
                voting_right: i % 5 != 4,
                given_name: Some(format!("Given{i}")),
                surname: Some(format!("Surname{i}")),
                email: Some(format!("u{i:06}@bench.example.org")),
                joined: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let now = time::OffsetDateTime::now_utc();
    let started = Instant::now();
    let report = store.import_members(&records, false, false, now).await?;
    println!(
        "import: {} members in {:.2} s ({report:?})",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    let hash = hash_password(&password, &config.passwords)?;
    let started = Instant::now();
    for (i, rec) in records.iter().enumerate() {
        let account = NewAccount {
            uid: Uid::parse(&format!("u{i:06}"))?,
            member_number: rec.number.clone(),
            display_name: format!("User {i}"),
            password_hash: hash.clone(),
        };
        store.create_account(account, now).await?;
    }
    println!(
        "accounts: {} in {:.2} s",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
