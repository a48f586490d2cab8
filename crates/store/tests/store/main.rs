//! The store API, every test against a real SQLite file and a real PostgreSQL database (the
//! server `PIRATENLDAP_TEST_POSTGRES` names; `scripts/test` starts a throwaway one).
#![allow(clippy::unwrap_used, clippy::panic)]

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::parse_members_csv;
use piratenldap_store::{
    Backend, Conflict, GroupKind, NewAccount, SecondFactorReset, ServiceProfile, SqlStore, Store, StoreError, TokenKind,
};
use time::OffsetDateTime;

/// A fresh, empty store on `backend`; the directory keeps an SQLite file alive.
async fn fresh(backend: Backend) -> (tempfile::TempDir, SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}/test.db", dir.path().display()),
        Backend::Postgres => piratenldap_store::testing::fresh_postgres_database().await.unwrap(),
    };
    let store = SqlStore::open(&url).await.unwrap();
    assert_eq!(store.backend(), backend);
    (dir, store)
}

/// Runs each named `async fn(SqlStore)` as one test per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let (_dir, store) = crate::fresh(crate::Backend::Sqlite).await;
                super::$name(store).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                let (_dir, store) = crate::fresh(crate::Backend::Postgres).await;
                super::$name(store).await;
            })*
        }
    };
}

mod changes;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

on_both_backends!(
    import_upserts_counts_and_creates_state_groups,
    dry_run_and_full_import,
    accounts_are_unique_per_member_and_uid,
    manual_groups_and_automatic_ones_are_read_only,
    services_round_trip,
    a_token_activates_once_even_concurrently,
    a_reset_token_resets_once_and_only_an_account,
    a_totp_step_is_accepted_once,
    certificates_need_four_eyes_and_revocation_is_final,
    a_shortened_renewal_keeps_the_time_of_the_approval_it_rests_on,
    audit_events_append_filter_and_prune,
    app_passwords_are_labelled_and_revocable,
    buckets_give_the_burst_then_the_rate,
    snapshots_stay_consistent_while_accounts_are_created,
    chapter_groups_admit_only_their_chapters_members,
    chapter_services_keep_their_chapter_and_its_groups,
    one_switch_disables_in_one_transaction_and_reinstate_restores_the_status,
    an_import_status_change_disables_like_the_switch,
    erasure_leaves_nothing_but_the_pseudonym_and_the_tombstone,
    erasure_is_safe_when_two_nodes_erase_at_once,
    a_lease_has_one_holder_at_a_time,
);

const CSV: &[u8] = b"member_number,state,status,voting_right,given_name,surname,email\n\
1,BY,active,true,Anna,Alt,anna@example.org\n\
2,BY,suspended,false,Bert,Berg,\n\
3,NW,active,true,,,\n";

async fn import_upserts_counts_and_creates_state_groups(store: SqlStore) {
    let recs = parse_members_csv(CSV).unwrap();
    let r0 = store.revision().await.unwrap();
    let report = store.import_members(&recs, false, false, now()).await.unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (3, 0, 0));
    assert!(store.revision().await.unwrap() > r0);
    let again = store.import_members(&recs, false, false, now()).await.unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 3));
    let groups = store.groups().await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert!(names.contains(&"lv-by") && names.contains(&"lv-nw"), "{names:?}");
    assert!(
        groups
            .iter()
            .find(|g| g.name.as_str() == "lv-by")
            .is_some_and(|g| g.kind == GroupKind::Automatic)
    );
}

async fn dry_run_and_full_import(store: SqlStore) {
    store
        .import_members(&parse_members_csv(CSV).unwrap(), false, false, now())
        .await
        .unwrap();
    let only_one = parse_members_csv(b"member_number,state\n1,BY\n").unwrap();
    let dry = store.import_members(&only_one, true, true, now()).await.unwrap();
    assert_eq!(dry.marked_left, 2);
    assert!(
        store
            .members()
            .await
            .unwrap()
            .iter()
            .all(|m| m.number.as_str() == "1" || m.status != MembershipStatus::Left),
        "dry run changed data"
    );
    let real = store.import_members(&only_one, true, false, now()).await.unwrap();
    assert_eq!(real.marked_left, 2);
    let m3 = store.member(&MemberNumber::parse("3").unwrap()).await.unwrap().unwrap();
    assert_eq!(m3.status, MembershipStatus::Left);
}

