//! One test per behaviour of the operations: binds of every kind, the holes of issue 12
//! (member lists in filters and compare, Password Modify, cursors across a rebind), compare,
//! paging, and rights that end with a lock or a demotion.

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapExtendedRequest, LdapFilter, LdapMatchingRuleAssertion, LdapOp, LdapResultCode,
    LdapSearchScope, LdapSubstringFilter, SaslCredentials,
};
use piratenldap_core::ids::{Name, Uid};
use time::Duration;

use crate::fixture::*;

const ALL: &[&str] = &[];

fn totp(at: time::OffsetDateTime) -> String {
    format!("{PASSWORD}{}", code_at(ALICE_TOTP_SECRET, at))
}

async fn whoami(f: &Fixture, s: &mut piratenldap_ldap::Session) -> String {
    let req = LdapExtendedRequest {
        name: "1.3.6.1.4.1.4203.1.11.3".into(),
        value: None,
    };
    match f
        .send(s, LdapOp::ExtendedRequest(req), vec![], t0())
        .await
        .pop()
        .map(|m| m.op)
    {
        Some(LdapOp::ExtendedResponse(r)) => String::from_utf8(r.value.unwrap_or_default()).unwrap(),
        other => panic!("{other:?}"),
    }
}

// ---- binds -------------------------------------------------------------------------------

#[tokio::test]
async fn anonymous_bind_succeeds_and_reads_nothing_of_the_tree() {
    let f = Fixture::new().await;
    let mut s = f.session();
    assert_eq!(f.bind(&mut s, "", "").await, LdapResultCode::Success);
    let (_, res, _) = f
        .search_with(&mut s, BASE, LdapSearchScope::Subtree, eq("uid", "bob"), ALL, vec![])
        .await;
    assert_eq!(res.code, LdapResultCode::InsufficentAccessRights);
}

#[tokio::test]
async fn password_bind_makes_the_session_the_member() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    assert_eq!(whoami(&f, &mut s).await, format!("dn:{}", person("bob")));
}

#[tokio::test]
async fn wrong_password_unknown_dn_and_locked_account_get_one_answer() {
    let f = Fixture::new().await;
    let mut s = f.session();
    for (dn, pw) in [
        (person("bob"), "wrong-password"),
        (person("nobody"), PASSWORD),
        (person("eve"), PASSWORD),
    ] {
        assert_eq!(
            f.bind(&mut s, &dn, pw).await,
            LdapResultCode::InvalidCredentials,
            "{dn}"
        );
    }
}

#[tokio::test]
async fn malformed_binds_are_refused_with_their_reason() {
    let f = Fixture::new().await;
    let mut s = f.session();
    assert_eq!(
        f.bind(&mut s, &person("bob"), "").await,
        LdapResultCode::UnwillingToPerform
    );
    assert_eq!(f.bind(&mut s, "", PASSWORD).await, LdapResultCode::InvalidCredentials);
    assert_eq!(
        f.bind(&mut s, "uid=bob,,", PASSWORD).await,
        LdapResultCode::InvalidDNSyntax
    );
    let v2 = LdapBindRequest {
        version: 2,
        dn: person("bob"),
        cred: LdapBindCred::Simple(PASSWORD.into()),
    };
    let res = f.send(&mut s, LdapOp::BindRequest(v2), vec![], t0()).await;
    assert!(matches!(&res[0].op, LdapOp::BindResponse(r) if r.res.code == LdapResultCode::ProtocolError));
}

#[tokio::test]
async fn a_password_from_another_host_needs_tls() {
    let f = Fixture::new().await;
    let mut s = piratenldap_ldap::Session::new("192.0.2.7:3000".parse().unwrap(), false, None);
    assert_eq!(
        f.bind(&mut s, &person("bob"), PASSWORD).await,
        LdapResultCode::ConfidentialityRequired
    );
}

