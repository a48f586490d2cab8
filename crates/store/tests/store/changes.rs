//! The change log (issue 17): each kind of write lists exactly the keys it changed, with the
//! current rows; a deleted row's key comes without a row; `Unchanged` at the current revision;
//! `Rebuild` for `Everything`, a revision before the log, a restore, or too many keys.

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::parse_members_csv;
use piratenldap_store::oidc::OidcRegistration;
use piratenldap_store::{Delta, PartialSnapshot, ServiceProfile, SqlStore, Store, TokenKind};

use super::{CSV, issue_certificate, now, switch_fixture, with_account};

on_both_backends!(
    an_import_lists_the_members_it_changed,
    an_import_of_more_than_ten_thousand_members_logs_everything,
    account_writes_list_the_account_and_its_member,
    group_writes_list_the_group_and_the_accounts,
    service_writes_list_the_service,
    certificates_and_the_switch_list_the_holder,
    the_log_answers_unchanged_or_rebuild,
);

async fn revision(store: &SqlStore) -> i64 {
    store.revision().await.unwrap()
}

/// What changed since `from`, which must be rows at the current revision.
async fn rows_since(store: &SqlStore, from: i64) -> PartialSnapshot {
    match store.changes_since(from, 1000).await.unwrap() {
        Delta::Rows(rows) => {
            assert_eq!((rows.from, rows.revision), (from, revision(store).await));
            rows
        }
        other => panic!("rows since {from} expected, got {other:?}"),
    }
}

/// Asserts the keys listed: member numbers, uids, groups and services, in order.
fn check(rows: &PartialSnapshot, members: &[&str], uids: &[&str], groups: &[&str], services: &[&str]) {
    let text = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
    let listed = (
        text(rows.member_numbers.iter().map(MemberNumber::as_str).collect()),
        text(rows.uids.iter().map(Uid::as_str).collect()),
        text(rows.group_names.iter().map(Name::as_str).collect()),
        text(rows.service_names.iter().map(Name::as_str).collect()),
    );
    let expected = (
        text(members.to_vec()),
        text(uids.to_vec()),
        text(groups.to_vec()),
        text(services.to_vec()),
    );
    assert_eq!(listed, expected, "(members, uids, groups, services) in {rows:?}");
}

fn rebuild(delta: Delta, says: &str) {
    match delta {
        Delta::Rebuild(why) => assert!(why.contains(says), "{why:?} should say {says:?}"),
        other => panic!("Rebuild ({says}) expected, got {other:?}"),
    }
}

/// Imports the members a CSV lists (`full`: marks the others left; `dry_run`: changes nothing).
async fn import(store: &SqlStore, csv: &[u8], full: bool, dry_run: bool) {
    let records = parse_members_csv(csv).unwrap();
    store.import_members(&records, full, dry_run, now()).await.unwrap();
}

fn number(n: &str) -> MemberNumber {
    MemberNumber::parse(n).unwrap()
}

async fn an_import_lists_the_members_it_changed(store: SqlStore) {
    let r = revision(&store).await;
    import(&store, CSV, false, false).await;
    let rows = rows_since(&store, r).await;
    check(&rows, &["1", "2", "3"], &[], &["lv-by", "lv-nw"], &[]);
    assert_eq!(rows.members.len(), 3);
    assert_eq!(rows.groups.len(), 2);

    // Only the member whose data changed.
    let moved = b"member_number,state,status,voting_right,given_name,surname,email\n\
1,BY,active,true,Anna,Alt,anna@new.example\n\
2,BY,suspended,false,Bert,Berg,\n\
3,NW,active,true,,,\n";
    let r = revision(&store).await;
    import(&store, moved, false, true).await;
    assert!(matches!(store.changes_since(r, 1000).await.unwrap(), Delta::Unchanged));
    import(&store, moved, false, false).await;
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &[], &[], &[]);
    assert_eq!(rows.members[0].email.as_deref(), Some("anna@new.example"));

    // A member with an account lists the account too.
    let anna = with_account(&store, "anna", "1").await;
    let r = revision(&store).await;
    import(&store, CSV, false, false).await;
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &[], &[]);
    assert_eq!(rows.accounts[0].uid, anna);

    // --full: member 3 is marked left.
    let two = b"member_number,state,status,voting_right,given_name,surname,email\n\
1,BY,active,true,Anna,Alt,anna@example.org\n\
2,BY,suspended,false,Bert,Berg,\n";
    let r = revision(&store).await;
    import(&store, two, true, false).await;
    let rows = rows_since(&store, r).await;
    check(&rows, &["3"], &[], &[], &[]);
    assert_eq!(rows.members[0].status, MembershipStatus::Left);
}