async fn accounts_are_unique_per_member_and_uid(store: SqlStore) {
    store
        .import_members(&parse_members_csv(CSV).unwrap(), false, false, now())
        .await
        .unwrap();
    let new = |uid: &str, n: &str| NewAccount {
        uid: Uid::parse(uid).unwrap(),
        member_number: MemberNumber::parse(n).unwrap(),
        display_name: "X".into(),
        password_hash: "h".into(),
    };
    let a = store.create_account(new("anna", "1"), now()).await.unwrap();
    assert!(a.uid_number >= 20000);
    assert!(matches!(
        store.create_account(new("anna2", "1"), now()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.create_account(new("anna", "3"), now()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.create_account(new("nobody", "99"), now()).await,
        Err(StoreError::NotFound(_))
    ));
    let uid = Uid::parse("anna").unwrap();
    store.set_account_locked(&uid, true, "test", now()).await.unwrap();
    assert!(store.account(&uid).await.unwrap().unwrap().locked);
    store.set_account_password(&uid, "h2", now()).await.unwrap();
    assert_eq!(store.account(&uid).await.unwrap().unwrap().password_hash, "h2");
}

async fn manual_groups_and_automatic_ones_are_read_only(store: SqlStore) {
    store
        .import_members(&parse_members_csv(CSV).unwrap(), false, false, now())
        .await
        .unwrap();
    store
        .create_account(
            NewAccount {
                uid: Uid::parse("anna").unwrap(),
                member_number: MemberNumber::parse("1").unwrap(),
                display_name: "A".into(),
                password_hash: "h".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let wiki = Name::parse("wiki-admins").unwrap();
    let anna = Uid::parse("anna").unwrap();
    store
        .create_group(&wiki, Some("Wiki admins"), None, now())
        .await
        .unwrap();
    store.add_group_member(&wiki, &anna, now()).await.unwrap();
    assert!(matches!(
        store.add_group_member(&wiki, &anna, now()).await,
        Err(StoreError::Conflict(_))
    ));
    let g = store
        .groups()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == wiki)
        .unwrap();
    assert_eq!(g.manual_members, vec![anna.clone()]);
    let members = Name::parse("members").unwrap();
    assert!(matches!(
        store.add_group_member(&members, &anna, now()).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store
            .create_group(&Name::parse("lv-xx").unwrap(), None, None, now())
            .await,
        Err(StoreError::Refused(_))
    ));
    store
        .remove_group_member(&wiki, &anna, &[], "test", now())
        .await
        .unwrap();
    store.delete_group(&wiki).await.unwrap();
    assert!(matches!(
        store.delete_group(&Name::parse("admins").unwrap()).await,
        Err(StoreError::Refused(_))
    ));
}

async fn services_round_trip(store: SqlStore) {
    let profile = ServiceProfile {
        name: Name::parse("wiki").unwrap(),
        attrs: Some(vec!["uid".into(), "mail".into()]),
        members_of: Some(Name::parse("voting").unwrap()),
        real_names: true,
        include_inactive: false,
        pseudonymous: false,
        chapter: None,
    };
    store.add_service(&profile, "h", now()).await.unwrap();
    assert!(matches!(
        store.add_service(&profile, "h", now()).await,
        Err(StoreError::Conflict(_))
    ));
    let listed = store.services().await.unwrap();
    assert_eq!(listed[0].profile, profile);
    store.set_service_password(&profile.name, "h2", now()).await.unwrap();
    store.remove_service(&profile.name).await.unwrap();
    assert!(store.services().await.unwrap().is_empty());
    let bad = ServiceProfile {
        members_of: Some(Name::parse("nope").unwrap()),
        ..profile
    };
    assert!(matches!(
        store.add_service(&bad, "h", now()).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Members 1–3 from `CSV` and the account `uid` for member `number`.
async fn with_account(store: &SqlStore, uid: &str, number: &str) -> Uid {
    if store.members().await.unwrap().is_empty() {
        store
            .import_members(&parse_members_csv(CSV).unwrap(), false, false, now())
            .await
            .unwrap();
    }
    let new = NewAccount {
        uid: Uid::parse(uid).unwrap(),
        member_number: MemberNumber::parse(number).unwrap(),
        display_name: uid.into(),
        password_hash: "h".into(),
    };
    store.create_account(new, now()).await.unwrap().uid
}

/// Makes `uid` an admin (admins must have TOTP on).
/// anna (1) and bert (2), both admins, and cleo (3), not yet in `membership-admins`; with
/// that role group.
async fn certificate_fixture(store: &SqlStore) -> (Uid, Uid, Uid, Name) {
    let anna = with_account(store, "anna", "1").await;
    let bert = with_account(store, "bert", "2").await;
    let cleo = with_account(store, "cleo", "3").await;
    make_admin(store, &anna).await;
    make_admin(store, &bert).await;
    (anna, bert, cleo, Name::parse("membership-admins").unwrap())
}

async fn make_admin(store: &SqlStore, uid: &Uid) {
    store.set_totp_secret(uid, "sealed", "test", now()).await.unwrap();
    store.set_totp_enabled(uid, true, "test", now()).await.unwrap();
    store
        .add_group_member(&Name::parse("admins").unwrap(), uid, now())
        .await
        .unwrap();
}

async fn a_lease_has_one_holder_at_a_time(store: SqlStore) {
    let t0 = now();
    let secs = move |n: i64| t0 + time::Duration::seconds(n);
    assert!(store.try_lease("crl", "a", t0, secs(10)).await.unwrap(), "a new lease");
    assert!(
        !store.try_lease("crl", "b", secs(1), secs(11)).await.unwrap(),
        "a's runs"
    );
    assert!(
        store.try_lease("crl", "a", secs(5), secs(15)).await.unwrap(),
        "renewed by a"
    );
    assert!(
        !store.try_lease("crl", "b", secs(14), secs(24)).await.unwrap(),
        "renewal counts"
    );
    assert!(
        store.try_lease("other", "b", secs(14), secs(24)).await.unwrap(),
        "names apart"
    );
    assert!(
        store.try_lease("crl", "b", secs(15), secs(25)).await.unwrap(),
        "expired: taken over"
    );
    assert!(
        !store.try_lease("crl", "a", secs(16), secs(26)).await.unwrap(),
        "a lost it"
    );
    // Eight nodes asking for an expired lease at once: exactly one gets it.
    let tries = (0..8).map(|i| {
        let store = store.clone();
        let (from, until) = (secs(30), secs(40));
        tokio::spawn(async move { store.try_lease("crl", &format!("n{i}"), from, until).await })
    });
    let got: Vec<bool> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(got.iter().filter(|g| **g).count(), 1, "{got:?}");
}

async fn a_token_activates_once_even_concurrently(store: SqlStore) {
    store
        .import_members(&parse_members_csv(CSV).unwrap(), false, false, now())
        .await
        .unwrap();
    let one = MemberNumber::parse("1").unwrap();
    let later = now() + time::Duration::days(1);
    // Members 1 and 3; member 2 is suspended: no letter opens anything for them.
    assert_eq!(store.pending_members().await.unwrap().len(), 2);
    store
        .issue_tokens(
            &[(one.clone(), "mac-old".into())],
            TokenKind::Activation,
            later,
            "test",
            now(),
        )
        .await
        .unwrap();
    // Issuing again replaces the live token.
    store
        .issue_tokens(
            &[(one.clone(), "mac".into())],
            TokenKind::Activation,
            later,
            "test",
            now(),
        )
        .await
        .unwrap();
    assert_eq!(store.token_member("mac-old", now()).await.unwrap(), None);
    assert_eq!(store.token_member("mac", now()).await.unwrap(), Some(one.clone()));
    let tries = (0..4).map(|i| {
        let store = store.clone();
        async move {
            let uid = Uid::parse(&format!("anna{i}")).unwrap();
            store.activate_token("mac", &uid, "Anna", "h", now()).await
        }
    });
    let results = futures::future::join_all(tries).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::NotFound(_)))
    );
    assert_eq!(store.token_member("mac", now()).await.unwrap(), None);
    // A member with an account gets no new token.
    assert!(matches!(
        store
            .issue_tokens(&[(one, "mac2".into())], TokenKind::Activation, later, "test", now())
            .await,
        Err(StoreError::Refused(_))
    ));
}

async fn a_reset_token_resets_once_and_only_an_account(store: SqlStore) {
    let anna = with_account(&store, "anna", "1").await;
    let (one, three) = (MemberNumber::parse("1").unwrap(), MemberNumber::parse("3").unwrap());
    let later = now() + time::Duration::days(1);
    // A reset letter needs an account; an activation letter needs none.
    let refused = store
        .issue_tokens(&[(three.clone(), "r3".into())], TokenKind::Reset, later, "test", now())
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Refused(m)) if m.contains("no account")),
        "{refused:?}"
    );
    assert!(matches!(
        store
            .issue_tokens(
                &[(one.clone(), "a1".into())],
                TokenKind::Activation,
                later,
                "test",
                now()
            )
            .await,
        Err(StoreError::Refused(_))
    ));
    store
        .issue_tokens(
            &[(three.clone(), "a3".into())],
            TokenKind::Activation,
            later,
            "test",
            now(),
        )
        .await
        .unwrap();
    store
        .issue_tokens(&[(one.clone(), "r1".into())], TokenKind::Reset, later, "test", now())
        .await
        .unwrap();
    let live = store.live_token("r1", now()).await.unwrap().unwrap();
    assert_eq!((live.kind, live.uid.as_ref()), (TokenKind::Reset, Some(&anna)));
    // Neither kind does the other's work, and neither is used up trying.
    assert!(matches!(
        store.reset_with_token("a3", "h2", SecondFactorReset::Keep, now()).await,
        Err(StoreError::NotFound(_))
    ));
    let bert = Uid::parse("bert").unwrap();
    assert!(matches!(
        store.activate_token("r1", &bert, "Bert", "h", now()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.live_token("a3", now()).await.unwrap().is_some());
    // TOTP on, then a reset that removes it: password, second factor and token in one go.
    store.set_totp_secret(&anna, "sealed", "test", now()).await.unwrap();
    store.set_totp_enabled(&anna, true, "test", now()).await.unwrap();
    let tries = (0..3).map(|_| {
        let store = store.clone();
        async move {
            store
                .reset_with_token("r1", "h2", SecondFactorReset::Remove, now())
                .await
        }
    });
    let results = futures::future::join_all(tries).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    let account = store.account(&anna).await.unwrap().unwrap();
    assert_eq!(account.password_hash, "h2");
    assert!(!account.totp_enabled && account.totp_secret.is_none());
    assert!(store.live_token("r1", now()).await.unwrap().is_none());
    let events = store.audit_events(Some("anna"), None).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "account.reset" && e.detail.contains("TOTP removed"))
    );
    // An admin's second factor is not removed by letter; nothing changes, the token stays live.
    store
        .issue_tokens(&[(one.clone(), "r1b".into())], TokenKind::Reset, later, "test", now())
        .await
        .unwrap();
    make_admin(&store, &anna).await;
    assert!(matches!(
        store
            .reset_with_token("r1b", "h3", SecondFactorReset::Remove, now())
            .await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(store.account(&anna).await.unwrap().unwrap().password_hash, "h2");
    assert!(store.live_token("r1b", now()).await.unwrap().is_some());
    store
        .reset_with_token("r1b", "h3", SecondFactorReset::Keep, now())
        .await
        .unwrap();
    assert!(store.account(&anna).await.unwrap().unwrap().totp_enabled);
}

async fn a_totp_step_is_accepted_once(store: SqlStore) {
    let anna = with_account(&store, "anna", "1").await;
    assert!(store.use_totp_step(&anna, 100).await.unwrap());
    assert!(!store.use_totp_step(&anna, 100).await.unwrap());
    assert!(!store.use_totp_step(&anna, 99).await.unwrap());
    assert!(store.use_totp_step(&anna, 101).await.unwrap());
}

async fn certificates_need_four_eyes_and_revocation_is_final(store: SqlStore) {
    let (anna, bert, cleo, role_group) = certificate_fixture(&store).await;
    assert!(matches!(
        store
            .create_cert_request(&cleo, "membership-admin", &role_group, None, &anna, now())
            .await,
        Err(StoreError::Refused(_))
    ));
    store.add_group_member(&role_group, &cleo, now()).await.unwrap();
    assert!(matches!(
        store
            .create_cert_request(&cleo, "membership-admin", &role_group, None, &cleo, now())
            .await,
        Err(StoreError::Refused(_))
    ));
    let req = store
        .create_cert_request(&cleo, "membership-admin", &role_group, None, &anna, now())
        .await
        .unwrap();
    assert!(matches!(
        store.approve_cert_request(req.id, &role_group, &anna, now()).await,
        Err(StoreError::Refused(_))
    ));
    store
        .approve_cert_request(req.id, &role_group, &bert, now())
        .await
        .unwrap();
    let cert = piratenldap_store::NewCertificate {
        serial: "0a0b".into(),
        fingerprint: "ff".into(),
        not_before: now(),
        not_after: now() + time::Duration::days(365),
    };
    store
        .record_certificate(req.id, &role_group, &cert, "test", now())
        .await
        .unwrap();
    let revision = store.revision().await.unwrap();
    let revoked = store
        .revoke_certificate("0a0b", "key lost", "test", now())
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.revision().await.unwrap() > revision);
    assert!(matches!(
        store.revoke_certificate("0a0b", "again", "test", now()).await,
        Err(StoreError::Conflict(_))
    ));
    let crl = |number| piratenldap_store::Crl {
        number,
        pem: format!("crl {number}"),
        this_update: now(),
        next_update: now() + time::Duration::days(7),
    };
    store.save_crl(&crl(1)).await.unwrap();
    store.save_crl(&crl(2)).await.unwrap();
    assert!(matches!(store.save_crl(&crl(2)).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.latest_crl().await.unwrap().unwrap().number, 2);
}

/// A renewal approved at once on the strength of an earlier approval records that approval's
/// time: renewing the renewal is measured from the human approval, so a chain of renewals
/// within the window never stretches one approval for ever.
async fn a_shortened_renewal_keeps_the_time_of_the_approval_it_rests_on(store: SqlStore) {
    let (anna, bert, cleo, role_group) = certificate_fixture(&store).await;
    store.add_group_member(&role_group, &cleo, now()).await.unwrap();
    let t0 = now();
    let days = |n: i64| t0 + time::Duration::days(n);
    let req = store
        .create_cert_request(&cleo, "membership-admin", &role_group, None, &anna, t0)
        .await
        .unwrap();
    store
        .approve_cert_request(req.id, &role_group, &bert, t0)
        .await
        .unwrap();
    let approved_at = store.cert_request(req.id).await.unwrap().unwrap().approved_at.unwrap();
    // Renewed after 20 days (window 30): approved at once, by bert, as of bert's approval.
    let first = store
        .renew_cert_request(req.id, &role_group, &anna, days(20 - 30), days(20))
        .await
        .unwrap();
    assert_eq!(first.approved_by.as_ref(), Some(&bert));
    assert_eq!(
        first.approved_at,
        Some(approved_at),
        "the renewal moved the approval's time"
    );
    // The renewal renewed after 40 days: bert's approval is 40 days old, too old.
    assert!(matches!(
        store
            .renew_cert_request(first.id, &role_group, &anna, days(40 - 30), days(40))
            .await,
        Err(StoreError::Refused(_))
    ));
}

async fn audit_events_append_filter_and_prune(store: SqlStore) {
    let old = now() - time::Duration::days(400);
    let event = |at, subject: &str| piratenldap_store::AuditEvent {
        at,
        actor: "ldap".into(),
        action: "bind.fail".into(),
        subject: subject.into(),
        detail: "from 192.0.2.1".into(),
    };
    store
        .append_audit(&[event(old, "anna"), event(now(), "anna"), event(now(), "bert")])
        .await
        .unwrap();
    assert_eq!(store.audit_events(Some("anna"), None).await.unwrap().len(), 2);
    let recent = store
        .audit_events(None, Some(now() - time::Duration::days(1)))
        .await
        .unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(store.prune_audit(now() - time::Duration::days(365)).await.unwrap(), 1);
    assert_eq!(store.audit_events(Some("anna"), None).await.unwrap().len(), 1);
}

async fn app_passwords_are_labelled_and_revocable(store: SqlStore) {
    let anna = with_account(&store, "anna", "1").await;
    store
        .add_app_password(&anna, "phone", "h1", "test", now())
        .await
        .unwrap();
    assert!(matches!(
        store.add_app_password(&anna, "phone", "h2", "test", now()).await,
        Err(StoreError::Conflict(_))
    ));
    store.touch_app_password(&anna, "phone", now()).await.unwrap();
    let list = store.app_passwords(&anna).await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].last_used_at.is_some());
    store.revoke_app_password(&anna, "phone", "test", now()).await.unwrap();
    assert!(store.app_passwords(&anna).await.unwrap().is_empty());
    assert!(matches!(
        store.revoke_app_password(&anna, "phone", "test", now()).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn buckets_give_the_burst_then_the_rate(store: SqlStore) {
    let policy = piratenldap_store::BucketPolicy {
        burst: 3,
        per_minute: 6,
    };
    let t0 = 1_700_000_000_000_i64;
    assert_eq!(store.bucket_levels(&[("k", policy)], t0).await.unwrap(), vec![3]);
    for _ in 0..3 {
        assert!(store.bucket_take("k", policy, t0).await.unwrap());
    }
    assert!(!store.bucket_take("k", policy, t0 + 1_000).await.unwrap());
    assert_eq!(
        store
            .bucket_levels(&[("k", policy), ("other", policy)], t0)
            .await
            .unwrap(),
        vec![0, 3]
    );
    // Six a minute: one token back after ten seconds, and never more than the burst.
    assert!(store.bucket_take("k", policy, t0 + 10_000).await.unwrap());
    assert!(!store.bucket_take("k", policy, t0 + 10_000).await.unwrap());
    assert_eq!(
        store.bucket_levels(&[("k", policy)], t0 + 3_600_000).await.unwrap(),
        vec![3]
    );
    // Concurrent takes never hand out more than there is.
    let takes = (0..10).map(|_| {
        let store = store.clone();
        async move { store.bucket_take("c", policy, t0).await.unwrap() }
    });
    let taken = futures::future::join_all(takes).await;
    assert_eq!(taken.iter().filter(|t| **t).count(), 3);
    store.bucket_clear("k").await.unwrap();
    assert_eq!(
        store.bucket_levels(&[("k", policy)], t0 + 10_000).await.unwrap(),
        vec![3]
    );
    assert_eq!(store.bucket_prune(t0 + 1).await.unwrap(), 1);
}

/// A snapshot read while another task creates accounts shows exactly the accounts of the
/// revision it reports (SQLite reads accounts and the other tables on two connections; a
/// mismatch would show here as a count that does not fit the revision).
async fn snapshots_stay_consistent_while_accounts_are_created(store: SqlStore) {
    let mut csv = String::from("member_number,state,status,voting_right,given_name,surname,email\n");
    for i in 0..120 {
        csv.push_str(&format!("{i},BY,active,true,,,\n"));
    }
    store
        .import_members(&parse_members_csv(csv.as_bytes()).unwrap(), false, false, now())
        .await
        .unwrap();
    let base = store.snapshot().await.unwrap().revision;
    let create = |i: usize| NewAccount {
        uid: Uid::parse(&format!("user{i}")).unwrap(),
        member_number: MemberNumber::parse(&i.to_string()).unwrap(),
        display_name: format!("User {i}"),
        password_hash: "h".into(),
    };
    store.create_account(create(0), now()).await.unwrap();
    assert_eq!(
        store.snapshot().await.unwrap().revision,
        base + 1,
        "one account, one revision"
    );

    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 1..120 {
                store.create_account(create(i), now()).await.unwrap();
            }
        })
    };
    let mut seen = std::collections::HashSet::new();
    while !writer.is_finished() {
        let snap = store.snapshot().await.unwrap();
        assert_eq!(
            snap.accounts.len() as i64,
            snap.revision - base,
            "accounts do not match revision {}",
            snap.revision
        );
        assert_eq!(snap.members.len(), 120);
        seen.insert(snap.revision);
    }
    writer.await.unwrap();
    let last = store.snapshot().await.unwrap();
    assert_eq!(last.accounts.len(), 120);
    assert!(seen.len() > 1, "the reads never overlapped the writes");
}

