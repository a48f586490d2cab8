//! `populate`: fills an installation's database with N generated members, each with an account
//! `u000000…` (one shared argon2id hash of the given password, so populating is quick), through
//! the real store.

use std::path::{Path, PathBuf};
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

/// The `n` generated members: numbers `B0000000…`, states in turn, every fifth without a
/// voting right, every 50th suspended unless `all_active`.
pub(crate) fn generated_members(n: usize, all_active: bool) -> Result<Vec<MemberRecord>> {
    (0..n)
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
        .collect()
}

/// Runs `members-csv`: writes the members `populate` would import as a member CSV (DESIGN.md
/// "CSV"), so that `member import` itself can be timed on them.
pub fn write_members_csv(out: &Path, members: usize, all_active: bool) -> Result<()> {
    let mut csv = String::from("member_number,state,status,voting_right,given_name,surname,email\n");
    for m in generated_members(members, all_active)? {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            m.number,
            m.state,
            m.status.as_str(),
            m.voting_right,
            m.given_name.unwrap_or_default(),
            m.surname.unwrap_or_default(),
            m.email.unwrap_or_default()
        ));
    }
    std::fs::write(out, csv).with_context(|| format!("writing {}", out.display()))
}

/// Runs `populate`.
pub async fn populate(config: PathBuf, members: usize, password: String, all_active: bool) -> Result<()> {
    let text = std::fs::read_to_string(&config).with_context(|| format!("reading {}", config.display()))?;
    let base = config.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let config = Config::parse(&text, &base, 1)?;
    let store = piratenldap_store::connect(&config.database_url).await?;
    let records = generated_members(members, all_active)?;
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