#[tokio::test]
async fn sasl_other_than_external_and_external_without_tls_are_refused() {
    let f = Fixture::new().await;
    let mut s = f.session();
    for (mechanism, want) in [
        ("DIGEST-MD5", LdapResultCode::AuthMethodNotSupported),
        ("EXTERNAL", LdapResultCode::InappropriateAuthentication),
    ] {
        let req = LdapBindRequest {
            version: 3,
            dn: String::new(),
            cred: LdapBindCred::SASL(SaslCredentials {
                mechanism: mechanism.into(),
                credentials: vec![],
            }),
        };
        let res = f.send(&mut s, LdapOp::BindRequest(req), vec![], t0()).await;
        assert!(
            matches!(&res[0].op, LdapOp::BindResponse(r) if r.res.code == want),
            "{mechanism}"
        );
    }
}

#[tokio::test]
async fn external_with_a_certificate_we_did_not_issue_is_invalid_credentials() {
    let f = Fixture::new().await;
    let mut s = piratenldap_ldap::Session::new("127.0.0.1:1".parse().unwrap(), true, Some("ab".repeat(32)));
    let req = LdapBindRequest {
        version: 3,
        dn: String::new(),
        cred: LdapBindCred::SASL(SaslCredentials {
            mechanism: "EXTERNAL".into(),
            credentials: vec![],
        }),
    };
    let res = f.send(&mut s, LdapOp::BindRequest(req), vec![], t0()).await;
    assert!(matches!(&res[0].op, LdapOp::BindResponse(r) if r.res.code == LdapResultCode::InvalidCredentials));
}

#[tokio::test]
async fn a_totp_account_needs_the_code_and_each_code_works_once() {
    let f = Fixture::new().await;
    let mut s = f.session();
    let alice = person("alice");
    assert_eq!(
        f.bind(&mut s, &alice, PASSWORD).await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        f.bind_at(&mut s, &alice, &totp(t0()), t0()).await,
        LdapResultCode::Success
    );
    assert_eq!(
        f.bind_at(&mut s, &alice, &totp(t0()), t0()).await,
        LdapResultCode::InvalidCredentials,
        "the same code again"
    );
    let later = t0() + Duration::seconds(30);
    assert_eq!(
        f.bind_at(&mut s, &alice, &totp(later), later).await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn app_password_and_service_binds() {
    let f = Fixture::new().await;
    let mut s = f.session();
    assert_eq!(
        f.bind(&mut s, &person("bob"), BOB_APP_PASSWORD).await,
        LdapResultCode::Success
    );
    assert_eq!(
        f.bind(&mut s, &service("wiki"), SERVICE_PASSWORD).await,
        LdapResultCode::Success
    );
    assert_eq!(
        f.bind(&mut s, &service("wiki"), PASSWORD).await,
        LdapResultCode::InvalidCredentials
    );
}

#[tokio::test]
async fn after_the_burst_even_the_right_password_waits_for_the_refill() {
    let f = Fixture::new().await;
    let mut s = f.session();
    for _ in 0..ACCOUNT_BURST {
        assert_eq!(
            f.bind(&mut s, &person("bob"), "guess-guess").await,
            LdapResultCode::InvalidCredentials
        );
    }
    assert_eq!(
        f.bind(&mut s, &person("bob"), PASSWORD).await,
        LdapResultCode::InvalidCredentials
    );
    let later = t0() + Duration::seconds(31);
    assert_eq!(
        f.bind_at(&mut s, &person("bob"), PASSWORD, later).await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn a_failed_bind_leaves_the_session_anonymous() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    assert_eq!(
        f.bind(&mut s, &person("bob"), "wrong").await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(whoami(&f, &mut s).await, "");
}

#[tokio::test]
async fn audit_names_the_account_of_a_failed_bind() {
    let f = Fixture::new().await;
    let mut s = f.session();
    f.bind(&mut s, &person("bob"), "wrong").await;
    f.bind(&mut s, &service("wiki"), "wrong").await;
    // The sink writes in batches within 50 ms.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for subject in ["bob", "wiki"] {
        let events = f.store.audit_events(Some(subject), None).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.action == "bind.fail" && e.detail.contains("127.0.0.1")),
            "{subject}: {events:?}"
        );
    }
}

// ---- issue 12, finding 1: member lists in filters and compare ---------------------------

#[tokio::test]
async fn a_narrowed_service_cannot_find_groups_by_an_invisible_member() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wikionly"), SERVICE_PASSWORD).await;
    assert!(f.dns(&mut s, eq("memberUid", "alice")).await.is_empty());
    assert!(f.dns(&mut s, eq("member", &person("alice"))).await.is_empty());
    let groups = f.dns(&mut s, eq("memberUid", "bob")).await;
    assert!(
        groups.contains(&group("wikiusers")) && groups.contains(&group("members")),
        "{groups:?}"
    );
}