/// A write that reads before it writes (here: the group's kind, then the delete) waits while
/// another process holds SQLite's write lock, and succeeds once that one commits. A deferred
/// transaction would fail at once with "database is locked": SQLite never lets a reader wait
/// for the write lock, since two such readers could wait for each other.
#[tokio::test]
async fn a_sqlite_write_waits_for_another_process_writer() {
    let (dir, store) = fresh(Backend::Sqlite).await;
    let name = Name::parse("wiki-editors").unwrap();
    store.create_group(&name, None, None, now()).await.unwrap();
    let path = dir.path().join("test.db");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'revision';")
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        conn.execute_batch("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();
    let deleted = store.delete_group(&name).await;
    holder.join().unwrap();
    deleted.unwrap();
    assert!(store.groups().await.unwrap().iter().all(|g| g.name != name));
}

/// The manual members of a group.
async fn manual_members(store: &SqlStore, group: &Name) -> Vec<Uid> {
    let groups = store.groups().await.unwrap();
    groups.into_iter().find(|g| g.name == *group).unwrap().manual_members
}

async fn chapter_groups_admit_only_their_chapters_members(store: SqlStore) {
    let anna = with_account(&store, "anna", "1").await; // BY
    let nora = with_account(&store, "nora", "3").await; // NW
    let by = StateCode::parse("BY").unwrap();
    let group = Name::parse("by-vorstand").unwrap();
    let created = store.create_group(&group, None, Some(&by), now()).await.unwrap();
    assert_eq!(created.chapter, Some(by.clone()));
    store.add_group_member(&group, &anna, now()).await.unwrap();

    // A member of another chapter is refused, with a message that says why; nothing changes.
    let before = store.revision().await.unwrap();
    let refused = store.add_group_member(&group, &nora, now()).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Conflict(Conflict::OutsideChapter { .. })),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "nora is a member of NW; group by-vorstand belongs to chapter BY"
    );
    assert_eq!(store.revision().await.unwrap(), before);
    assert_eq!(manual_members(&store, &group).await, vec![anna.clone()]);
    let listed = store.groups().await.unwrap();
    let listed = listed.iter().find(|g| g.name == group).unwrap();
    assert_eq!(listed.chapter, Some(by.clone()));
    // Automatic groups are federal.
    assert!(
        store
            .groups()
            .await
            .unwrap()
            .iter()
            .all(|g| g.kind == GroupKind::Manual || g.chapter.is_none())
    );

    // Anna moves to NW: a dry run reports it and keeps her; the import ends her membership.
    let moved = b"member_number,state,status,voting_right,given_name,surname,email\n\
1,NW,active,true,Anna,Alt,anna@example.org\n";
    let recs = parse_members_csv(moved).unwrap();
    let dry = store.import_members(&recs, false, true, now()).await.unwrap();
    assert_eq!(dry.left_chapter_groups, 1);
    assert_eq!(manual_members(&store, &group).await, vec![anna.clone()]);
    let report = store.import_members(&recs, false, false, now()).await.unwrap();
    assert_eq!(report.left_chapter_groups, 1);
    assert!(manual_members(&store, &group).await.is_empty());
    let audit = store.audit_events(Some("anna"), None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "group.remove" && e.detail.contains("by-vorstand: moved from chapter BY to NW")),
        "{audit:?}"
    );
    // A federal group keeps her whatever her state.
    let wiki = Name::parse("wiki").unwrap();
    store.create_group(&wiki, None, None, now()).await.unwrap();
    store.add_group_member(&wiki, &nora, now()).await.unwrap();
    store.add_group_member(&wiki, &anna, now()).await.unwrap();

    // The owner chapter survives a backup and restore.
    let dump = store.dump().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = SqlStore::open(&format!("sqlite://{}/restored.db", dir.path().display()))
        .await
        .unwrap();
    other.load(&dump).await.unwrap();
    let restored = other.groups().await.unwrap();
    assert_eq!(restored.iter().find(|g| g.name == group).unwrap().chapter, Some(by));
    assert_eq!(restored.iter().find(|g| g.name == wiki).unwrap().chapter, None);
}