async fn an_import_of_more_than_ten_thousand_members_logs_everything(store: SqlStore) {
    let mut csv = String::from("member_number,state\n");
    for n in 1..=10_001 {
        csv.push_str(&format!("{n},BY\n"));
    }
    let r = revision(&store).await;
    import(&store, csv.as_bytes(), false, false).await;
    rebuild(store.changes_since(r, usize::MAX).await.unwrap(), "too much");
}

async fn account_writes_list_the_account_and_its_member(store: SqlStore) {
    import(&store, CSV, false, false).await;
    let r = revision(&store).await;
    let anna = with_account(&store, "anna", "1").await;
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &[], &[]);
    assert_eq!(rows.accounts.len(), 1);
    assert_eq!(rows.members[0].number, number("1"));

    let r = revision(&store).await;
    store.set_account_locked(&anna, true, "test", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &[], &[]);
    assert!(rows.accounts[0].locked);
    store.set_account_locked(&anna, false, "test", now()).await.unwrap();

    let r = revision(&store).await;
    store.set_account_password(&anna, "h2", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &[], &[]);
    assert_eq!(rows.accounts[0].password_hash, "h2");

    let r = revision(&store).await;
    store.rehash_account_password(&anna, "h3", now()).await.unwrap();
    check(&rows_since(&store, r).await, &["1"], &["anna"], &[], &[]);

    let r = revision(&store).await;
    store.set_totp_secret(&anna, "sealed", "test", now()).await.unwrap();
    check(&rows_since(&store, r).await, &["1"], &["anna"], &[], &[]);
    let r = revision(&store).await;
    store.set_totp_enabled(&anna, true, "test", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &[], &[]);
    assert!(rows.accounts[0].totp_enabled);

    let r = revision(&store).await;
    store
        .add_app_password(&anna, "mail", "ah", "test", now())
        .await
        .unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &[], &[]);
    assert_eq!(rows.app_passwords.len(), 1);
    let r = revision(&store).await;
    store.revoke_app_password(&anna, "mail", "test", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &[], &[]);
    assert!(rows.app_passwords.is_empty());

    let r = revision(&store).await;
    let by = StateCode::parse("BY").unwrap();
    store
        .grant_chapter_admin(&anna, &by, false, "test", now())
        .await
        .unwrap();
    check(&rows_since(&store, r).await, &["1"], &["anna"], &[], &[]);

    // Activation by a letter's token, then a reset.
    let later = now() + time::Duration::days(1);
    let cleo = Uid::parse("cleo").unwrap();
    let tokens = [(number("3"), "mac-3".to_string())];
    store
        .issue_tokens(&tokens, TokenKind::Activation, later, "test", now())
        .await
        .unwrap();
    let r = revision(&store).await;
    store.activate_token("mac-3", &cleo, "Cleo", "h", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["3"], &["cleo"], &[], &[]);
    assert_eq!(rows.accounts[0].display_name, "Cleo");
    let tokens = [(number("3"), "reset-3".to_string())];
    store
        .issue_tokens(&tokens, TokenKind::Reset, later, "test", now())
        .await
        .unwrap();
    let r = revision(&store).await;
    store
        .reset_with_token("reset-3", "h9", piratenldap_store::SecondFactorReset::Keep, now())
        .await
        .unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["3"], &["cleo"], &[], &[]);
    assert_eq!(rows.accounts[0].password_hash, "h9");
}

async fn group_writes_list_the_group_and_the_accounts(store: SqlStore) {
    let anna = with_account(&store, "anna", "1").await;
    let bert = with_account(&store, "bert", "2").await;
    let wiki = Name::parse("wiki").unwrap();
    let r = revision(&store).await;
    store.create_group(&wiki, Some("Wiki"), None, now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &[], &[], &["wiki"], &[]);
    assert_eq!(rows.groups[0].description.as_deref(), Some("Wiki"));

    let r = revision(&store).await;
    store.add_group_member(&wiki, &anna, now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &["wiki"], &[]);
    assert_eq!(rows.groups[0].manual_members, vec![anna.clone()]);

    store.add_group_member(&wiki, &bert, now()).await.unwrap();
    let r = revision(&store).await;
    store
        .remove_group_member(&wiki, &anna, &[], "test", now())
        .await
        .unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["1"], &["anna"], &["wiki"], &[]);
    assert_eq!(rows.groups[0].manual_members, vec![bert.clone()]);

    // A deleted group is listed without a row, with its members' accounts.
    let r = revision(&store).await;
    store.delete_group(&wiki).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["2"], &["bert"], &["wiki"], &[]);
    assert!(rows.groups.is_empty());
}