#[tokio::test]
async fn a_narrowed_service_cannot_enumerate_admins_by_prefix() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wikionly"), SERVICE_PASSWORD).await;
    let filter = LdapFilter::And(vec![
        eq("cn", "admins"),
        LdapFilter::Substring(
            "memberUid".into(),
            LdapSubstringFilter {
                initial: Some("al".into()),
                any: vec![],
                final_: None,
            },
        ),
    ]);
    assert!(f.dns(&mut s, filter).await.is_empty());
    let extensible = LdapFilter::Extensible(LdapMatchingRuleAssertion {
        matching_rule: Some("caseExactMatch".into()),
        type_: Some("memberUid".into()),
        match_value: "alice".into(),
        dn_attributes: false,
    });
    assert!(f.dns(&mut s, extensible).await.is_empty());
    let ordering = LdapFilter::GreaterOrEqual("memberUid".into(), "a".into());
    assert_eq!(
        f.dns(&mut s, LdapFilter::And(vec![eq("cn", "admins"), ordering]))
            .await
            .len(),
        0
    );
}

#[tokio::test]
async fn compare_cannot_prove_an_invisible_member() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wikionly"), SERVICE_PASSWORD).await;
    let admins = group("admins");
    assert_eq!(
        f.compare(&mut s, &admins, "member", &person("alice")).await,
        LdapResultCode::NoSuchAttribute
    );
    assert_eq!(
        f.compare(&mut s, &admins, "memberUid", "alice").await,
        LdapResultCode::NoSuchAttribute
    );
    let wikiusers = group("wikiusers");
    assert_eq!(
        f.compare(&mut s, &wikiusers, "memberUid", "eve").await,
        LdapResultCode::CompareFalse
    );
    assert_eq!(
        f.compare(&mut s, &wikiusers, "memberUid", "bob").await,
        LdapResultCode::CompareTrue
    );
}

#[tokio::test]
async fn the_default_profile_does_not_learn_a_locked_accounts_groups() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    assert!(f.dns(&mut s, eq("memberUid", "eve")).await.is_empty());
    assert!(f.dns(&mut s, eq("member", &person("eve"))).await.is_empty());
    let (entries, _, _) = f
        .search_with(
            &mut s,
            &group("wikiusers"),
            LdapSearchScope::Base,
            LdapFilter::Present("objectClass".into()),
            &["memberUid"],
            vec![],
        )
        .await;
    assert_eq!(entries[0].attributes[0].vals, vec![b"bob".to_vec()]);
}

#[tokio::test]
async fn an_admin_sees_every_member_value() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("alice"), &totp(t0())).await;
    let groups = f.dns(&mut s, eq("memberUid", "eve")).await;
    assert!(
        groups.contains(&group("wikiusers")) && groups.contains(&group("lv-hh")),
        "{groups:?}"
    );
}

#[tokio::test]
async fn a_member_cannot_filter_on_member_lists_or_others() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    assert!(f.dns(&mut s, eq("memberUid", "bob")).await.is_empty());
    assert!(f.dns(&mut s, eq("member", &person("alice"))).await.is_empty());
    assert!(f.dns(&mut s, eq("uid", "carol")).await.is_empty());
    assert_eq!(f.dns(&mut s, eq("uid", "bob")).await, vec![person("bob")]);
}

#[tokio::test]
async fn real_names_only_with_the_profile() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    assert!(f.dns(&mut s, eq("sn", "Brecht")).await.is_empty());
    assert!(f.dns(&mut s, eq("pirateMemberNumber", "2")).await.is_empty());
    let mut hr = f.bound(&service("hr"), SERVICE_PASSWORD).await;
    assert_eq!(f.dns(&mut hr, eq("sn", "Brecht")).await, vec![person("bob")]);
}

#[tokio::test]
async fn inactive_members_are_outside_a_services_population() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    assert!(f.dns(&mut s, eq("uid", "dora")).await.is_empty());
    assert_eq!(
        f.compare(&mut s, &person("dora"), "uid", "dora").await,
        LdapResultCode::NoSuchObject
    );
}

