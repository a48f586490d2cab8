//! Issue 15: the admin console through its real HTTPS listener. One permission table (every
//! role × every action × a target in the own chapter, a foreign chapter and the federal
//! level) checked against the endpoints, every refusal audited; the client-certificate
//! requirement for member pages (own listener, trusted proxy, curl, openssl); language and
//! caching.

use std::process::Command;

use reqwest::StatusCode;
use reqwest::cookie::CookieStore;

use crate::console_support::{Browser, client, site};
use crate::ok_stdout;

/// What an actor gets: allowed (200, or 303 after a change), refused (403 with a reason),
/// or sent to the login page (no session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Refused,
    Login,
}
use Outcome::{Allowed, Login, Refused};

/// The console's member actions on one target.
#[derive(Debug, Clone, Copy)]
enum Act {
    Detail,
    Lock,
}

async fn act(b: &Browser, base: &str, act: Act, target: &str) -> (StatusCode, String) {
    let page = format!("{base}/admin/members/{target}");
    match act {
        Act::Detail => b.get(&page).await,
        Act::Lock => b.post(&page, &format!("{page}/lock"), &[("action", "lock")]).await,
    }
}

fn outcome(status: StatusCode, body: &str, what: &str) -> Outcome {
    match status {
        StatusCode::OK => Allowed,
        StatusCode::SEE_OTHER if body == "/login" => Login,
        StatusCode::SEE_OTHER => Allowed,
        StatusCode::FORBIDDEN => {
            assert!(body.contains("role=\"alert\""), "{what}: a refusal says why: {body}");
            Refused
        }
        other => panic!("{what}: unexpected {other}: {body}"),
    }
}