async fn service_writes_list_the_service(store: SqlStore) {
    let profile = ServiceProfile {
        name: Name::parse("wiki").unwrap(),
        attrs: None,
        members_of: None,
        real_names: false,
        include_inactive: false,
        pseudonymous: false,
        chapter: None,
    };
    let r = revision(&store).await;
    store.add_service(&profile, "h", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &[], &[], &[], &["wiki"]);
    assert_eq!(rows.services[0].profile, profile);

    let r = revision(&store).await;
    store.set_service_password(&profile.name, "h2", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &[], &[], &[], &["wiki"]);
    assert_eq!(rows.services[0].password_hash, "h2");

    let r = revision(&store).await;
    store.remove_service(&profile.name).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &[], &[], &[], &["wiki"]);
    assert!(rows.services.is_empty());

    let client = ServiceProfile {
        name: Name::parse("sso").unwrap(),
        ..profile
    };
    let registration = OidcRegistration {
        secret_hash: Some("s".into()),
        redirect_uris: vec!["https://sso.example/cb".into()],
        logout_uri: None,
        pairwise: false,
        consent: false,
    };
    let r = revision(&store).await;
    store
        .oidc()
        .add_oidc_client(&client, &registration, now())
        .await
        .unwrap();
    check(&rows_since(&store, r).await, &[], &[], &[], &["sso"]);
    let r = revision(&store).await;
    store.oidc().set_oidc_secret(&client.name, "t", now()).await.unwrap();
    check(&rows_since(&store, r).await, &[], &[], &[], &["sso"]);
}

async fn certificates_and_the_switch_list_the_holder(store: SqlStore) {
    // cleo (member 3) holds certificate 0c0c; anna and bert are admins.
    let cleo = switch_fixture(&store).await;
    let r = revision(&store).await;
    store
        .revoke_certificate("0c0c", "key lost", "test", now())
        .await
        .unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["3"], &["cleo"], &[], &[]);
    assert!(rows.certificates[0].revoked_at.is_some());

    let r = revision(&store).await;
    issue_certificate(&store, &cleo, "0d0d").await;
    let rows = rows_since(&store, r).await;
    check(&rows, &["3"], &["cleo"], &[], &[]);
    let serials: Vec<&str> = rows.certificates.iter().map(|c| c.serial.as_str()).collect();
    assert_eq!(serials, ["0c0c", "0d0d"]);

    let r = revision(&store).await;
    store
        .suspend_member(&number("3"), "unpaid", "test", now())
        .await
        .unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["3"], &["cleo"], &[], &[]);
    assert_eq!(rows.members[0].status, MembershipStatus::Suspended);
    assert!(rows.certificates.iter().all(|c| c.revoked_at.is_some()));

    let r = revision(&store).await;
    store.reinstate_member(&number("3"), "test", now()).await.unwrap();
    let rows = rows_since(&store, r).await;
    check(&rows, &["3"], &["cleo"], &[], &[]);
    assert_eq!(rows.members[0].status, MembershipStatus::Active);
}

async fn the_log_answers_unchanged_or_rebuild(store: SqlStore) {
    let start = revision(&store).await;
    assert!(matches!(
        store.changes_since(start, 1000).await.unwrap(),
        Delta::Unchanged
    ));
    rebuild(store.changes_since(start - 1, 1000).await.unwrap(), "reaches back");
    rebuild(store.changes_since(start + 1, 1000).await.unwrap(), "ahead");

    // Three members and two state groups: five keys.
    import(&store, CSV, false, false).await;
    rebuild(store.changes_since(start, 4).await.unwrap(), "more than 4 keys");
    assert!(matches!(store.changes_since(start, 5).await.unwrap(), Delta::Rows(_)));

    // The daily pruning keeps a short log whole.
    store.prune_audit(now() - time::Duration::days(365)).await.unwrap();
    assert!(matches!(store.changes_since(start, 5).await.unwrap(), Delta::Rows(_)));

    // An LDIF import logs Everything.
    let r = revision(&store).await;
    store.import_directory(&[], &[], false, "test", now()).await.unwrap();
    rebuild(store.changes_since(r, 1000).await.unwrap(), "too much");
    rebuild(store.changes_since(start, 1000).await.unwrap(), "too much");

    // A restore starts the log anew past every revision seen before.
    let dump = store.dump().await.unwrap();
    store
        .create_group(&Name::parse("wiki").unwrap(), None, None, now())
        .await
        .unwrap();
    let r = revision(&store).await;
    store.load(&dump).await.unwrap();
    let restored = revision(&store).await;
    assert!(restored > r, "{restored} > {r}");
    rebuild(store.changes_since(r, 1000).await.unwrap(), "reaches back");
    assert!(matches!(
        store.changes_since(restored, 1000).await.unwrap(),
        Delta::Unchanged
    ));
    store
        .suspend_member(&number("1"), "unpaid", "test", now())
        .await
        .unwrap();
    check(&rows_since(&store, restored).await, &["1"], &[], &[], &[]);
}