async fn chapter_services_keep_their_chapter_and_its_groups(store: SqlStore) {
    let by = StateCode::parse("BY").unwrap();
    let nw = StateCode::parse("NW").unwrap();
    let nw_group = Name::parse("nw-vorstand").unwrap();
    store.create_group(&nw_group, None, Some(&nw), now()).await.unwrap();
    let profile = ServiceProfile {
        name: Name::parse("by-wiki").unwrap(),
        attrs: None,
        members_of: None,
        real_names: false,
        include_inactive: false,
        pseudonymous: false,
        chapter: Some(by.clone()),
    };
    store.add_service(&profile, "h", now()).await.unwrap();
    assert_eq!(store.services().await.unwrap()[0].profile, profile);
    assert_eq!(store.snapshot().await.unwrap().services[0].profile.chapter, Some(by));

    // Narrowed to another chapter's group: refused, nothing stored.
    let foreign = ServiceProfile {
        name: Name::parse("by-forum").unwrap(),
        members_of: Some(nw_group.clone()),
        ..profile.clone()
    };
    let refused = store.add_service(&foreign, "h", now()).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("group nw-vorstand belongs to chapter NW; service by-forum belongs to chapter BY"),
        "{refused}"
    );
    assert_eq!(store.services().await.unwrap().len(), 1);
    // Its own chapter's group or a federal one is fine.
    let own = ServiceProfile {
        chapter: Some(nw.clone()),
        ..foreign.clone()
    };
    store.add_service(&own, "h", now()).await.unwrap();
    let federal = ServiceProfile {
        name: Name::parse("by-votes").unwrap(),
        members_of: Some(Name::parse("voting").unwrap()),
        ..profile
    };
    store.add_service(&federal, "h", now()).await.unwrap();
    assert_eq!(store.services().await.unwrap().len(), 3);
}