// ---- compare -----------------------------------------------------------------------------

#[tokio::test]
async fn compare_true_false_and_refusals() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let bob = person("bob");
    assert_eq!(f.compare(&mut s, &bob, "uid", "BOB").await, LdapResultCode::CompareTrue);
    assert_eq!(
        f.compare(&mut s, &bob, "uid", "carol").await,
        LdapResultCode::CompareFalse
    );
    assert_eq!(
        f.compare(&mut s, &bob, "userPassword", PASSWORD).await,
        LdapResultCode::InsufficentAccessRights
    );
    assert_eq!(
        f.compare(&mut s, &bob, "givenName", "Bob").await,
        LdapResultCode::NoSuchAttribute
    );
    assert_eq!(
        f.compare(&mut s, &bob, "noSuchAttr", "x").await,
        LdapResultCode::UndefinedAttributeType
    );
    assert_eq!(
        f.compare(&mut s, "uid=x,,", "uid", "x").await,
        LdapResultCode::InvalidDNSyntax
    );
    assert_eq!(
        f.compare(&mut s, &person("eve"), "uid", "eve").await,
        LdapResultCode::NoSuchObject
    );
}

// ---- paging and rebinds ------------------------------------------------------------------

fn paged(size: i64, cookie: Vec<u8>) -> Vec<LdapControl> {
    vec![LdapControl::SimplePagedResults { size, cookie }]
}

fn cookie_of(ctrl: &[LdapControl]) -> Vec<u8> {
    ctrl.iter()
        .find_map(|c| match c {
            LdapControl::SimplePagedResults { cookie, .. } => Some(cookie.clone()),
            _ => None,
        })
        .unwrap()
}

async fn first_page(f: &Fixture, s: &mut piratenldap_ldap::Session) -> Vec<u8> {
    let (entries, res, ctrl) = f
        .search_with(
            s,
            BASE,
            LdapSearchScope::Subtree,
            LdapFilter::Present("objectClass".into()),
            &["1.1"],
            paged(2, vec![]),
        )
        .await;
    assert_eq!((entries.len(), res.code), (2, LdapResultCode::Success));
    let cookie = cookie_of(&ctrl);
    assert!(!cookie.is_empty());
    cookie
}

async fn next_page(f: &Fixture, s: &mut piratenldap_ldap::Session, cookie: Vec<u8>) -> LdapResultCode {
    let (_, res, _) = f
        .search_with(
            s,
            BASE,
            LdapSearchScope::Subtree,
            LdapFilter::Present("objectClass".into()),
            &["1.1"],
            paged(2, cookie),
        )
        .await;
    res.code
}

#[tokio::test]
async fn a_paged_search_continues_with_its_cookie() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let cookie = first_page(&f, &mut s).await;
    assert_eq!(next_page(&f, &mut s, cookie).await, LdapResultCode::Success);
}

#[tokio::test]
async fn a_rebind_ends_every_cursor() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let cookie = first_page(&f, &mut s).await;
    assert_eq!(f.bind(&mut s, &person("bob"), PASSWORD).await, LdapResultCode::Success);
    assert_eq!(next_page(&f, &mut s, cookie).await, LdapResultCode::UnwillingToPerform);
}

#[tokio::test]
async fn a_failed_rebind_ends_every_cursor_too() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let cookie = first_page(&f, &mut s).await;
    assert_eq!(
        f.bind(&mut s, &person("bob"), "wrong").await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        f.bind(&mut s, &service("wiki"), SERVICE_PASSWORD).await,
        LdapResultCode::Success
    );
    assert_eq!(next_page(&f, &mut s, cookie).await, LdapResultCode::UnwillingToPerform);
}

#[tokio::test]
async fn starttls_ends_every_cursor() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let cookie = first_page(&f, &mut s).await;
    let req = LdapExtendedRequest {
        name: "1.3.6.1.4.1.1466.20037".into(),
        value: None,
    };
    let res = f.send(&mut s, LdapOp::ExtendedRequest(req), vec![], t0()).await;
    assert!(matches!(&res[0].op, LdapOp::ExtendedResponse(r) if r.res.code == LdapResultCode::Success));
    assert_eq!(next_page(&f, &mut s, cookie).await, LdapResultCode::UnwillingToPerform);
}

