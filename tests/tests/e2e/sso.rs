//! Single sign-on (issue 14) against the real server with a relying party written with the
//! `openidconnect` crate: discovery, the ID token's ES256 signature against the JWKS,
//! userinfo, refresh rotation and family revocation, revocation, PKCE and redirect-URI
//! failures, code replay, pairwise subjects, consent, refusal outside `--members-of`, app
//! passwords refused, and a lock ending the session within a second. The browser's part (login
//! form, cookies, redirects) is played by reqwest with a cookie jar.

use std::sync::Arc;

use openidconnect::core::{
    CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    AccessToken, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use piratenldap_tests::{ADMIN_APP_PASSWORD, ALICE_TOTP_SECRET, Install, PASSWORD, Server, standard_fixture};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::{ok_stdout, within_one_second};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub(crate) type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// The server with the standard fixture, its issuer on a fixed port, and OpenID Connect
/// clients: `portal` (confidential), `app` (public), `anon` (confidential, pairwise), `anon2`
/// (pairwise), `votes` (--members-of voting, --consent), `by-portal` (--chapter BY), `staff`
/// (--real-names), `ballot` (--pseudonymous); nina
/// (member 6, NW, active) beside the standard fixture. Returns the secrets by client.
pub(crate) struct Sso {
    pub(crate) server: Server,
    pub(crate) issuer: String,
    secrets: std::collections::HashMap<String, String>,
    pub(crate) http: openidconnect::reqwest::Client,
}

pub(crate) async fn sso_server() -> Sso {
    let install = Install::new();
    standard_fixture(&install).await;
    piratenldap_tests::add_member_with_account(&install, "nina", "6", "NW").await;
    sso_on(install)
}

/// The clients of [`sso_server`] registered on `install`, which is then served.
pub(crate) fn sso_on(install: Install) -> Sso {
    let issuer = install.fixed_http_port();
    let mut secrets = std::collections::HashMap::new();
    for (name, extra) in [
        ("portal", vec![]),
        ("app", vec!["--public"]),
        ("anon", vec!["--pairwise"]),
        ("anon2", vec!["--pairwise"]),
        ("votes", vec!["--members-of", "voting", "--consent"]),
        ("ballot", vec!["--pseudonymous"]),
        ("by-portal", vec!["--chapter", "BY"]),
        ("staff", vec!["--real-names"]),
    ] {
        let mut args = vec!["service", "add", name, "--oidc", "--redirect-uri", REDIRECT];
        args.extend(extra);
        let out = ok_stdout(&install.cli(&args));
        assert!(out.contains(&format!("client_id: {name}")), "{out}");
        if let Some(secret) = out.lines().find_map(|l| l.strip_prefix("client_secret: ")) {
            secrets.insert(name.to_string(), secret.to_string());
        }
    }
    assert!(!secrets.contains_key("app"), "a public client got a secret");
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(Policy::none())
        .build()
        .unwrap();
    Sso {
        server: install.serve(),
        issuer,
        secrets,
        http,
    }
}

impl Sso {
    pub(crate) async fn client(&self, name: &str) -> Client {
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(self.issuer.clone()).unwrap(), &self.http)
            .await
            .unwrap();
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(name.into()),
            self.secrets.get(name).map(|s| ClientSecret::new(s.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
    }

    pub(crate) fn verifier<'a>(&self, client: &'a Client) -> CoreIdTokenVerifier<'a> {
        client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
    }
}

/// A browser: a cookie jar, no automatic redirects.
pub(crate) struct Browser(reqwest::Client);

impl Browser {
    pub(crate) fn new() -> Browser {
        Browser(
            reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
        )
    }

    pub(crate) async fn get(&self, url: &str) -> reqwest::Response {
        self.0.get(url).send().await.unwrap()
    }

    /// Follows an authorization request: logs in when the provider asks, returns the final
    /// response (the redirect to the client, or a page).
    async fn authorize(&self, sso: &Sso, url: &str, login: Option<(&str, &str, &str)>) -> reqwest::Response {
        let res = self.get(url).await;
        let Some(location) = location(&res) else {
            return res;
        };
        if !location.starts_with("/login") {
            return res;
        }
        let (user, password, code) = login.expect("the provider asked for a login");
        let page = self
            .get(&format!("{}{location}", sso.issuer))
            .await
            .text()
            .await
            .unwrap();
        let res = self.submit_login(sso, &page, user, password, code).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login failed");
        let next = location_of(&res);
        self.get(&format!("{}{next}", sso.issuer)).await
    }