/// Issues certificate `serial` of the role `membership-admin` to `holder`, who is in
/// `membership-admins`: requested by anna, approved by bert (both admins).
async fn issue_certificate(store: &SqlStore, holder: &Uid, serial: &str) {
    let role_group = Name::parse("membership-admins").unwrap();
    let (anna, bert) = (Uid::parse("anna").unwrap(), Uid::parse("bert").unwrap());
    let req = store
        .create_cert_request(holder, "membership-admin", &role_group, None, &anna, now())
        .await
        .unwrap();
    store
        .approve_cert_request(req.id, &role_group, &bert, now())
        .await
        .unwrap();
    let cert = piratenldap_store::NewCertificate {
        serial: serial.into(),
        fingerprint: format!("sha256-of-{serial}"),
        not_before: now(),
        not_after: now() + time::Duration::days(365),
    };
    store
        .record_certificate(req.id, &role_group, &cert, "test", now())
        .await
        .unwrap();
}

/// cleo (3) with a client certificate (serial `0c0c`) and a single sign-on session `sess`;
/// member 4 without an account and with a live letter token (`mac-4`).
async fn switch_fixture(store: &SqlStore) -> Uid {
    let (_, _, cleo, role_group) = certificate_fixture(store).await;
    store.add_group_member(&role_group, &cleo, now()).await.unwrap();
    issue_certificate(store, &cleo, "0c0c").await;
    let session = piratenldap_store::oidc::NewSession {
        id_hash: "sess".into(),
        sid: "sid".into(),
        uid: cleo.clone(),
        method: "password".into(),
        created_at: now(),
        expires_at: now() + time::Duration::hours(1),
    };
    store.oidc().create_session(&session).await.unwrap();
    assert!(store.oidc().session("sess", now()).await.unwrap().is_some());
    let four = parse_members_csv(b"member_number,state\n4,HH\n").unwrap();
    store.import_members(&four, false, false, now()).await.unwrap();
    store
        .issue_tokens(
            &[(MemberNumber::parse("4").unwrap(), "mac-4".into())],
            TokenKind::Activation,
            now() + time::Duration::days(1),
            "test",
            now(),
        )
        .await
        .unwrap();
    cleo
}