// ---- Password Modify ---------------------------------------------------------------------

#[tokio::test]
async fn password_modify_needs_a_bound_member() {
    let f = Fixture::new().await;
    let mut s = f.session();
    assert_eq!(
        f.passwd_at(&mut s, Some(PASSWORD), Some("new horse battery staple"), t0())
            .await,
        LdapResultCode::InsufficentAccessRights
    );
    let mut svc = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    assert_eq!(
        f.passwd_at(&mut svc, Some(SERVICE_PASSWORD), Some("new horse battery staple"), t0())
            .await,
        LdapResultCode::UnwillingToPerform
    );
}

#[tokio::test]
async fn an_app_password_session_cannot_change_the_password() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), BOB_APP_PASSWORD).await;
    let new = "taken over battery staple";
    assert_eq!(
        f.passwd_at(&mut s, None, Some(new), t0()).await,
        LdapResultCode::InsufficentAccessRights
    );
    assert_eq!(
        f.passwd_at(&mut s, Some(PASSWORD), Some(new), t0()).await,
        LdapResultCode::InsufficentAccessRights
    );
    f.ctx.directory.refresh().await.unwrap();
    let mut other = f.session();
    assert_eq!(
        f.bind(&mut other, &person("bob"), new).await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        f.bind(&mut other, &person("bob"), PASSWORD).await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn password_modify_needs_the_old_password() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    assert_eq!(
        f.passwd_at(&mut s, None, Some("new horse battery staple"), t0()).await,
        LdapResultCode::UnwillingToPerform
    );
    assert_eq!(
        f.passwd_at(&mut s, Some("not-the-password"), Some("new horse battery staple"), t0())
            .await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        f.passwd_at(&mut s, Some(BOB_APP_PASSWORD), Some("new horse battery staple"), t0())
            .await,
        LdapResultCode::InvalidCredentials,
        "an app password is not the password"
    );
}

#[tokio::test]
async fn wrong_old_passwords_count_on_the_bind_throttle() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    for _ in 0..ACCOUNT_BURST {
        assert_eq!(
            f.passwd_at(&mut s, Some("guess-guess"), Some("new horse battery staple"), t0())
                .await,
            LdapResultCode::InvalidCredentials
        );
    }
    // The throttle now refuses even the right old password, and binds too.
    assert_eq!(
        f.passwd_at(&mut s, Some(PASSWORD), Some("new horse battery staple"), t0())
            .await,
        LdapResultCode::InvalidCredentials
    );
    let mut other = f.session();
    assert_eq!(
        f.bind(&mut other, &person("bob"), PASSWORD).await,
        LdapResultCode::InvalidCredentials
    );
}

#[tokio::test]
async fn the_new_password_passes_the_portals_rule() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    for weak in ["aaaaaaaaaa", "password123", "short", "bob-bob-bob"] {
        assert_eq!(
            f.passwd_at(&mut s, Some(PASSWORD), Some(weak), t0()).await,
            LdapResultCode::ConstraintViolation,
            "{weak}"
        );
    }
}