    async fn submit_login(&self, sso: &Sso, page: &str, user: &str, password: &str, code: &str) -> reqwest::Response {
        let form = [
            ("csrf", hidden(page, "csrf")),
            ("next", hidden(page, "next")),
            ("username", user.to_string()),
            ("password", password.to_string()),
            ("code", code.to_string()),
        ];
        self.0
            .post(format!("{}/login", sso.issuer))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers().get("location").map(|v| v.to_str().unwrap().to_string())
}

pub(crate) fn location_of(res: &reqwest::Response) -> String {
    location(res).unwrap_or_else(|| panic!("no redirect: {}", res.status()))
}

/// The value of a hidden form field, unescaped.
pub(crate) fn hidden(page: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].replace("&amp;", "&").replace("&quot;", "\"")
}

/// The value of query parameter `name` in a redirect to the client.
fn query(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Waits (up to 10 s: the audit sink writes in batches, and waits after a busy store) until
/// `audit ARGS` shows `action`.
async fn audited(server: &Server, args: &[&str], action: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let audit = ok_stdout(&server.cli(args));
        if audit.contains(action) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {action} in the audit trail:\n{audit}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// alice's TOTP code for the current step.
fn alice_code() -> String {
    piratenldap_tests::totp_now(ALICE_TOTP_SECRET)
}

/// A whole sign-in at `client` with `scopes` (logging in when asked): the token response and
/// the request's nonce.
pub(crate) async fn sign_in(
    sso: &Sso,
    browser: &Browser,
    client: &Client,
    scopes: &[&str],
    login: Option<(&str, &str, &str)>,
) -> (openidconnect::core::CoreTokenResponse, Nonce) {
    let (url, nonce, verifier, _) = auth_request(client, scopes);
    let res = browser.authorize(sso, &url, login).await;
    let code = AuthorizationCode::new(query(&location_of(&res), "code").expect("a code"));
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&sso.http)
        .await
        .unwrap();
    (tokens, nonce)
}

/// An authorization request of `client` with PKCE; returns the URL, nonce and verifier.
pub(crate) fn auth_request(client: &Client, scopes: &[&str]) -> (String, Nonce, PkceCodeVerifier, CsrfToken) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client.authorize_url(
        AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in scopes {
        req = req.add_scope(Scope::new((*s).into()));
    }
    let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
    (url.to_string(), nonce, verifier, state)
}

pub(crate) async fn userinfo(sso: &Sso, token: &str) -> (StatusCode, Value) {
    let res = sso
        .http
        .get(format!("{}/oauth2/userinfo", sso.issuer))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_confidential_client_logs_in_verifies_and_refreshes() {
    let sso = sso_server().await;
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let (url, nonce, verifier, state) = auth_request(&client, &["profile", "email", "groups", "membership"]);
    // alice is an admin with TOTP: her password alone, or her app password, does not log in.
    let page = browser.get(&url).await;
    let login = format!("{}{}", sso.issuer, location_of(&page));
    let form = browser.get(&login).await.text().await.unwrap();
    assert!(form.contains("name=\"code\""), "a separate TOTP field");
    for (password, code) in [(PASSWORD, ""), (ADMIN_APP_PASSWORD, ""), (PASSWORD, "000000")] {
        let res = browser.submit_login(&sso, &form, "alice", password, code).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{password} {code}");
    }
    let res = browser
        .authorize(&sso, &url, Some(("alice", PASSWORD, &alice_code())))
        .await;
    let back = location_of(&res);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query(&back, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(query(&back, "iss").as_deref(), Some(sso.issuer.as_str()));
    let code = query(&back, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&sso.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&sso.verifier(&client), &nonce).unwrap();
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert_eq!(claims.issuer().as_str(), sso.issuer);
    // A token signed by someone else does not verify against the JWKS.
    let forged = {
        let t = id_token.to_string();
        let (head, _) = t.rsplit_once('.').unwrap();
        format!("{head}.{}", "A".repeat(86))
    };
    let forged: openidconnect::core::CoreIdToken = serde_json::from_value(Value::String(forged)).unwrap();
    assert!(forged.claims(&sso.verifier(&client), &nonce).is_err());

    let (status, info) = userinfo(&sso, tokens.access_token().secret()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["state_association"], "BY");
    assert_eq!(info["voting_right"], true);
    assert!(info.get("given_name").is_none(), "no real names without --real-names");
    assert!(info.get("member_number").is_none());
    let groups: Vec<&str> = info["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"wiki-admins") && groups.contains(&"voting"),
        "{groups:?}"
    );

    // The code works once; its second use revokes what the first issued.
    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&sso.http)
        .await;
    assert!(replay.is_err());
    assert_eq!(
        userinfo(&sso, tokens.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let rt = tokens.refresh_token().unwrap();
    assert!(
        client
            .exchange_refresh_token(rt)
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err(),
        "the replayed code's refresh token is revoked"
    );

    // A second client opens without a prompt, with the same session.
    let other = sso.client("anon").await;
    let (url, _, verifier, _) = auth_request(&other, &[]);
    let res = browser.authorize(&sso, &url, None).await;
    let code = query(&location_of(&res), "code").expect("a code without a prompt");
    let tokens = other
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&sso.http)
        .await
        .unwrap();

    // Refresh tokens rotate; reusing an old one revokes the family.
    let first = tokens.refresh_token().unwrap().clone();
    let second = other
        .exchange_refresh_token(&first)
        .unwrap()
        .request_async(&sso.http)
        .await
        .unwrap();
    let rotated = second.refresh_token().unwrap().clone();
    assert_ne!(rotated.secret(), first.secret());
    assert_eq!(userinfo(&sso, second.access_token().secret()).await.0, StatusCode::OK);
    assert!(
        other
            .exchange_refresh_token(&first)
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err()
    );
    assert!(
        other
            .exchange_refresh_token(&rotated)
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err(),
        "the whole family is revoked"
    );
    assert_eq!(
        userinfo(&sso, second.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The audit trail has the login, the codes, the tokens and the replays.
    for action in [
        "login.ok",
        "sso.session",
        "sso.code",
        "sso.token",
        "sso.refresh",
        "sso.code.replay",
        "sso.refresh.replay",
    ] {
        audited(&sso.server, &["audit"], action).await;
    }
    // No token, code or password reaches the log.
    let (_, log) = sso.server.stop();
    for secret in [
        rotated.secret().as_str(),
        first.secret().as_str(),
        second.access_token().secret().as_str(),
        PASSWORD,
    ] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}

#[tokio::test]
async fn pkce_redirect_uris_and_revocation_are_enforced() {
    let sso = sso_server().await;
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let login = ("bob", PASSWORD, "");

    // An unregistered redirect URI gets an error page, never a redirect.
    let (url, ..) = auth_request(&client, &[]);
    let evil = url.replace("127.0.0.1%3A9%2Fcallback", "evil.example%2Fcallback");
    assert_ne!(evil, url);
    let res = browser.get(&evil).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(location(&res).is_none());
    let unknown = url.replace("client_id=portal", "client_id=nobody");
    assert_eq!(browser.get(&unknown).await.status(), StatusCode::BAD_REQUEST);

    // A public client must use PKCE.
    let public = sso.client("app").await;
    let (url, ..) = auth_request(&public, &[]);
    let plain = url
        .split('&')
        .filter(|p| !p.starts_with("code_challenge"))
        .collect::<Vec<_>>()
        .join("&");
    let res = browser.authorize(&sso, &plain, Some(login)).await;
    let back = location_of(&res);
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"), "{back}");

    // A wrong or missing verifier, another redirect URI, or another client: invalid_grant.
    for case in ["wrong verifier", "no verifier", "other redirect", "other client"] {
        let (url, _, verifier, _) = auth_request(&client, &[]);
        let res = browser.authorize(&sso, &url, Some(login)).await;
        let code = AuthorizationCode::new(query(&location_of(&res), "code").unwrap());
        let result = match case {
            "wrong verifier" => {
                client
                    .exchange_code(code)
                    .unwrap()
                    .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(50)))
                    .request_async(&sso.http)
                    .await
            }
            "no verifier" => client.exchange_code(code).unwrap().request_async(&sso.http).await,
            "other redirect" => {
                client
                    .exchange_code(code)
                    .unwrap()
                    .set_pkce_verifier(verifier)
                    .set_redirect_uri(std::borrow::Cow::Owned(
                        RedirectUrl::new("http://127.0.0.1:9/other".into()).unwrap(),
                    ))
                    .request_async(&sso.http)
                    .await
            }
            _ => {
                let anon = sso.client("anon").await;
                anon.exchange_code(code)
                    .unwrap()
                    .set_pkce_verifier(verifier)
                    .request_async(&sso.http)
                    .await
            }
        };
        assert!(result.is_err(), "{case} was accepted");
    }

    // A public client with PKCE gets tokens, but no refresh token without offline_access.
    let (tokens, _) = sign_in(&sso, &browser, &public, &[], Some(login)).await;
    assert!(tokens.refresh_token().is_none());

    // Revocation of an access token, then of a refresh token with its family.
    let (tokens, _) = sign_in(&sso, &browser, &client, &[], Some(login)).await;
    let revoke = |token: String| {
        let secret = sso.secrets["portal"].clone();
        let http = sso.http.clone();
        let url = format!("{}/oauth2/revoke", sso.issuer);
        async move {
            http.post(url)
                .basic_auth("portal", Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(&sso, tokens.access_token().secret()).await.0, StatusCode::OK);
    assert_eq!(revoke(tokens.access_token().secret().clone()).await, StatusCode::OK);
    assert_eq!(
        userinfo(&sso, tokens.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let rt: RefreshToken = tokens.refresh_token().unwrap().clone();
    assert_eq!(revoke(rt.secret().clone()).await, StatusCode::OK);
    assert!(
        client
            .exchange_refresh_token(&rt)
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err()
    );
    assert_eq!(
        revoke("unknown-token".into()).await,
        StatusCode::OK,
        "RFC 7009: 200 for unknown tokens"
    );
    let wrong = sso
        .http
        .post(format!("{}/oauth2/revoke", sso.issuer))
        .basic_auth("portal", Some("wrong"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // A body that is no form, or too big, gets an OAuth error, not a bare status.
    for body in [
        "{\"grant_type\": 1}".to_string(),
        format!("code={}", "x".repeat(20_000)),
    ] {
        let res = sso
            .http
            .post(format!("{}/oauth2/token", sso.issuer))
            .header(
                "content-type",
                if body.starts_with('{') {
                    "application/json"
                } else {
                    "application/x-www-form-urlencoded"
                },
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error());
        let answer: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        assert_eq!(answer["error"], "invalid_request");
    }
}

#[tokio::test]
async fn pairwise_subjects_consent_and_population() {
    let sso = sso_server().await;
    let browser = Browser::new();
    let mut subjects = Vec::new();
    for name in ["portal", "anon", "anon2"] {
        let client = sso.client(name).await;
        let (tokens, nonce) = sign_in(&sso, &browser, &client, &[], Some(("bob", PASSWORD, ""))).await;
        let claims = tokens
            .id_token()
            .unwrap()
            .claims(&sso.verifier(&client), &nonce)
            .unwrap()
            .clone();
        subjects.push(claims.subject().to_string());
    }
    let uuid = ok_stdout(&sso.server.openldap(
        "ldapsearch",
        &[
            "-x",
            "-H",
            &sso.server.ldap_url(),
            "-D",
            &piratenldap_tests::service("wiki"),
            "-w",
            piratenldap_tests::SERVICE_PASSWORD,
            "-b",
            &piratenldap_tests::person("bob"),
            "-s",
            "base",
            "-LLL",
            "entryUUID",
        ],
    ))
    .lines()
    .find_map(|l| l.strip_prefix("entryUUID: ").map(str::to_string))
    .unwrap();
    assert_eq!(subjects[0], uuid, "a public subject is the entryUUID");
    assert_ne!(subjects[1], uuid);
    assert_ne!(subjects[1], subjects[2], "pairwise subjects differ per client");

    // bob has no voting right: the voting client's population refuses him with a page.
    let votes = sso.client("votes").await;
    let (url, ..) = auth_request(&votes, &["membership"]);
    let res = browser.authorize(&sso, &url, None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(location(&res).is_none());
    assert!(res.text().await.unwrap().contains("nicht offen"));

    // alice may vote; the client asks her consent once, listing exactly its claims.
    let alice = Browser::new();
    let (url, _, verifier, _) = auth_request(&votes, &["membership"]);
    let res = alice
        .authorize(&sso, &url, Some(("alice", PASSWORD, &alice_code())))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("voting_right") && page.contains("state_association"),
        "{page}"
    );
    assert!(
        !page.contains("email"),
        "the consent page lists only what the client gets"
    );
    let answer = alice
        .0
        .post(format!("{}/oauth2/consent", sso.issuer))
        .form(&[
            ("csrf", hidden(&page, "csrf")),
            ("next", hidden(&page, "next")),
            ("answer", "allow".into()),
        ])
        .send()
        .await
        .unwrap();
    let again = alice.get(&format!("{}{}", sso.issuer, location_of(&answer))).await;
    let code = AuthorizationCode::new(query(&location_of(&again), "code").expect("a code after consent"));
    votes
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&sso.http)
        .await
        .unwrap();
    let (url, ..) = auth_request(&votes, &["membership"]);
    let res = alice.authorize(&sso, &url, None).await;
    assert!(query(&location_of(&res), "code").is_some(), "consent is asked once");
}

#[tokio::test]
async fn a_chapters_client_logs_in_its_members_and_refuses_others() {
    let sso = sso_server().await;
    let client = sso.client("by-portal").await;
    // bob (BY) signs in; the ID token and userinfo carry his state association.
    let bob = Browser::new();
    let (tokens, nonce) = sign_in(&sso, &bob, &client, &["membership"], Some(("bob", PASSWORD, ""))).await;
    tokens
        .id_token()
        .unwrap()
        .claims(&sso.verifier(&client), &nonce)
        .unwrap();
    let (status, info) = userinfo(&sso, tokens.access_token().secret()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["state_association"], "BY", "{info}");

    // nina (NW) and m0000 (BE) log in to the provider but get the page that says the client is
    // not open to them: no code, no redirect.
    for (uid, state) in [("nina", "NW"), ("m0000", "BE")] {
        let browser = Browser::new();
        let (url, ..) = auth_request(&client, &["membership"]);
        let res = browser.authorize(&sso, &url, Some((uid, PASSWORD, ""))).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{uid} of {state}");
        assert!(location(&res).is_none());
        assert!(res.text().await.unwrap().contains("nicht offen"));
        // The same member signs in to a federal client.
        let portal = sso.client("portal").await;
        sign_in(&sso, &browser, &portal, &[], None).await;
    }
}

#[tokio::test]
async fn a_lock_ends_sessions_and_tokens_within_a_second() {
    let sso = sso_server().await;
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let (tokens, _) = sign_in(&sso, &browser, &client, &[], Some(("bob", PASSWORD, ""))).await;
    let access: AccessToken = tokens.access_token().clone();
    let refresh = tokens.refresh_token().unwrap().clone();
    ok_stdout(&sso.server.cli(&["account", "lock", "bob"]));
    let sso = Arc::new(sso);
    let (s, a) = (Arc::clone(&sso), access.secret().clone());
    within_one_second("userinfo refused after the lock", move || {
        let (s, a) = (Arc::clone(&s), a.clone());
        async move { userinfo(&s, &a).await.0 == StatusCode::UNAUTHORIZED }
    })
    .await;
    assert!(
        client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err()
    );
    let (url, ..) = auth_request(&client, &[]);
    let res = browser.get(&url).await;
    assert!(location_of(&res).starts_with("/login"), "the session has ended");
    let page = browser
        .get(&format!("{}{}", sso.issuer, location_of(&res)))
        .await
        .text()
        .await
        .unwrap();
    let res = browser.submit_login(&sso, &page, "bob", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a locked account cannot log in");
}

#[tokio::test]
async fn logout_ends_the_session_and_its_tokens() {
    let sso = sso_server().await;
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let (tokens, nonce) = sign_in(&sso, &browser, &client, &[], Some(("bob", PASSWORD, ""))).await;
    let id_token = tokens.id_token().unwrap();
    id_token.claims(&sso.verifier(&client), &nonce).unwrap();
    // Without an ID token hint the member is asked (no cross-site logout).
    let asked = browser.get(&format!("{}/oauth2/logout", sso.issuer)).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains("name=\"csrf\""));
    assert_eq!(userinfo(&sso, tokens.access_token().secret()).await.0, StatusCode::OK);
    let url = format!(
        "{}/oauth2/logout?id_token_hint={}&post_logout_redirect_uri={}&state=s1",
        sso.issuer, id_token, "http%3A%2F%2F127.0.0.1%3A9%2Floggedout"
    );
    let page = browser.get(&url).await.text().await.unwrap();
    assert!(page.contains("http://127.0.0.1:9/loggedout?state=s1"), "{page}");
    assert_eq!(
        userinfo(&sso, tokens.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (url, ..) = auth_request(&client, &[]);
    assert!(location_of(&browser.get(&url).await).starts_with("/login"));
    audited(&sso.server, &["audit", "--uid", "bob"], "sso.logout").await;
}

#[tokio::test]
async fn a_flow_begun_on_one_node_completes_on_another() {
    let a = Install::on_postgres().await;
    standard_fixture(&a).await;
    let issuer = a.fixed_http_port();
    let out = ok_stdout(&a.cli(&["service", "add", "portal", "--oidc", "--redirect-uri", REDIRECT]));
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_string();
    // Node B: a copy of the files (signing keys included), the same database, its own port.
    let b = a.second_node();
    let node_b = b.fixed_http_port_keeping_issuer();
    let (a, b) = (a.serve(), b.serve());
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let sso = Sso {
        server: a,
        issuer,
        secrets: [("portal".to_string(), secret.clone())].into(),
        http: http.clone(),
    };
    let client = sso.client("portal").await;
    let browser = Browser::new();
    // Login and code on node A; the exchange, userinfo and refresh on node B.
    let (url, nonce, verifier, _) = auth_request(&client, &[]);
    let res = browser.authorize(&sso, &url, Some(("bob", PASSWORD, ""))).await;
    let code = query(&location_of(&res), "code").unwrap();
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let (http, secret, url) = (http.clone(), secret.clone(), format!("{node_b}{path}"));
        async move {
            let res = http
                .post(url)
                .basic_auth("portal", Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (
                status,
                serde_json::from_str::<Value>(&res.text().await.unwrap()).unwrap_or(Value::Null),
            )
        }
    };
    let (status, tokens) = post(
        "/oauth2/token",
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", verifier.secret().clone()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // Node B's ID token verifies against node A's JWKS (the issuer's).
    let id_token: openidconnect::core::CoreIdToken = serde_json::from_value(tokens["id_token"].clone()).unwrap();
    id_token.claims(&sso.verifier(&client), &nonce).unwrap();
    let info = http
        .get(format!("{node_b}/oauth2/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        post(
            "/oauth2/token",
            vec![("grant_type", "refresh_token".into()), ("refresh_token", rt)],
        )
    };
    assert_eq!(refresh(rt.clone()).await.0, StatusCode::OK);
    // The old refresh token replayed on node A: the family is revoked on both.
    let replay = sso
        .http
        .post(format!("{}/oauth2/token", sso.issuer))
        .basic_auth("portal", Some(secret.clone()))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    drop(b);
}

#[tokio::test]
async fn https_on_the_http_listener_with_host_cookies() {
    let install = Install::new();
    standard_fixture(&install).await;
    let issuer = install.fixed_https_port();
    let port = issuer.rsplit(':').next().unwrap().to_string();
    ok_stdout(&install.cli(&["service", "add", "portal", "--oidc", "--redirect-uri", REDIRECT]));
    let ca = install.ca_pem();
    let server = install.serve();
    let tls = piratenldap_tests::client_tls(&ca);
    let browser = reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    let meta: Value = serde_json::from_str(
        &browser
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["issuer"], issuer.as_str());
    let login = browser.get(format!("{issuer}/login")).send().await.unwrap();
    let csp = login.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("__Host-") && cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let page = login.text().await.unwrap();
    let res = browser
        .post(format!("{issuer}/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf")),
            ("username", "bob".into()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        session.starts_with("__Host-piratenldap_sso=")
            && session.contains("SameSite=Lax")
            && session.contains("Secure"),
        "{session}"
    );
    // Plain HTTP on the same port gets no page.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    drop(server);
}

/// The key IDs of the provider's JWKS.
async fn jwks_kids(sso: &Sso) -> Vec<String> {
    let text = sso
        .http
        .get(format!("{}/oauth2/jwks", sso.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let jwks: Value = serde_json::from_str(&text).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn signing_keys_rotate_with_overlap_and_are_in_the_backup() {
    let sso = sso_server().await;
    let before = jwks_kids(&sso).await;
    assert_eq!(before.len(), 1);
    let keys_dir = sso.server.install.dir.path().join("data/oidc");
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
    };
    assert_eq!(mode(&keys_dir), 0o700);
    assert_eq!(mode(&keys_dir.join(format!("{}.pem", before[0]))), 0o600);
    assert_eq!(mode(&keys_dir.join("pairwise.key")), 0o600);
    let out = ok_stdout(&sso.server.cli(&["oidc", "rotate-key"]));
    let kid = out.lines().find_map(|l| l.strip_prefix("kid: ")).unwrap().to_string();
    // The running server picks the new key up within seconds; the old one stays published.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let kids = jwks_kids(&sso).await;
        if kids.len() == 2 {
            assert_eq!(kids, vec![kid.clone(), before[0].clone()]);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new key was not published: {kids:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let client = sso.client("portal").await;
    let (url, nonce, verifier, _) = auth_request(&client, &[]);
    let res = Browser::new().authorize(&sso, &url, Some(("bob", PASSWORD, ""))).await;
    let code = AuthorizationCode::new(query(&location_of(&res), "code").unwrap());
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&sso.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let header: Value = {
        use base64::Engine;
        let head = id_token.to_string().split('.').next().unwrap().to_string();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap()
    };
    assert_eq!(header["kid"], kid.as_str(), "new tokens are signed with the new key");
    assert_eq!(header["alg"], "ES256");
    id_token.claims(&sso.verifier(&client), &nonce).unwrap();

    // The keys travel in the backup and come back byte for byte.
    let backup = sso.server.install.dir.path().join("b.json");
    ok_stdout(&sso.server.cli(&["backup", backup.to_str().unwrap()]));
    let target = tempfile::tempdir().unwrap();
    let config = target.path().join("piratenldap.toml");
    ok_stdout(
        &std::process::Command::new(piratenldap_tests::binary())
            .args([
                "--config",
                config.to_str().unwrap(),
                "restore",
                backup.to_str().unwrap(),
            ])
            .output()
            .unwrap(),
    );
    for name in [
        format!("{kid}.pem"),
        format!("{}.pem", before[0]),
        "pairwise.key".into(),
    ] {
        let restored = target.path().join("data/oidc").join(&name);
        assert_eq!(
            std::fs::read(&restored).unwrap(),
            std::fs::read(keys_dir.join(&name)).unwrap(),
            "{name}"
        );
        assert_eq!(mode(&restored), 0o600);
    }
}

/// A confidential code exchange posted by hand to `base` (a node); the status and the answer.
async fn exchange_raw(
    http: &reqwest::Client,
    base: &str,
    secret: &str,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let res = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth("portal", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    (
        status,
        serde_json::from_str(&res.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn concurrent_redemptions_on_two_nodes_succeed_once() {
    let a = Install::on_postgres().await;
    standard_fixture(&a).await;
    let issuer = a.fixed_http_port();
    let out = ok_stdout(&a.cli(&["service", "add", "portal", "--oidc", "--redirect-uri", REDIRECT]));
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_string();
    let b = a.second_node();
    let node_b = b.fixed_http_port_keeping_issuer();
    let (a, b) = (a.serve(), b.serve());
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let sso = Sso {
        server: a,
        issuer: issuer.clone(),
        secrets: [("portal".to_string(), secret.clone())].into(),
        http: http.clone(),
    };
    let client = sso.client("portal").await;
    let browser = Browser::new();
    for round in 0..5 {
        let (url, _, verifier, _) = auth_request(&client, &[]);
        let login = (round == 0).then_some(("bob", PASSWORD, ""));
        let res = browser.authorize(&sso, &url, login).await;
        let code = query(&location_of(&res), "code").unwrap();
        // Twenty redemptions at once, half on each node: one wins; the others are replays,
        // which revoke what the winner got.
        let tries: Vec<_> = (0..20)
            .map(|i| {
                let (http, secret, code, v) = (http.clone(), secret.clone(), code.clone(), verifier.secret().clone());
                let base = if i % 2 == 0 { issuer.clone() } else { node_b.clone() };
                tokio::spawn(async move { exchange_raw(&http, &base, &secret, &code, &v).await })
            })
            .collect();
        let mut won = Vec::new();
        for t in tries {
            let (status, answer) = t.await.unwrap();
            if status == StatusCode::OK {
                won.push(answer);
            }
        }
        assert_eq!(
            won.len(),
            1,
            "round {round}: {} redemptions of one code succeeded",
            won.len()
        );
        let access = won[0]["access_token"].as_str().unwrap();
        assert_eq!(
            userinfo(&sso, access).await.0,
            StatusCode::UNAUTHORIZED,
            "the replays revoked the winner's tokens"
        );
    }
    // Two refreshes of one token at once: at most one succeeds, and the family is revoked.
    let (url, _, verifier, _) = auth_request(&client, &[]);
    let res = browser.authorize(&sso, &url, None).await;
    let code = query(&location_of(&res), "code").unwrap();
    let (_, tokens) = exchange_raw(&http, &issuer, &secret, &code, verifier.secret()).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let refreshes: Vec<_> = [issuer.clone(), node_b.clone()]
        .into_iter()
        .map(|base| {
            let (http, secret, rt) = (http.clone(), secret.clone(), rt.clone());
            tokio::spawn(async move {
                let res = http
                    .post(format!("{base}/oauth2/token"))
                    .basic_auth("portal", Some(secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                (
                    status,
                    serde_json::from_str::<Value>(&res.text().await.unwrap()).unwrap_or(Value::Null),
                )
            })
        })
        .collect();
    let mut new_tokens = Vec::new();
    for r in refreshes {
        let (status, answer) = r.await.unwrap();
        if status == StatusCode::OK {
            new_tokens.push(answer["access_token"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(new_tokens.len(), 1, "two refreshes of one token succeeded");
    assert_eq!(
        userinfo(&sso, &new_tokens[0]).await.0,
        StatusCode::UNAUTHORIZED,
        "the family is revoked"
    );
    drop(b);
}

#[tokio::test]
async fn sessions_stay_ended_and_codes_stay_with_their_client() {
    let sso = sso_server().await;
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let (url, _, verifier, _) = auth_request(&client, &[]);
    let res = browser.authorize(&sso, &url, Some(("bob", PASSWORD, ""))).await;
    let code = query(&location_of(&res), "code").unwrap();
    // Another client presenting the code neither gets it nor burns it.
    let anon = sso.client("anon").await;
    assert!(
        anon.exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.secret().clone()))
            .request_async(&sso.http)
            .await
            .is_err()
    );
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&sso.http)
        .await
        .expect("the rightful client still redeems its code");
    // A replay after the session made another code still revokes.
    let (url, ..) = auth_request(&client, &[]);
    browser.authorize(&sso, &url, None).await;
    assert!(
        client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err()
    );
    assert_eq!(
        userinfo(&sso, tokens.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A lock ends the session for good: unlocking does not bring it back.
    let (tokens, _) = sign_in(&sso, &browser, &client, &[], None).await;
    ok_stdout(&sso.server.cli(&["account", "lock", "bob"]));
    ok_stdout(&sso.server.cli(&["account", "unlock", "bob"]));
    assert_eq!(
        userinfo(&sso, tokens.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let rt = tokens.refresh_token().unwrap();
    assert!(
        client
            .exchange_refresh_token(rt)
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err()
    );
    let (url, ..) = auth_request(&client, &[]);
    assert!(
        location_of(&browser.get(&url).await).starts_with("/login"),
        "the session stays ended"
    );

    // A new password ends the sessions too (after the view has seen the unlock).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (tokens, _) = sign_in(&sso, &browser, &client, &[], Some(("bob", PASSWORD, ""))).await;
    ok_stdout(&sso.server.install.cli_stdin(
        &["account", "passwd", "bob", "--password-stdin"],
        "violet tractors hum softly 9\n",
    ));
    assert_eq!(
        userinfo(&sso, tokens.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_fresh_login_asked_for_shows_the_form_once() {
    let sso = sso_server().await;
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let (url, ..) = auth_request(&client, &[]);
    browser.authorize(&sso, &url, Some(("bob", PASSWORD, ""))).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // max_age=0: the session is too old, the login form comes although a session exists,
    // and after it the client gets its code (no redirect loop).
    let (url, ..) = auth_request(&client, &[]);
    let url = format!("{url}&max_age=0");
    let res = browser.get(&url).await;
    let login = location_of(&res);
    assert!(login.starts_with("/login") && login.contains("reauth=1"), "{login}");
    let page = browser
        .get(&format!("{}{login}", sso.issuer))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"password\""), "the form, not a redirect");
    let res = browser.submit_login(&sso, &page, "Bob", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "usernames are case-insensitive");
    let next = location_of(&res);
    assert!(!next.contains("max_age"), "{next}");
    let res = browser.get(&format!("{}{next}", sso.issuer)).await;
    assert!(query(&location_of(&res), "code").is_some());
    // prompt=none with another value is refused.
    let (url, ..) = auth_request(&client, &[]);
    let res = browser.get(&format!("{url}&prompt=none%20login")).await;
    assert_eq!(query(&location_of(&res), "error").as_deref(), Some("invalid_request"));
}
