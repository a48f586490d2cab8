//! The store API against a real SQLite file (PostgreSQL joins with issue 6).
#![allow(clippy::unwrap_used)]

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, Uid};
use piratenldap_core::import::parse_members_csv;
use piratenldap_store::{GroupKind, NewAccount, ServiceProfile, SqliteStore, Store, StoreError};
use time::OffsetDateTime;

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    let store = SqliteStore::open(&url).await.unwrap();
    (dir, store)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

const CSV: &[u8] = b"member_number,state,status,voting_right,given_name,surname,email\n\
1,BY,active,true,Anna,Alt,anna@example.org\n\
2,BY,suspended,false,Bert,Berg,\n\
3,NW,active,true,,,\n";

#[tokio::test]
async fn import_upserts_counts_and_creates_state_groups() {
    let (_d, store) = fresh().await;
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

#[tokio::test]
async fn dry_run_and_full_import() {
    let (_d, store) = fresh().await;
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

#[tokio::test]
async fn accounts_are_unique_per_member_and_uid() {
    let (_d, store) = fresh().await;
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

#[tokio::test]
async fn manual_groups_and_automatic_ones_are_read_only() {
    let (_d, store) = fresh().await;
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
    store.create_group(&wiki, Some("Wiki admins"), now()).await.unwrap();
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
        store.create_group(&Name::parse("lv-xx").unwrap(), None, now()).await,
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

#[tokio::test]
async fn services_round_trip() {
    let (_d, store) = fresh().await;
    let profile = ServiceProfile {
        name: Name::parse("wiki").unwrap(),
        attrs: Some(vec!["uid".into(), "mail".into()]),
        members_of: Some(Name::parse("voting").unwrap()),
        real_names: true,
        include_inactive: false,
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