#[tokio::test]
async fn a_totp_account_changes_its_password_with_password_and_code() {
    let f = Fixture::new().await;
    let t1 = t0() + Duration::seconds(30);
    let mut s = f.bound(&person("alice"), &totp(t0())).await;
    let new = "new horse battery staple";
    assert_eq!(
        f.passwd_at(&mut s, Some(PASSWORD), Some(new), t1).await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(
        f.passwd_at(&mut s, Some(&totp(t1)), Some(new), t1).await,
        LdapResultCode::Success
    );
    let t2 = t1 + Duration::seconds(30);
    let mut other = f.session();
    assert_eq!(
        f.bind_at(&mut other, &person("alice"), new, t2).await,
        LdapResultCode::InvalidCredentials
    );
    let code = code_at(ALICE_TOTP_SECRET, t2);
    assert_eq!(
        f.bind_at(&mut other, &person("alice"), &format!("{new}{code}"), t2)
            .await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn a_changed_password_binds_and_the_old_one_does_not() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    let new = "new horse battery staple";
    assert_eq!(
        f.passwd_at(&mut s, Some(PASSWORD), Some(new), t0()).await,
        LdapResultCode::Success
    );
    let mut other = f.session();
    assert_eq!(
        f.bind(&mut other, &person("bob"), PASSWORD).await,
        LdapResultCode::InvalidCredentials
    );
    assert_eq!(f.bind(&mut other, &person("bob"), new).await, LdapResultCode::Success);
}

#[tokio::test]
async fn without_a_new_password_one_is_generated() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("carol"), PASSWORD).await;
    let req: LdapExtendedRequest = ldap3_proto::proto::LdapPasswordModifyRequest {
        user_identity: Some(format!("dn:{}", person("carol"))),
        old_password: Some(PASSWORD.into()),
        new_password: None,
    }
    .into();
    let res = f.send(&mut s, LdapOp::ExtendedRequest(req), vec![], t0()).await;
    let LdapOp::ExtendedResponse(r) = &res[0].op else {
        panic!()
    };
    assert_eq!(r.res.code, LdapResultCode::Success);
    let generated = ldap3_proto::proto::LdapPasswordModifyResponse::try_from(r)
        .unwrap()
        .gen_password
        .unwrap();
    let mut other = f.session();
    assert_eq!(
        f.bind(&mut other, &person("carol"), &generated).await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn nobody_changes_another_members_password() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    let req: LdapExtendedRequest = ldap3_proto::proto::LdapPasswordModifyRequest {
        user_identity: Some("u:carol".into()),
        old_password: Some(PASSWORD.into()),
        new_password: Some("new horse battery staple".into()),
    }
    .into();
    let res = f.send(&mut s, LdapOp::ExtendedRequest(req), vec![], t0()).await;
    assert!(matches!(&res[0].op, LdapOp::ExtendedResponse(r) if r.res.code == LdapResultCode::InsufficentAccessRights));
}

// ---- writes, controls, and rights that end -----------------------------------------------

#[tokio::test]
async fn writes_are_refused_and_unknown_critical_controls_too() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    let del = f.send(&mut s, LdapOp::DelRequest(person("bob")), vec![], t0()).await;
    assert!(matches!(&del[0].op, LdapOp::DelResponse(r) if r.code == LdapResultCode::UnwillingToPerform));
    let ctrl = vec![LdapControl::Unknown {
        oid: "1.2.3.4".into(),
        criticality: true,
        value: None,
    }];
    let (_, res, _) = f
        .search_with(
            &mut s,
            BASE,
            LdapSearchScope::Base,
            LdapFilter::Present("objectClass".into()),
            ALL,
            ctrl,
        )
        .await;
    assert_eq!(res.code, LdapResultCode::UnavailableCriticalExtension);
}

#[tokio::test]
async fn a_lock_ends_the_rights_of_an_open_session() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    assert_eq!(f.dns(&mut s, eq("uid", "bob")).await.len(), 1);
    f.store
        .set_account_locked(&Uid::parse("bob").unwrap(), true, "test", t0())
        .await
        .unwrap();
    f.ctx.directory.refresh().await.unwrap();
    let (_, res, _) = f
        .search_with(&mut s, BASE, LdapSearchScope::Subtree, eq("uid", "bob"), ALL, vec![])
        .await;
    assert_eq!(res.code, LdapResultCode::InsufficentAccessRights);
}

#[tokio::test]
async fn leaving_admins_ends_admin_rights_of_an_open_session() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("alice"), &totp(t0())).await;
    assert_eq!(f.dns(&mut s, eq("uid", "carol")).await.len(), 1);
    f.store
        .remove_group_member(
            &Name::parse("admins").unwrap(),
            &Uid::parse("alice").unwrap(),
            &[],
            "test",
            t0(),
        )
        .await
        .unwrap();
    f.ctx.directory.refresh().await.unwrap();
    assert!(f.dns(&mut s, eq("uid", "carol")).await.is_empty());
}

// ---- the core's bookkeeping: rehash, timing, audit ---------------------------------------