async fn status(store: &SqlStore, number: &str) -> MembershipStatus {
    store
        .member(&MemberNumber::parse(number).unwrap())
        .await
        .unwrap()
        .unwrap()
        .status
}

fn refused<T: std::fmt::Debug>(r: Result<T, StoreError>, says: &str) {
    let message = match &r {
        Err(StoreError::Refused(m)) => m.as_str(),
        _ => "",
    };
    assert!(message.contains(says), "not refused ({says}): {r:?}");
}

async fn one_switch_disables_in_one_transaction_and_reinstate_restores_the_status(store: SqlStore) {
    let cleo = switch_fixture(&store).await;
    let three = MemberNumber::parse("3").unwrap();
    refused(store.suspend_member(&three, "  ", "test", now()).await, "reason");
    refused(
        store.suspend_member(&three, &"x".repeat(201), "test", now()).await,
        "200",
    );
    refused(store.suspend_member(&three, "a\nb", "test", now()).await, "one line");
    assert_eq!(
        status(&store, "3").await,
        MembershipStatus::Active,
        "a refusal changes nothing"
    );

    let revision = store.revision().await.unwrap();
    let done = store
        .suspend_member(&three, "fees unpaid for a year", "test", now())
        .await
        .unwrap();
    assert_eq!(done.status_before, MembershipStatus::Active);
    assert_eq!(done.disabled.uid, Some(cleo.clone()));
    assert_eq!(done.disabled.sessions_ended, 1);
    assert_eq!(done.disabled.revoked_serials, ["0c0c"]);
    assert!(!done.disabled.token_revoked);
    assert!(
        store.revision().await.unwrap() > revision,
        "every node rebuilds its view"
    );
    assert_eq!(status(&store, "3").await, MembershipStatus::Suspended);
    let cert = store
        .certificates()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.serial == "0c0c")
        .unwrap();
    assert!(cert.revoked_at.is_some());
    assert_eq!(cert.revoke_reason.as_deref(), Some("fees unpaid for a year"));
    assert!(store.oidc().session("sess", now()).await.unwrap().is_none());
    let audit = store.audit_events(Some("3"), None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "member.suspend" && e.detail.contains("fees unpaid")),
        "{audit:?}"
    );
    refused(
        store.suspend_member(&three, "again", "test", now()).await,
        "suspended already",
    );

    // The membership administration's file does not lift it; its status is the one restored.
    let csv = parse_members_csv(b"member_number,state,status\n3,NW,active\n").unwrap();
    store.import_members(&csv, false, false, now()).await.unwrap();
    assert_eq!(status(&store, "3").await, MembershipStatus::Suspended);

    // A member without an account: the letter token goes.
    let four = MemberNumber::parse("4").unwrap();
    assert!(store.live_token("mac-4", now()).await.unwrap().is_some());
    let done = store.suspend_member(&four, "asked to", "test", now()).await.unwrap();
    assert!(done.disabled.token_revoked && done.disabled.uid.is_none());
    assert!(store.live_token("mac-4", now()).await.unwrap().is_none());

    let back = store.reinstate_member(&three, "test", now()).await.unwrap();
    assert_eq!(back.status, MembershipStatus::Active);
    assert_eq!(back.uid, Some(cleo));
    assert_eq!(back.revoked_serials, ["0c0c"]);
    assert_eq!(back.sessions_ended, 1);
    assert_eq!(back.reason, "fees unpaid for a year");
    assert_eq!(status(&store, "3").await, MembershipStatus::Active);
    let cert = store
        .certificates()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.serial == "0c0c")
        .unwrap();
    assert!(cert.revoked_at.is_some(), "revocation is final");
    assert!(
        store.oidc().session("sess", now()).await.unwrap().is_none(),
        "sessions stay ended"
    );
    let audit = store.audit_events(Some("3"), None).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "member.reinstate"), "{audit:?}");
    refused(store.reinstate_member(&three, "test", now()).await, "not suspended");
    // Suspended by the membership administration's file, not by the switch.
    refused(
        store
            .reinstate_member(&MemberNumber::parse("2").unwrap(), "test", now())
            .await,
        "CSV",
    );
    assert!(
        store
            .reinstate_member(&four, "test", now())
            .await
            .unwrap()
            .token_revoked
    );
}

