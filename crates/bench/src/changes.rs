//! `changes`: what one change costs the in-memory view (issue 17), measured in this process
//! without a server or database: a directory of N generated members is built whole once, then
//! 1 000 changes of the kinds an election night brings (a lock or unlock, a password change, an
//! activation) are applied in place with `View::apply`, each timed on this thread's CPU clock.
//! A whole rebuild of the same directory is timed beside them. Prints one JSON line.

use std::time::Instant;

use anyhow::Result;
use piratenldap_core::Dn;
use piratenldap_core::ids::{MemberNumber, Name, StateCode, Uid};
use piratenldap_core::service_pseudonym::PseudonymKey;
use piratenldap_directory::{Layout, View};
use piratenldap_store::{Account, Group, GroupKind, PartialSnapshot, Service, ServiceProfile, Snapshot};
use serde_json::json;
use time::OffsetDateTime;

use crate::populate::generated_members;

/// Members without an account at the start, activated during the run.
const RESERVED: usize = 1_000;

/// Runs `changes`.
pub fn changes(members: usize, count: usize, pseudonymous: bool) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let mut snap = snapshot(members, pseudonymous, now)?;
    let layout =
        Layout::new(Dn::parse("dc=bench,dc=example,dc=org")?, "Bench").with_pseudonym_key(PseudonymKey::new([9; 32]));
    let rss_before = rss_kib();
    // Where the bytes go: the entries alone, then the whole view (indexes, credentials, flags).
    let entries = piratenldap_directory::build::build_entries(&layout, &snap, false);
    let rss_entries = rss_kib();
    drop(entries);
    let rss_dropped = rss_kib();
    // The build takes its snapshot: a copy, made before the clock starts.
    let copy = snap.clone();
    let start = Instant::now();
    let mut view = View::build(layout.clone(), copy);
    let build_ms = start.elapsed().as_secs_f64() * 1e3;
    let rss_view = rss_kib();
    let mut lock = Vec::new();
    let mut password = Vec::new();
    let mut activation = Vec::new();
    let mut rebuilds = 0;
    for n in 0..count {
        let from = snap.revision;
        snap.revision += 1;
        let kind = n % 10;
        let uid = match kind {
            0..=4 => {
                let i = (n * 7919) % snap.accounts.len();
                snap.accounts[i].locked = !snap.accounts[i].locked;
                snap.accounts[i].uid.clone()
            }
            5..=7 => {
                let i = (n * 104_729) % snap.accounts.len();
                snap.accounts[i].password_hash = format!("$argon2id$v=19$m=19456,t=2,p=1$changed{n}");
                snap.accounts[i].uid.clone()
            }
            _ => {
                let number = MemberNumber::parse(&format!("B{:07}", members - RESERVED + (n / 10) % RESERVED))?;
                if snap.accounts.iter().any(|a| a.member_number == number) {
                    let i = (n * 31) % snap.accounts.len();
                    snap.accounts[i].locked = !snap.accounts[i].locked;
                    snap.accounts[i].uid.clone()
                } else {
                    let account = account(snap.accounts.len(), &number, now)?;
                    let uid = account.uid.clone();
                    snap.accounts.push(account);
                    uid
                }
            }
        };
        let change = delta(&snap, from, &uid);
        let cpu = thread_cpu_ns();
        let next = view.apply(&change);
        let spent = (thread_cpu_ns() - cpu) as f64 / 1e6;
        match next {
            Ok(v) => view = v,
            Err(_) => {
                rebuilds += 1;
                view = View::build(layout.clone(), snap.clone());
            }
        }
        match kind {
            0..=4 => lock.push(spent),
            5..=7 => password.push(spent),
            _ => activation.push(spent),
        }
    }
    let rss_after = rss_kib();
    let copy = snap.clone();
    let cpu = process_cpu_ms();
    let start = Instant::now();
    let rebuilt = View::build(layout, copy);
    let rebuild_ms = start.elapsed().as_secs_f64() * 1e3;
    let rebuild_cpu_ms = process_cpu_ms() - cpu;
    drop(rebuilt);
    let mut all: Vec<f64> = lock.iter().chain(&password).chain(&activation).copied().collect();
    println!(
        "{}",
        json!({
            "members": members,
            "entries": view.entries.len(),
            "pseudonymous_service": pseudonymous,
            "build_ms": round(build_ms),
            "rebuild_ms": round(rebuild_ms),
            "rebuild_cpu_ms": round(rebuild_cpu_ms),
            "changes": count,
            "rebuilds": rebuilds,
            "apply_cpu_ms": stats(&mut all),
            "lock_cpu_ms": stats(&mut lock),
            "password_cpu_ms": stats(&mut password),
            "activation_cpu_ms": stats(&mut activation),
            "rss_mib": {
                "before_view": rss_before / 1024,
                "entries_alone": rss_entries.saturating_sub(rss_before) / 1024,
                "after_dropping_them": rss_dropped / 1024,
                "with_view": rss_view / 1024,
                "after_changes": rss_after / 1024,
            },
        })
    );
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// p50, p99 and max of `v`, in the unit given.
pub(crate) fn stats(v: &mut [f64]) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    json!({"n": v.len(), "p50": round(at(0.5)), "p99": round(at(0.99)), "max": round(at(1.0))})
}