#[tokio::test]
async fn a_legacy_hash_binds_once_and_is_replaced_by_argon2id() {
    use base64::Engine;
    use sha1::Digest;
    let f = Fixture::new().await;
    let salt = b"saltsalt";
    let mut h = sha1::Sha1::new();
    h.update(PASSWORD.as_bytes());
    h.update(salt);
    let mut raw = h.finalize().to_vec();
    raw.extend_from_slice(salt);
    let ssha = format!("{{SSHA}}{}", base64::engine::general_purpose::STANDARD.encode(raw));
    let carol = Uid::parse("carol").unwrap();
    f.store.set_account_password(&carol, &ssha, t0()).await.unwrap();
    f.ctx.directory.refresh().await.unwrap();
    let mut s = f.session();
    assert_eq!(
        f.bind(&mut s, &person("carol"), PASSWORD).await,
        LdapResultCode::Success
    );
    let stored = f.store.account(&carol).await.unwrap().unwrap().password_hash;
    assert!(stored.starts_with("$argon2id$"), "{stored}");
}

#[tokio::test]
async fn an_unknown_dn_costs_one_verification_like_a_known_one() {
    let f = Fixture::new().await;
    let count = || f.ctx.metrics.password_verifications();
    let mut s = f.session();
    let before = count();
    f.bind(&mut s, &person("nobody"), PASSWORD).await;
    let unknown = count() - before;
    let before = count();
    f.bind(&mut s, &person("carol"), "wrong-password").await;
    assert_eq!((unknown, count() - before), (1, 1));
}

