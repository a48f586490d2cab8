//! Issue 13 (first part): filter size and nesting limits, index lookups that cannot blow up,
//! and the server-side time limit checked during evaluation.

use std::time::{Duration, Instant};

use ldap3_proto::proto::{LdapFilter, LdapResultCode, LdapSearchScope};
use piratenldap_core::Dn;
use piratenldap_core::limits::Limits;
use piratenldap_directory::Principal;
use piratenldap_directory::view::SearchError;

use crate::fixture::*;

fn or_of(n: usize, element: LdapFilter) -> LdapFilter {
    LdapFilter::Or(vec![element; n])
}

#[tokio::test]
async fn a_filter_beyond_the_element_limit_is_refused_with_a_message() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let max = Limits::default().filter_elements;
    let (_, res, _) = f
        .search_with(
            &mut s,
            BASE,
            LdapSearchScope::Subtree,
            or_of(max, eq("uid", "bob")),
            &["1.1"],
            vec![],
        )
        .await;
    assert_eq!(res.code, LdapResultCode::AdminLimitExceeded);
    assert!(res.message.contains("limits.filter_elements"), "{}", res.message);
    let (entries, res, _) = f
        .search_with(
            &mut s,
            BASE,
            LdapSearchScope::Subtree,
            or_of(max - 1, eq("uid", "bob")),
            &["1.1"],
            vec![],
        )
        .await;
    assert_eq!((res.code, entries.len()), (LdapResultCode::Success, 1));
}

#[tokio::test]
async fn a_filter_nested_too_deep_is_refused() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let mut filter = eq("uid", "bob");
    for _ in 0..Limits::default().filter_depth {
        filter = LdapFilter::Not(Box::new(LdapFilter::Not(Box::new(filter))));
    }
    let (_, res, _) = f
        .search_with(&mut s, BASE, LdapSearchScope::Subtree, filter, &["1.1"], vec![])
        .await;
    assert_eq!(res.code, LdapResultCode::AdminLimitExceeded);
}

#[tokio::test]
async fn an_or_of_everything_costs_no_more_than_the_directory() {
    // Issue 13, finding 1: each element named every entry and the union copied them all.
    let f = Fixture::new().await;
    let view = f.ctx.directory.view();
    let admin = Principal::Admin {
        dn: Dn::parse(&person("alice")).unwrap(),
    };
    let filter = or_of(16_000, eq("objectClass", "top"));
    let base = Dn::parse(BASE).unwrap();
    let candidates = view
        .candidates(&admin, &base, &LdapSearchScope::Subtree, &filter)
        .unwrap();
    assert!(
        candidates.len() <= view.entries.len(),
        "{} candidates",
        candidates.len()
    );
}

#[tokio::test]
async fn evaluation_stops_at_the_deadline() {
    let f = Fixture::new().await;
    let view = f.ctx.directory.view();
    let admin = Principal::Admin {
        dn: Dn::parse(&person("alice")).unwrap(),
    };
    let past = Instant::now() - Duration::from_secs(1);
    let many = vec![0usize; 10_000];
    let filter = eq("objectClass", "top");
    assert_eq!(
        view.matching(&admin, &filter, many.clone(), past),
        Err(SearchError::TimeLimit)
    );
    let future = Instant::now() + Duration::from_secs(60);
    assert_eq!(
        view.matching(&admin, &filter, many, future).map(|r| r.len()),
        Ok(10_000)
    );
}