/// The rows of the change to `uid`'s account at revision `from + 1`.
fn delta(snap: &Snapshot, from: i64, uid: &Uid) -> PartialSnapshot {
    let accounts: Vec<Account> = snap.accounts.iter().filter(|a| a.uid == *uid).cloned().collect();
    let numbers: Vec<MemberNumber> = accounts.iter().map(|a| a.member_number.clone()).collect();
    PartialSnapshot {
        from,
        revision: snap.revision,
        members: snap
            .members
            .iter()
            .filter(|m| numbers.contains(&m.number))
            .cloned()
            .collect(),
        member_numbers: numbers,
        uids: vec![uid.clone()],
        accounts,
        ..PartialSnapshot::default()
    }
}

fn account(i: usize, number: &MemberNumber, now: OffsetDateTime) -> Result<Account> {
    Ok(Account {
        uid: Uid::parse(&format!("u{i:06}"))?,
        member_number: number.clone(),
        display_name: format!("Bench {i}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        locked: false,
        uid_number: 20_000 + i64::try_from(i)?,
        entry_uuid: format!("00000000-0000-4000-8000-{i:012}"),
        created_at: now,
        modified_at: now,
        totp_secret: None,
        totp_enabled: false,
    })
}

/// `members` generated members, all but the last [`RESERVED`] with an account; the automatic
/// groups, two manual groups and four services.
fn snapshot(members: usize, pseudonymous: bool, now: OffsetDateTime) -> Result<Snapshot> {
    let records = generated_members(members, false)?;
    let accounts = records
        .iter()
        .take(members.saturating_sub(RESERVED))
        .enumerate()
        .map(|(i, m)| account(i, &m.number, now))
        .collect::<Result<Vec<_>>>()?;
    let mut groups = vec![
        group("members", GroupKind::Automatic, 10_001, now)?,
        group("voting", GroupKind::Automatic, 10_002, now)?,
    ];
    let mut states: Vec<StateCode> = records.iter().map(|m| m.state.clone()).collect();
    states.sort();
    states.dedup();
    for (n, s) in states.iter().enumerate() {
        groups.push(group(
            &s.group_name(),
            GroupKind::Automatic,
            10_100 + i64::try_from(n)?,
            now,
        )?);
    }
    let mut admins = group("admins", GroupKind::Manual, 10_003, now)?;
    admins.manual_members = accounts.iter().take(5).map(|a| a.uid.clone()).collect();
    let mut wiki = group("wiki", GroupKind::Manual, 10_004, now)?;
    wiki.manual_members = accounts.iter().step_by(10).map(|a| a.uid.clone()).collect();
    groups.extend([admins, wiki]);
    let mut services = vec![
        service("wiki", now, |_| {})?,
        service("mail", now, |p| p.attrs = Some(vec!["uid".into(), "mail".into()]))?,
        service("voting", now, |p| p.members_of = Name::parse("voting").ok())?,
        service("bayern", now, |p| p.chapter = StateCode::parse("BY").ok())?,
    ];
    if pseudonymous {
        services.push(service("ballot", now, |p| p.pseudonymous = true)?);
    }
    Ok(Snapshot {
        revision: 1,
        members: records,
        accounts,
        groups,
        services,
        certificates: Vec::new(),
        app_passwords: Vec::new(),
    })
}

fn group(name: &str, kind: GroupKind, gid: i64, now: OffsetDateTime) -> Result<Group> {
    Ok(Group {
        name: Name::parse(name)?,
        kind,
        gid_number: gid,
        description: None,
        entry_uuid: format!("00000000-0000-4000-9000-{gid:012}"),
        manual_members: Vec::new(),
        chapter: None,
        created_at: now,
        modified_at: now,
    })
}

fn service(name: &str, now: OffsetDateTime, edit: impl FnOnce(&mut ServiceProfile)) -> Result<Service> {
    let mut profile = ServiceProfile {
        name: Name::parse(name)?,
        attrs: None,
        members_of: None,
        real_names: false,
        include_inactive: false,
        pseudonymous: false,
        chapter: None,
    };
    edit(&mut profile);
    Ok(Service {
        profile,
        password_hash: "hash".into(),
        entry_uuid: format!("00000000-0000-4000-a000-{:012}", name.len()),
        created_at: now,
        modified_at: now,
    })
}

/// This thread's CPU time in nanoseconds (`CLOCK_THREAD_CPUTIME_ID` through `cpu-time`: exact,
/// where `/proc` counts in scheduler ticks).
fn thread_cpu_ns() -> u64 {
    cpu_time::ThreadTime::try_now()
        .map(|t| u64::try_from(t.as_duration().as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The process's resident set in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// This process's CPU time (all threads) in milliseconds, from `/proc/self/stat` (10 ms ticks).
fn process_cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name in parentheses: utime and stime are the 12th and 13th.
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    f.get(10).zip(f.get(11)).map_or(0.0, |(u, s)| (u + s) as f64 * 10.0)
}