#[tokio::test]
async fn the_audit_trail_never_holds_a_secret() {
    let f = Fixture::new().await;
    let mut s = f.session();
    f.bind(&mut s, &person("bob"), PASSWORD).await;
    f.bind(&mut s, &person("bob"), "wrong-password").await;
    f.bind(&mut s, &person("bob"), BOB_APP_PASSWORD).await;
    f.bind_at(&mut s, &person("alice"), &totp(t0()), t0()).await;
    let mut b = f.bound(&person("bob"), PASSWORD).await;
    f.passwd_at(&mut b, Some(PASSWORD), Some("new horse battery staple"), t0())
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let events = f.store.audit_events(None, None).await.unwrap();
    assert!(events.iter().any(|e| e.action == "password.change"));
    let code = code_at(ALICE_TOTP_SECRET, t0());
    for e in &events {
        let text = format!("{} {} {} {}", e.actor, e.action, e.subject, e.detail);
        for secret in [
            PASSWORD,
            "wrong-password",
            BOB_APP_PASSWORD,
            "new horse battery staple",
            code.as_str(),
        ] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[tokio::test]
async fn whoami_of_an_anonymous_session_is_empty() {
    let f = Fixture::new().await;
    let mut s = f.session();
    assert_eq!(whoami(&f, &mut s).await, "");
}

// ---- found by attacking the core ---------------------------------------------------------

#[tokio::test]
async fn app_password_binds_do_not_refill_the_password_throttle() {
    let f = Fixture::new().await;
    let mut s = f.session();
    for _ in 0..3 {
        for _ in 0..ACCOUNT_BURST - 1 {
            assert_eq!(
                f.bind(&mut s, &person("bob"), "guess-guess").await,
                LdapResultCode::InvalidCredentials
            );
        }
        f.bind(&mut s, &person("bob"), BOB_APP_PASSWORD).await;
    }
    assert_eq!(
        f.bind(&mut s, &person("bob"), PASSWORD).await,
        LdapResultCode::InvalidCredentials,
        "guesses between app-password binds were not throttled"
    );
}

#[tokio::test]
async fn an_admins_app_password_gives_member_rights_only() {
    let f = Fixture::new().await;
    let now = t0();
    let alice = Uid::parse("alice").unwrap();
    let hash = piratenldap_core::password::hash_password(
        "alice-app-password-1",
        &piratenldap_core::password::HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
    )
    .unwrap();
    f.store
        .add_app_password(&alice, "mail", &hash, "test", now)
        .await
        .unwrap();
    f.ctx.directory.refresh().await.unwrap();
    let mut s = f.bound(&person("alice"), "alice-app-password-1").await;
    assert!(
        f.dns(&mut s, eq("uid", "carol")).await.is_empty(),
        "admin rights without TOTP"
    );
    assert_eq!(f.dns(&mut s, eq("uid", "alice")).await, vec![person("alice")]);
}

#[tokio::test]
async fn a_cursor_does_not_serve_an_entry_locked_after_its_first_page() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let people = format!("ou=people,{BASE}");
    let filter = LdapFilter::Present("uid".into());
    let (first, _, ctrl) = f
        .search_with(
            &mut s,
            &people,
            LdapSearchScope::OneLevel,
            filter.clone(),
            &["uid"],
            paged(1, vec![]),
        )
        .await;
    assert_eq!(first.len(), 1);
    // Lock everyone the first page did not show.
    for uid in ["alice", "bob", "carol"] {
        if first[0].dn != person(uid) {
            f.store
                .set_account_locked(&Uid::parse(uid).unwrap(), true, "test", t0())
                .await
                .unwrap();
        }
    }
    f.ctx.directory.refresh().await.unwrap();
    let (rest, res, _) = f
        .search_with(
            &mut s,
            &people,
            LdapSearchScope::OneLevel,
            filter,
            &["uid"],
            paged(10, cookie_of(&ctrl)),
        )
        .await;
    assert_eq!(res.code, LdapResultCode::Success);
    assert!(
        rest.is_empty(),
        "locked entries served from the cursor: {:?}",
        rest.iter().map(|e| &e.dn).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_cursor_expires() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    let cookie = first_page(&f, &mut s).await;
    s.cursors[0].created -=
        std::time::Duration::from_secs(piratenldap_core::limits::Limits::default().cursor_seconds + 1);
    assert_eq!(next_page(&f, &mut s, cookie).await, LdapResultCode::UnwillingToPerform);
}

#[tokio::test]
async fn a_refused_new_password_does_not_use_up_the_totp_code() {
    let f = Fixture::new().await;
    let t1 = t0() + Duration::seconds(30);
    let mut s = f.bound(&person("alice"), &totp(t0())).await;
    assert_eq!(
        f.passwd_at(&mut s, Some(&totp(t1)), Some("aaaaaaaaaa"), t1).await,
        LdapResultCode::ConstraintViolation
    );
    assert_eq!(
        f.passwd_at(&mut s, Some(&totp(t1)), Some("new horse battery staple"), t1)
            .await,
        LdapResultCode::Success
    );
}

#[tokio::test]
async fn password_modify_without_a_generated_password_has_no_response_value() {
    let f = Fixture::new().await;
    let mut s = f.bound(&person("bob"), PASSWORD).await;
    let req: LdapExtendedRequest = ldap3_proto::proto::LdapPasswordModifyRequest {
        user_identity: None,
        old_password: Some(PASSWORD.into()),
        new_password: Some("new horse battery staple".into()),
    }
    .into();
    let res = f.send(&mut s, LdapOp::ExtendedRequest(req), vec![], t0()).await;
    assert!(
        matches!(&res[0].op, LdapOp::ExtendedResponse(r) if r.res.code == LdapResultCode::Success && r.value.is_none())
    );
}

// ---- hostile base DNs --------------------------------------------------------------------

#[tokio::test]
async fn a_base_thousands_of_rdns_deep_is_no_such_object_with_the_nearest_entry_matched() {
    let f = Fixture::new().await;
    let mut s = f.bound(&service("wiki"), SERVICE_PASSWORD).await;
    // 100 000 RDNs below ou=people: each step up to the nearest entry is an Arc clone, not a
    // copy of the remaining RDNs (which made this quadratic before the shared-parent DN).
    let deep = format!("{}ou=people,{BASE}", "cn=x,".repeat(100_000));
    let (entries, result, _) = f
        .search_with(
            &mut s,
            &deep,
            LdapSearchScope::Subtree,
            eq("uid", "bob"),
            &["uid"],
            vec![],
        )
        .await;
    assert!(entries.is_empty());
    assert_eq!(result.code, LdapResultCode::NoSuchObject);
    assert_eq!(result.matcheddn, format!("ou=people,{BASE}"));
    // Outside the tree entirely: nothing matched.
    let elsewhere = format!("{}dc=other,dc=org", "cn=x,".repeat(100_000));
    let (_, result, _) = f
        .search_with(&mut s, &elsewhere, LdapSearchScope::Base, eq("uid", "bob"), &[], vec![])
        .await;
    assert_eq!(result.code, LdapResultCode::NoSuchObject);
    assert_eq!(result.matcheddn, "");
}