async fn an_import_status_change_disables_like_the_switch(store: SqlStore) {
    let cleo = switch_fixture(&store).await;
    let csv = parse_members_csv(b"member_number,state,status\n3,NW,suspended\n4,HH,left\n").unwrap();
    let dry = store.import_members(&csv, false, true, now()).await.unwrap();
    assert_eq!(dry.disabled.len(), 2);
    assert_eq!(
        status(&store, "3").await,
        MembershipStatus::Active,
        "a dry run changes nothing"
    );
    assert!(store.oidc().session("sess", now()).await.unwrap().is_some());
    let report = store.import_members(&csv, false, false, now()).await.unwrap();
    assert_eq!(report.disabled, dry.disabled);
    let cleo_done = report.disabled.iter().find(|d| d.uid.as_ref() == Some(&cleo)).unwrap();
    assert_eq!(cleo_done.revoked_serials, ["0c0c"]);
    assert_eq!(cleo_done.sessions_ended, 1);
    let four = report
        .disabled
        .iter()
        .find(|d| d.member == Some(MemberNumber::parse("4").unwrap()))
        .unwrap();
    assert!(four.token_revoked);
    assert!(store.live_token("mac-4", now()).await.unwrap().is_none());
    let cert = store
        .certificates()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.serial == "0c0c")
        .unwrap();
    assert!(cert.revoked_at.is_some());
    // Back to active and suspended again: nothing left to end, nothing reported twice.
    let csv = parse_members_csv(b"member_number,state,status\n3,NW,active\n").unwrap();
    assert!(
        store
            .import_members(&csv, false, false, now())
            .await
            .unwrap()
            .disabled
            .is_empty()
    );
    let csv = parse_members_csv(b"member_number,state,status\n3,NW,left\n").unwrap();
    let report = store.import_members(&csv, false, false, now()).await.unwrap();
    assert_eq!(report.disabled.len(), 1);
    assert!(report.disabled[0].revoked_serials.is_empty());
}

/// Every text cell of every table a backup holds, and the buckets.
async fn all_text(store: &SqlStore) -> Vec<String> {
    let mut cells = Vec::new();
    for table in store.dump().await.unwrap() {
        for row in table.rows {
            for cell in row {
                if let piratenldap_store::Cell::Text(t) = cell {
                    cells.push(format!("{}: {t}", table.table));
                }
            }
        }
    }
    cells
}