#[tokio::test]
async fn every_role_acts_only_within_its_scope() {
    let site = site(|c| c).await;
    let base = site.base.clone();
    let alice = site.browser("alice").await;
    let bob = site.browser("bob").await;
    let nora = site.browser("nora").await;
    let bert = site.browser("bert").await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let nobody = Browser {
        with: client(&site.ca, None, &jar, None),
        without: client(&site.ca, None, &jar, None),
        jar,
    };
    let actors = [
        ("alice", &alice),
        ("bob", &bob),
        ("nora", &nora),
        ("bert", &bert),
        ("nobody", &nobody),
    ];

    // Reads first (the table's locks would end sessions of locked targets).
    // (actor, target, detail outcome, whether the target is listed by a search for it)
    let reads = [
        ("alice", "bert", Allowed),
        ("alice", "nils", Allowed),
        ("alice", "fred", Allowed),
        ("bob", "bert", Allowed),
        ("bob", "nils", Refused),
        ("bob", "fred", Refused),
        ("nora", "bert", Refused),
        ("nora", "nils", Allowed),
        ("nora", "fred", Refused),
        ("bert", "bert", Refused),
        ("bert", "nils", Refused),
        ("nobody", "nils", Login),
    ];
    for (who, target, want) in reads {
        let b = actors.iter().find(|(n, _)| *n == who).unwrap().1;
        let (status, body) = act(b, &base, Act::Detail, target).await;
        let what = format!("{who} reads {target}");
        assert_eq!(outcome(status, &body, &what), want, "{what}: {body}");
        if want == Allowed {
            assert!(body.contains(&format!(">{target}<")), "{what}: {body}");
        }
        let (status, body) = b.get(&format!("{base}/admin/members?q={target}")).await;
        let listed = body.contains(&format!(r#"href="/admin/members/{target}""#));
        let what = format!("{who} searches {target}");
        match want {
            Allowed => assert!(status == StatusCode::OK && listed, "{what}: {body}"),
            Refused if who != "bert" => {
                assert!(status == StatusCode::OK && !listed, "{what}: {body}")
            }
            _ => assert_ne!(status, StatusCode::OK, "{what}: {body}"),
        }
    }
    // Federal admins are not listed for chapter admins, though alice is a member in BY.
    let (_, list) = bob.get(&format!("{base}/admin/members?q=alice")).await;
    assert!(!list.contains(r#"href="/admin/members/alice""#), "{list}");
    // Real names only with the grant: nora (NW, --real-names) sees nils's, bob never bert's;
    // both see member numbers.
    let (_, page) = nora.get(&format!("{base}/admin/members/nils")).await;
    assert!(page.contains("nils Test") && page.contains("102"), "{page}");
    let (_, page) = bob.get(&format!("{base}/admin/members/bert")).await;
    assert!(
        !page.contains("bert Test") && page.contains("<td>101</td>"),
        "numbers, not names: {page}"
    );

    // The audit trail: each chapter admin sees events about their own chapter's members only.
    for (who, b, sees, not) in [("bob", &bob, "bert", "nils"), ("nora", &nora, "nils", "bert")] {
        let (status, page) = b.get(&format!("{base}/admin/audit")).await;
        assert_eq!(status, StatusCode::OK, "{who}: {page}");
        assert!(page.contains(&format!("<td>{sees}</td>")), "{who} sees {sees}: {page}");
        assert!(
            !page.contains(&format!("<td>{not}</td>")),
            "{who} does not see {not}: {page}"
        );
    }
    let (status, page) = alice.get(&format!("{base}/admin/audit")).await;
    assert!(status == StatusCode::OK && page.contains("<td>nils</td>") && page.contains("<td>bert</td>"));
    for (who, b, want) in [("bert", &bert, Refused), ("nobody", &nobody, Login)] {
        let (status, body) = b.get(&format!("{base}/admin/audit")).await;
        assert_eq!(outcome(status, &body, who), want, "{who} reads the audit trail");
    }

    // Locks: (actor, target, outcome).
    let locks = [
        ("bert", "nils", Refused),
        ("nobody", "nils", Login),
        ("bob", "nils", Refused),
        ("bob", "fred", Refused),
        ("nora", "bert", Refused),
        ("nora", "fred", Refused),
        ("bob", "bert", Allowed),
        ("nora", "nils", Allowed),
        ("alice", "fred", Allowed),
    ];
    for (who, target, want) in locks {
        let b = actors.iter().find(|(n, _)| *n == who).unwrap().1;
        let (status, body) = act(b, &base, Act::Lock, target).await;
        let what = format!("{who} locks {target}");
        assert_eq!(outcome(status, &body, &what), want, "{what}: {body}");
    }
    // The allowed locks happened, the refused ones did not; refusals are audited.
    let shown = |uid: &str| ok_stdout(&site.server.cli(&["account", "show", uid]));
    for uid in ["bert", "nils", "fred"] {
        assert!(shown(uid).contains("locked: true"), "{uid}: {}", shown(uid));
    }
    for uid in ["alice", "bob", "nora"] {
        assert!(!shown(uid).contains("locked: true"), "{uid}");
    }
    let audit = ok_stdout(&site.server.cli(&["audit"]));
    let refused = |actor: &str| {
        audit
            .lines()
            .filter(|l| l.contains("console.refused") && l.contains(&format!(" {actor} ")))
            .count()
    };
    // bob: 2 reads + 2 locks; nora: 2 reads + 2 locks (searches narrow, they do not refuse).
    assert_eq!(refused("bob"), 4, "{audit}");
    assert_eq!(refused("nora"), 4, "{audit}");
    assert!(audit.contains("console:bob"), "locks name the acting admin: {audit}");
}

#[tokio::test]
async fn member_pages_need_the_admins_own_valid_certificate() {
    let site = site(|c| c).await;
    let base = site.base.clone();
    let alice = site.browser("alice").await;
    let members = format!("{base}/admin/members?q=bert");

    // The session alone opens the start page, not member data, nor services (whose
    // credentials read member data).
    let res = alice.without.get(format!("{base}/admin/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = alice
        .without
        .get(format!("{base}/admin/services"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = alice.without.get(&members).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Client-Zertifikat"));
    assert_eq!(alice.get(&members).await.0, StatusCode::OK);

    // Another admin's certificate under alice's session is refused.
    let with_bobs = client(&site.ca, Some(&site.certs["bob"]), &alice.jar, None);
    let res = with_bobs.get(&members).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("another account"));

    // A trusted proxy (127.0.0.2) vouches with X-SSL-Client-Cert; anyone else is ignored.
    let pem = std::fs::read_to_string(site.certs["alice"].join("cert.pem")).unwrap();
    let escaped: String = pem.bytes().map(|b| format!("%{b:02X}")).collect();
    for (from, want) in [("127.0.0.2", StatusCode::OK), ("127.0.0.1", StatusCode::FORBIDDEN)] {
        let c = client(&site.ca, None, &alice.jar, Some(from));
        let res = c
            .get(&members)
            .header("X-SSL-Client-Cert", &escaped)
            .header("X-SSL-Client-Verify", "SUCCESS")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "header from {from}");
    }

    // curl against the real listener, with and without the certificate.
    let cookies = alice
        .jar
        .cookies(&base.parse().unwrap())
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap();
    let curl = |cert: bool| {
        let dir = &site.certs["alice"];
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&site.ca)
            .args(["-b", &cookies]);
        if cert {
            cmd.arg("--cert")
                .arg(dir.join("cert.pem"))
                .arg("--key")
                .arg(dir.join("key.pem"));
        }
        let out = cmd.arg(&members).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(curl(true), "200");
    assert_eq!(curl(false), "403");
    // openssl: the listener asks for a client certificate from the internal CA.
    let port = base.rsplit(':').next().unwrap();
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("localhost:{port}"), "-CAfile"])
        .arg(&site.ca)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Acceptable client certificate CA names"), "{text}");

    // A revoked certificate stops working as soon as the view has the revocation.
    let list = ok_stdout(&site.server.cli(&["cert", "list"]));
    let serial = list
        .lines()
        .find(|l| l.contains(" alice "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    ok_stdout(&site.server.cli(&["cert", "revoke", &serial, "--reason", "lost"]));
    // (The view follows the store within a quarter second; generous under load.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alice.get(&members).await.0 != StatusCode::FORBIDDEN {
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked certificate still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let audit = ok_stdout(&site.server.cli(&["audit"]));
    assert!(audit.contains("console.certificate.fail"), "{audit}");
}

#[tokio::test]
async fn console_pages_speak_english_on_request_and_are_never_cached() {
    let site = site(|c| c).await;
    let base = site.base.clone();
    let alice = site.browser("alice").await;
    let (_, page) = alice.get(&format!("{base}/admin/")).await;
    assert!(page.contains("Verwaltung") && page.contains("?lang=en"), "{page}");
    let (_, page) = alice.get(&format!("{base}/admin/?lang=en")).await;
    assert!(page.contains("Administration"), "{page}");
    // The choice is kept on the next page.
    let res = alice
        .with
        .get(format!("{base}/admin/members?q=bert"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    assert!(page.contains("Members") && page.contains("Display name"), "{page}");
}

#[tokio::test]
async fn the_nginx_example_forwards_the_certificate_and_nothing_else() {
    let nginx_port = crate::nginx::free_port();
    let mut site = site(|text| {
        // piratenldap on plain HTTP behind nginx, which it trusts; the issuer is nginx's URL.
        let start = text.find("public_url = \"https://localhost:").unwrap() + "public_url = \"".len();
        let end = start + text[start..].find('"').unwrap();
        let direct = text[start..end].to_string();
        text.replace(&direct, &format!("https://localhost:{nginx_port}"))
            .replace("tls = true ", "tls = false ")
            .replace("\"127.0.0.2\"", "\"127.0.0.1\"")
    })
    .await;
    let dir = site.server.install.dir.path().to_path_buf();
    let data = dir.join("data");
    let crl = dir.join("nginx-crl.pem");
    let out = Command::new("curl")
        .args(["-fsS", "-o"])
        .arg(&crl)
        .arg(format!("http://{}/ca/crl.pem", site.server.http))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let upstream = format!("http://{}", site.server.http);
    let block = crate::nginx::render_server_block("console.conf", nginx_port, &data, &crl, &upstream);
    let _nginx = crate::nginx::start_nginx(&dir, &block, nginx_port);
    site.base = format!("https://localhost:{nginx_port}");
    let base = site.base.clone();
    let alice = site.browser("alice").await;
    let members = format!("{base}/admin/members?q=bert");
    let (status, page) = alice.get(&members).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let res = alice.without.get(&members).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no certificate");
    // A browser's own header does not pass nginx.
    let pem = std::fs::read_to_string(site.certs["alice"].join("cert.pem")).unwrap();
    let escaped: String = pem.bytes().map(|b| format!("%{b:02X}")).collect();
    let res = alice
        .without
        .get(&members)
        .header("X-SSL-Client-Cert", &escaped)
        .header("X-SSL-Client-Verify", "SUCCESS")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a forged header got through nginx");
}

/// One request of the table: who, what, where, with which fields, and the status expected.
struct Row {
    who: &'static str,
    what: &'static str,
    path: String,
    fields: Vec<(&'static str, String)>,
    want: StatusCode,
}

fn row(who: &'static str, what: &'static str, path: &str, fields: &[(&'static str, &str)], want: u16) -> Row {
    Row {
        who,
        what,
        path: path.to_string(),
        fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        want: StatusCode::from_u16(want).unwrap(),
    }
}

#[tokio::test]
async fn chapter_admins_manage_groups_services_letters_and_certificates_of_their_chapter_only() {
    let site = site(|c| {
        c.replace(
            "membership-admin = \"membership-admins\"",
            "membership-admin = \"membership-admins\"\nschatzmeister-by = \"by-schatzmeister\"\nboard-cert = \"board\"",
        )
    })
    .await;
    let base = site.base.clone();
    ok_stdout(
        &site
            .server
            .cli(&["group", "create", "by-schatzmeister", "--chapter", "BY"]),
    );
    // Member 105 (BY) and 106 (NW) have no account yet: activation letters.
    let recs = [("105", "BY"), ("106", "NW")].map(|(n, s)| {
        piratenldap_tests::record(
            n,
            s,
            piratenldap_core::ids::MembershipStatus::Active,
            true,
            "New",
            "Member",
            None,
        )
    });
    piratenldap_store::Store::import_members(
        &site.server.install.store().await,
        &recs,
        false,
        false,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    let browsers = [
        ("alice", site.browser("alice").await),
        ("bob", site.browser("bob").await),
        ("nora", site.browser("nora").await),
        ("bert", site.browser("bert").await),
    ];
    let post = |who: &str, path: &str, fields: &[(&str, &str)]| {
        let b = &browsers.iter().find(|(n, _)| *n == who).unwrap().1;
        let page = format!("{base}/admin/groups");
        let to = format!("{base}{path}");
        let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.post(&page, &to, &fields).await
        }
    };

    // The table: every role × every action × own chapter, foreign chapter, federal level.
    let g = "/admin/groups";
    let s = "/admin/services";
    let rows = vec![
        // Groups: create.
        row(
            "bob",
            "creates a BY group",
            g,
            &[("name", "by-team"), ("chapter", "BY")],
            303,
        ),
        row(
            "bob",
            "creates an NW group",
            g,
            &[("name", "bob-nw"), ("chapter", "NW")],
            403,
        ),
        row(
            "bob",
            "creates a federal group",
            g,
            &[("name", "bob-fed"), ("chapter", "")],
            403,
        ),
        row(
            "nora",
            "creates an NW group",
            g,
            &[("name", "nw-team"), ("chapter", "NW")],
            303,
        ),
        row(
            "alice",
            "creates a federal group",
            g,
            &[("name", "fed-team"), ("chapter", "")],
            303,
        ),
        row(
            "bert",
            "creates a group",
            g,
            &[("name", "bert-team"), ("chapter", "BY")],
            403,
        ),
        // A group a certificate role requires decides the role's chapter: federal only.
        row(
            "bob",
            "creates the group of a federal role",
            g,
            &[("name", "board"), ("chapter", "BY")],
            403,
        ),
        row(
            "alice",
            "creates the group of a federal role",
            g,
            &[("name", "board"), ("chapter", "")],
            303,
        ),
        // Groups: members.
        row(
            "bob",
            "adds bert (BY) to by-team",
            "/admin/groups/by-team/members",
            &[("op", "add"), ("uid", "bert")],
            303,
        ),
        row(
            "bob",
            "adds bert to by-schatzmeister",
            "/admin/groups/by-schatzmeister/members",
            &[("op", "add"), ("uid", "bert")],
            303,
        ),
        row(
            "bob",
            "adds nils (NW) to by-team",
            "/admin/groups/by-team/members",
            &[("op", "add"), ("uid", "nils")],
            403,
        ),
        row(
            "bob",
            "adds bert to nw-team",
            "/admin/groups/nw-team/members",
            &[("op", "add"), ("uid", "bert")],
            403,
        ),
        row(
            "bob",
            "adds bert to fed-team",
            "/admin/groups/fed-team/members",
            &[("op", "add"), ("uid", "bert")],
            403,
        ),
        row(
            "bob",
            "adds bert to members (automatic)",
            "/admin/groups/members/members",
            &[("op", "add"), ("uid", "bert")],
            409,
        ),
        row(
            "alice",
            "adds nils (NW) to by-team",
            "/admin/groups/by-team/members",
            &[("op", "add"), ("uid", "nils")],
            409,
        ),
        row(
            "nora",
            "removes bert from by-team",
            "/admin/groups/by-team/members",
            &[("op", "remove"), ("uid", "bert")],
            403,
        ),
        // Services.
        row(
            "bob",
            "registers a BY service",
            s,
            &[("name", "by-wiki"), ("kind", "ldap"), ("chapter", "BY")],
            201,
        ),
        row(
            "bob",
            "registers an NW service",
            s,
            &[("name", "bob-nw-wiki"), ("kind", "ldap"), ("chapter", "NW")],
            403,
        ),
        row(
            "bob",
            "registers a service for everyone",
            s,
            &[("name", "bob-all"), ("kind", "ldap"), ("chapter", "")],
            403,
        ),
        row(
            "bob",
            "registers a BY service with real names",
            s,
            &[
                ("name", "by-hr"),
                ("kind", "ldap"),
                ("chapter", "BY"),
                ("real_names", "yes"),
            ],
            403,
        ),
        row(
            "nora",
            "registers an NW service with real names",
            s,
            &[
                ("name", "nw-hr"),
                ("kind", "ldap"),
                ("chapter", "NW"),
                ("real_names", "yes"),
            ],
            201,
        ),
        row(
            "bob",
            "registers a BY client",
            s,
            &[
                ("name", "by-app"),
                ("kind", "oidc"),
                ("chapter", "BY"),
                ("redirect_uris", "https://app.example/cb"),
            ],
            201,
        ),
        row(
            "bob",
            "registers a BY client without redirect URI",
            s,
            &[("name", "by-app2"), ("kind", "oidc"), ("chapter", "BY")],
            400,
        ),
        row(
            "alice",
            "registers a federal service",
            s,
            &[("name", "fed-wiki"), ("kind", "ldap"), ("chapter", "")],
            201,
        ),
        row(
            "bert",
            "registers a service",
            s,
            &[("name", "bert-wiki"), ("kind", "ldap"), ("chapter", "BY")],
            403,
        ),
        row("bob", "removes nw-hr", "/admin/services/nw-hr/remove", &[], 403),
        row("bob", "removes fed-wiki", "/admin/services/fed-wiki/remove", &[], 403),
        row("nora", "removes nw-hr", "/admin/services/nw-hr/remove", &[], 303),
        // Letters.
        row(
            "bob",
            "a reset letter for nils (NW)",
            "/admin/letters",
            &[("members", "nils"), ("kind", "reset")],
            403,
        ),
        row(
            "bob",
            "a reset letter for alice (federal)",
            "/admin/letters",
            &[("members", "alice"), ("kind", "reset")],
            403,
        ),
        row(
            "nora",
            "an activation letter for 105 (BY)",
            "/admin/letters",
            &[("members", "105"), ("kind", "activation")],
            403,
        ),
        row(
            "bert",
            "a reset letter for bert",
            "/admin/letters",
            &[("members", "bert"), ("kind", "reset")],
            403,
        ),
        row(
            "bob",
            "an activation letter for bert, who has an account",
            "/admin/letters",
            &[("members", "bert"), ("kind", "activation")],
            422,
        ),
        // Certificates.
        row(
            "bob",
            "requests a BY role for bert",
            "/admin/certificates",
            &[("holder", "bert"), ("role", "schatzmeister-by")],
            303,
        ),
        row(
            "bob",
            "requests a federal role for bert",
            "/admin/certificates",
            &[("holder", "bert"), ("role", "membership-admin")],
            403,
        ),
        row(
            "nora",
            "requests a BY role for bert",
            "/admin/certificates",
            &[("holder", "bert"), ("role", "schatzmeister-by")],
            403,
        ),
    ];
    let mut refused_by: std::collections::HashMap<&str, usize> = Default::default();
    for r in &rows {
        let fields: Vec<(&str, &str)> = r.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = post(r.who, &r.path, &fields).await;
        assert_eq!(status, r.want, "{} {}: {body}", r.who, r.what);
        if status == StatusCode::FORBIDDEN {
            assert!(
                body.contains("role=\"alert\""),
                "{} {}: the refusal says why: {body}",
                r.who,
                r.what
            );
            *refused_by.entry(r.who).or_default() += 1;
        }
    }

    // An admin's account belongs to the federal level whatever their state: once bert (BY) is
    // chapter admin of NW, bob (BY) can neither lock him, nor send him a reset letter, nor
    // regroup him, nor find him in a search.
    ok_stdout(&site.server.cli(&["admin", "grant", "bert", "--chapter", "NW"]));
    for (what, path, fields) in [
        ("locks bert", "/admin/members/bert/lock", vec![("action", "lock")]),
        (
            "a reset letter for bert",
            "/admin/letters",
            vec![("members", "bert"), ("kind", "reset")],
        ),
        (
            "removes bert from by-team",
            "/admin/groups/by-team/members",
            vec![("op", "remove"), ("uid", "bert")],
        ),
    ] {
        let (status, body) = post("bob", path, &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "bob {what}: {body}");
        *refused_by.entry("bob").or_default() += 1;
    }
    let (_, list) = browsers[1].1.get(&format!("{base}/admin/members?q=bert")).await;
    assert!(!list.contains(r#"href="/admin/members/bert""#), "{list}");
    ok_stdout(&site.server.cli(&["admin", "revoke", "bert", "--chapter", "NW"]));

    // What was allowed happened, the refused did not.
    let groups = ok_stdout(&site.server.cli(&["group", "list"]));
    for (name, exists) in [
        ("by-team", true),
        ("nw-team", true),
        ("fed-team", true),
        ("bob-nw", false),
        ("bob-fed", false),
        ("bert-team", false),
    ] {
        assert_eq!(groups.contains(name), exists, "{name}: {groups}");
    }
    let services = ok_stdout(&site.server.cli(&["service", "list"]));
    for (name, exists) in [
        ("by-wiki", true),
        ("by-app", true),
        ("fed-wiki", true),
        ("nw-hr", false),
        ("bob-nw-wiki", false),
        ("bob-all", false),
        ("by-hr", false),
        ("bert-wiki", false),
    ] {
        assert_eq!(services.contains(name), exists, "{name}: {services}");
    }

    // The BY service's credential is shown once, and it sees BY's members only.
    let bob = &browsers[1].1;
    let (status, page) = bob
        .post(
            &format!("{base}/admin/groups"),
            &format!("{base}/admin/services"),
            &[("name", "by-vote"), ("kind", "ldap"), ("chapter", "BY")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    let value = |key: &str| {
        let start = page.find(&format!("<th>{key}</th><td>")).unwrap() + key.len() + 13;
        page[start..start + page[start..].find("</td>").unwrap()]
            .replace("&#39;", "'")
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
    };
    let (dn, password) = (value("dn"), value("password"));
    // A service has no web login, so it never reaches the console.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let service = client(&site.ca, None, &jar, None);
    let login = service
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = service
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", crate::sso::hidden(&login, "csrf").as_str()),
            ("username", "by-vote"),
            ("password", password.as_str()),
            ("code", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::SEE_OTHER, "a service logged in on the web");
    let res = service.get(format!("{base}/admin/")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login");
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&site.server.ldap_url()).await.unwrap();
    ldap3::drive!(conn);
    // (The view has the new service within a quarter second; generous under load.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ldap.simple_bind(&dn, &password).await.unwrap().success().is_err() {
        assert!(std::time::Instant::now() < deadline, "the new service cannot bind");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (entries, _) = ldap
        .search(
            &format!("ou=people,{}", piratenldap_tests::BASE),
            ldap3::Scope::Subtree,
            "(objectClass=person)",
            vec!["uid"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let uids: Vec<String> = entries
        .into_iter()
        .map(|e| ldap3::SearchEntry::construct(e).attrs["uid"][0].clone())
        .collect();
    assert!(
        uids.contains(&"bert".to_string()) && !uids.contains(&"nils".to_string()),
        "{uids:?}"
    );

    // Letters: a reset letter for bert (BY) is a mail-merge CSV download.
    let (status, csv) = post("bob", "/admin/letters", &[("members", "bert 105"), ("kind", "reset")]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "105 has no account: all or nothing: {csv}"
    );
    let page = format!("{base}/admin/groups");
    let res = bob
        .with
        .post(format!("{base}/admin/letters"))
        .form(&[
            ("csrf", crate::sso::hidden(&bob.get(&page).await.1, "csrf").as_str()),
            ("confirm", "yes"),
            ("members", "bert"),
            ("kind", "reset"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let csv = res.text().await.unwrap();
    assert!(
        csv.lines().nth(1).unwrap().starts_with("101,") && csv.contains(",reset"),
        "{csv}"
    );
    let (status, csv) = post("bob", "/admin/letters", &[("members", "105"), ("kind", "activation")]).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(csv.contains("105,"), "{csv}");

    // Four eyes: bob cannot approve his own request, nora (NW) cannot approve a BY one,
    // alice (federal) can.
    let (_, list) = bob.get(&format!("{base}/admin/certificates")).await;
    assert!(
        list.contains("schatzmeister-by") && !list.contains("/approve"),
        "{list}"
    );
    let id = list
        .split("<tr><td>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let approve = format!("/admin/certificates/{id}/approve");
    for (who, want) in [("bob", 403), ("nora", 403), ("bert", 403), ("alice", 303)] {
        let (status, body) = post(who, &approve, &[]).await;
        assert_eq!(status.as_u16(), want, "{who} approves: {body}");
        if status == StatusCode::FORBIDDEN && who != "bert" {
            *refused_by.entry(who).or_default() += 1;
        }
    }
    let cert = ok_stdout(&site.server.cli(&[
        "cert",
        "issue",
        &id,
        "--out",
        site.server.install.dir.path().join("bert-cert").to_str().unwrap(),
    ]));
    assert!(cert.contains("serial: "), "{cert}");

    // Every refusal of an admin is in the audit trail with the acting admin.
    let audit = ok_stdout(&site.server.cli(&["audit"]));
    for who in ["bob", "nora"] {
        let logged = audit
            .lines()
            .filter(|l| l.contains("console.refused") && l.split_whitespace().nth(1) == Some(who))
            .count();
        assert_eq!(logged, refused_by[who], "{who}: {audit}");
    }
    assert!(
        audit.contains("console:bob") && audit.contains("group.add") && audit.contains("service.add"),
        "{audit}"
    );
}