#[tokio::test]
async fn password_changes_are_rate_limited_per_account() {
    // Issue 13, finding 6: each change rebuilds the view on every node.
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    let passwords = [
        PASSWORD,
        "new horse battery staple",
        "violet tractors hum softly",
        "amber kettles whistle twice",
    ];
    for pair in passwords.windows(2) {
        assert_eq!(
            f.passwd_at(&mut s, Some(pair[0]), Some(pair[1]), t0()).await,
            LdapResultCode::Success
        );
    }
    let last = passwords[passwords.len() - 1];
    let fourth = "copper lanterns drift east";
    assert_eq!(
        f.passwd_at(&mut s, Some(last), Some(fourth), t0()).await,
        LdapResultCode::Busy
    );
    let later = t0() + time::Duration::seconds(61);
    assert_eq!(
        f.passwd_at(&mut s, Some(last), Some(fourth), later).await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn guesses_from_a_shared_address_do_not_lock_out_its_regular_users() {
    // Issue 13, finding 7: a web app or NAT is one address for many members.
    let f = Fixture::with_address_burst(3).await;
    let mut s = f.session();
    assert_eq!(f.bind(&mut s, &person("bob"), PASSWORD).await, LdapResultCode::Success);
    assert_eq!(
        f.bind(&mut s, &person("carol"), BOB_APP_PASSWORD).await,
        LdapResultCode::InvalidCredentials
    );
    // Someone sprays guesses from the same address until its bucket is empty.
    for i in 0..3 {
        let dn = person(&format!("nobody{i}"));
        assert_eq!(
            f.bind(&mut s, &dn, "guess-guess").await,
            LdapResultCode::InvalidCredentials
        );
    }
    assert_eq!(
        f.bind(&mut s, &person("bob"), PASSWORD).await,
        LdapResultCode::Success,
        "a regular user is locked out"
    );
    // An account that never bound from here waits, even with the right password.
    assert_eq!(
        f.bind(&mut s, &person("carol"), PASSWORD).await,
        LdapResultCode::InvalidCredentials
    );
    // From another address carol is not held up.
    let mut elsewhere = piratenldap_ldap::Session::new("127.0.0.2:4000".parse().unwrap(), false, None);
    assert_eq!(
        f.bind(&mut elsewhere, &person("carol"), PASSWORD).await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn paged_searches_are_capped_across_connections() {
    // The cursors of all connections together hold at most limits.cursor_memory_kib: here
    // 1 KiB, room for one cursor of this directory's DNs and not for two.
    let limits = Limits {
        cursor_memory_kib: 1,
        ..Limits::default()
    };
    let f = Fixture::with(1000, limits).await;
    let paged = vec![ldap3_proto::control::LdapControl::SimplePagedResults {
        size: 1,
        cookie: vec![],
    }];
    let mut sessions = Vec::new();
    for want in [LdapResultCode::Success, LdapResultCode::Busy] {
        let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
        let filter = LdapFilter::Present("objectClass".into());
        let (_, res, _) = f
            .search_with(&mut s, BASE, LdapSearchScope::Subtree, filter, &["1.1"], paged.clone())
            .await;
        assert_eq!(res.code, want);
        sessions.push(s);
    }
    // A connection that goes away gives its cursors' memory back.
    sessions.remove(0);
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let filter = LdapFilter::Present("objectClass".into());
    let (_, res, _) = f
        .search_with(&mut s, BASE, LdapSearchScope::Subtree, filter, &["1.1"], paged)
        .await;
    assert_eq!(res.code, LdapResultCode::Success);
}

#[tokio::test]
async fn a_page_carries_at_most_page_entries() {
    let limits = Limits {
        page_entries: 2,
        ..Limits::default()
    };
    let f = Fixture::with(1000, limits).await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let paged = |cookie| {
        vec![ldap3_proto::control::LdapControl::SimplePagedResults {
            size: 1_000_000,
            cookie,
        }]
    };
    let filter = LdapFilter::Present("objectClass".into());
    let (first, _, ctrl) = f
        .search_with(
            &mut s,
            BASE,
            LdapSearchScope::Subtree,
            filter.clone(),
            &["1.1"],
            paged(vec![]),
        )
        .await;
    assert_eq!(first.len(), 2);
    let cookie = ctrl
        .iter()
        .find_map(|c| match c {
            ldap3_proto::control::LdapControl::SimplePagedResults { cookie, .. } => Some(cookie.clone()),
            _ => None,
        })
        .unwrap();
    assert!(!cookie.is_empty(), "the rest waits behind a cookie");
    let (next, _, _) = f
        .search_with(&mut s, BASE, LdapSearchScope::Subtree, filter, &["1.1"], paged(cookie))
        .await;
    assert_eq!(next.len(), 2);
}

#[tokio::test]
async fn with_the_database_down_binds_stay_throttled_totp_codes_work_once_and_audit_waits() {
    // Issue 13, "Database outage": the tables the throttle, TOTP steps and audit write to are
    // taken away, as when the database stops answering.
    let f = Fixture::new().await;
    f.sql(
        "ALTER TABLE buckets RENAME TO buckets_down; ALTER TABLE accounts RENAME TO accounts_down; \
         ALTER TABLE audit RENAME TO audit_down;",
    );
    let mut s = f.session();
    assert_eq!(
        f.bind(&mut s, &person("bob"), PASSWORD).await,
        LdapResultCode::Success,
        "binds from the view"
    );
    let code = format!("{PASSWORD}{}", code_at(ALICE_TOTP_SECRET, t0()));
    assert_eq!(f.bind(&mut s, &person("alice"), &code).await, LdapResultCode::Success);
    assert_eq!(
        f.bind(&mut s, &person("alice"), &code).await,
        LdapResultCode::InvalidCredentials,
        "a code twice"
    );
    for _ in 0..ACCOUNT_BURST {
        assert_eq!(
            f.bind(&mut s, &person("carol"), "guess-guess").await,
            LdapResultCode::InvalidCredentials
        );
    }
    assert_eq!(
        f.bind(&mut s, &person("carol"), PASSWORD).await,
        LdapResultCode::InvalidCredentials,
        "guessing unthrottled"
    );
    // The database comes back: the audit events of the outage are written.
    f.sql(
        "ALTER TABLE buckets_down RENAME TO buckets; ALTER TABLE accounts_down RENAME TO accounts; \
         ALTER TABLE audit_down RENAME TO audit;",
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = f.store.audit_events(Some("carol"), None).await.unwrap();
    assert!(
        events.iter().filter(|e| e.action == "bind.fail").count() >= ACCOUNT_BURST as usize,
        "{events:?}"
    );
}