async fn erasure_leaves_nothing_but_the_pseudonym_and_the_tombstone(store: SqlStore) {
    use piratenldap_core::erasure::{names, pseudonym, tombstone};
    let cleo = switch_fixture(&store).await;
    let three = MemberNumber::parse("3").unwrap();
    let key = b"erasure test key";
    let erasure = piratenldap_store::Erasure {
        pseudonym: pseudonym(key, &three),
        tombstone: tombstone(key, &three),
    };
    store
        .add_app_password(&cleo, "mail", "$argon2id$x", "test", now())
        .await
        .unwrap();
    let policy = piratenldap_store::BucketPolicy {
        burst: 1,
        per_minute: 1,
    };
    let ms = piratenldap_store::bucket_clock_ms(now());
    for key in [
        "a:uid=cleo,ou=people,dc=example,dc=org",
        "a:uid=cleopatra,ou=people,dc=example,dc=org",
    ] {
        assert!(store.bucket_take(key, policy, ms).await.unwrap());
    }
    store
        .append_audit(&[piratenldap_store::AuditEvent {
            at: now(),
            actor: "cleo".into(),
            action: "bind.fail".into(),
            subject: "uid=cleo,ou=people,dc=example,dc=org".into(),
            detail: "member 3 (Cleopatra Quast, cleo@example.org); not member 33 nor cleon".into(),
        }])
        .await
        .unwrap();
    refused(
        store.erase_member(&three, &erasure, "test", now()).await,
        "only a member who has left",
    );
    assert!(
        store.account(&cleo).await.unwrap().is_some(),
        "a refusal changes nothing"
    );

    let left = parse_members_csv(
        b"member_number,state,status,given_name,surname,email\n3,NW,left,Cleopatra,Quast,cleo@example.org\n",
    )
    .unwrap();
    store.import_members(&left, false, false, now()).await.unwrap();
    assert!(
        store
            .erase_due(now() - time::Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.erase_due(now() + time::Duration::seconds(1)).await.unwrap(),
        std::slice::from_ref(&three),
        "left since the import"
    );
    let revision = store.revision().await.unwrap();
    let done = store.erase_member(&three, &erasure, "test", now()).await.unwrap();
    assert_eq!(done.uid, Some(cleo.clone()));
    assert_eq!(done.pseudonym, erasure.pseudonym);
    assert_eq!(done.app_passwords, 1);
    assert_eq!(done.group_memberships, 1);
    assert_eq!(done.sessions, 1);
    assert_eq!(done.certificates_kept, 1);
    assert_eq!(done.buckets, 1);
    assert!(done.revoked_serials.is_empty(), "revoked when the member left");
    assert!(done.audit_rows >= 3, "{done:?}");
    assert!(store.revision().await.unwrap() > revision);

    assert!(store.member(&three).await.unwrap().is_none());
    assert!(store.account(&cleo).await.unwrap().is_none());
    assert!(store.oidc().session("sess", now()).await.unwrap().is_none());
    let cert = store
        .certificates()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.serial == "0c0c")
        .unwrap();
    assert_eq!(
        cert.uid.as_str(),
        erasure.pseudonym,
        "kept for the CRL, under the pseudonym"
    );
    assert!(cert.revoked_at.is_some());
    for cell in all_text(&store).await {
        for word in ["cleo", "Cleopatra", "Quast", "cleo@example.org"] {
            assert!(!names(&cell, word), "{word} is still in {cell}");
        }
        if cell.starts_with("members:") || cell.starts_with("tokens:") || cell.starts_with("audit:") {
            assert!(!names(&cell, "3"), "member number 3 is still in {cell}");
        }
    }
    let audit = store.audit_events(None, None).await.unwrap();
    let mine: Vec<_> = audit
        .iter()
        .filter(|e| e.detail.contains("not member 33 nor cleon"))
        .collect();
    assert_eq!(mine.len(), 1);
    let p = &erasure.pseudonym;
    assert_eq!(mine[0].actor, *p);
    assert_eq!(mine[0].subject, format!("uid={p},ou=people,dc=example,dc=org"));
    assert_eq!(
        mine[0].detail,
        format!("member {p} ({p} {p}, {p}); not member 33 nor cleon")
    );
    assert!(
        audit.iter().any(|e| e.action == "member.erase" && e.subject == *p),
        "the erasure itself is audited under the pseudonym"
    );
    // The other account's bucket stays; cleo's is gone (a take succeeds again).
    assert!(
        !store
            .bucket_take("a:uid=cleopatra,ou=people,dc=example,dc=org", policy, ms)
            .await
            .unwrap()
    );
    assert!(
        store
            .bucket_take("a:uid=cleo,ou=people,dc=example,dc=org", policy, ms)
            .await
            .unwrap()
    );

    assert!(matches!(
        store.erase_member(&three, &erasure, "test", now()).await,
        Err(StoreError::NotFound(_))
    ));
    let again = store
        .import_members_sparing(&left, std::slice::from_ref(&erasure.tombstone), false, false, now())
        .await
        .unwrap();
    assert_eq!((again.erased_skipped, again.added), (1, 0));
    assert!(
        store.member(&three).await.unwrap().is_none(),
        "an import does not resurrect"
    );
}

async fn erasure_is_safe_when_two_nodes_erase_at_once(store: SqlStore) {
    let url_store = store.clone();
    let csv = b"member_number,state,status\n9,BY,active\n";
    store
        .import_members(&parse_members_csv(csv).unwrap(), false, false, now())
        .await
        .unwrap();
    with_account(&store, "nina", "9").await;
    let left = b"member_number,state,status\n9,BY,left\n";
    store
        .import_members(&parse_members_csv(left).unwrap(), false, false, now())
        .await
        .unwrap();
    let nine = MemberNumber::parse("9").unwrap();
    let erasure = piratenldap_store::Erasure {
        pseudonym: piratenldap_core::erasure::pseudonym(b"k", &nine),
        tombstone: piratenldap_core::erasure::tombstone(b"k", &nine),
    };
    let (a, b) = tokio::join!(
        store.erase_member(&nine, &erasure, "node-a", now()),
        url_store.erase_member(&nine, &erasure, "node-b", now())
    );
    let oks = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    assert!([&a, &b].iter().any(|r| matches!(r, Err(StoreError::NotFound(_)))));
    let erased = store
        .audit_by_action("member.erase", now() - time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(erased.len(), 1);
}
