//! `sso`: single sign-on through the real HTTP endpoints, beside LDAP binds in the same run.
//!
//! - `login`: each iteration opens the login page (CSRF cookie and field) and posts a random
//!   member's username and password: one argon2 verification, like an LDAP bind;
//! - `bind`: the same members bind over LDAP on long-lived connections, for comparison;
//! - `exchange`: with one session per worker, each iteration asks `/oauth2/authorize` for a
//!   code and exchanges it at `/oauth2/token` (client_secret_basic, PKCE); the exchange's
//!   latency is measured on its own.
//!
//! Prints one JSON line per phase. HTTP by hand with reqwest (no cookie store: the two
//! cookies are read from `Set-Cookie`), so the client costs little beside the server.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use rand::Rng;
use reqwest::redirect::Policy;

/// Options of `sso`.
#[derive(Debug, Clone, Args)]
pub struct SsoArgs {
    /// The issuer (`http.public_url`), e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub issuer: String,
    /// The LDAP URL, for the bind comparison.
    #[arg(long)]
    pub ldap_url: String,
    /// A confidential client registered with `--redirect-uri` = `--redirect-uri`.
    #[arg(long)]
    pub client_id: String,
    /// Its secret.
    #[arg(long)]
    pub client_secret: String,
    /// Its redirect URI.
    #[arg(long)]
    pub redirect_uri: String,
    /// Members are `u000000` … `u{members-1}`.
    #[arg(long)]
    pub members: usize,
    /// Members' password.
    #[arg(long, default_value = "bench-password")]
    pub password: String,
    /// DN of member `{uid}`.
    #[arg(long, default_value = "uid={uid},ou=people,dc=example,dc=org")]
    pub member_dn: String,
    /// Concurrent connections (comma-separated: one run each).
    #[arg(long, value_delimiter = ',', default_value = "8")]
    pub connections: Vec<usize>,
    /// Seconds per phase and connection count.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// A PKCE pair from RFC 7636 appendix B (the benchmark needs no secrecy).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn uid(args: &SsoArgs) -> String {
    format!("u{:06}", rand::thread_rng().gen_range(0..args.members))
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all("set-cookie").iter().find_map(|v| {
        let (k, rest) = v.to_str().ok()?.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
    })
}

/// The CSRF field of the login page.
fn csrf_field(page: &str) -> Option<String> {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker)? + marker.len();
    Some(page[start..start + page[start..].find('"')?].to_string())
}

/// One web login; the session cookie on success.
async fn login(http: &reqwest::Client, args: &SsoArgs, uid: &str) -> Option<String> {
    let page = http.get(format!("{}/login", args.issuer)).send().await.ok()?;
    let csrf_cookie = set_cookie(&page, "piratenldap_sso_csrf")?;
    let csrf = csrf_field(&page.text().await.ok()?)?;
    let res = http
        .post(format!("{}/login", args.issuer))
        .header("cookie", format!("piratenldap_sso_csrf={csrf_cookie}"))
        .form(&[("csrf", csrf.as_str()), ("username", uid), ("password", &args.password)])
        .send()
        .await
        .ok()?;
    (res.status() == reqwest::StatusCode::SEE_OTHER).then(|| set_cookie(&res, "piratenldap_sso"))?
}

/// One authorization request and code exchange; the exchange's latency on success.
async fn exchange(http: &reqwest::Client, args: &SsoArgs, session: &str) -> Option<u32> {
    let res = http
        .get(format!("{}/oauth2/authorize", args.issuer))
        .query(&[
            ("response_type", "code"),
            ("client_id", &args.client_id),
            ("redirect_uri", &args.redirect_uri),
            ("scope", "openid profile"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .header("cookie", format!("piratenldap_sso={session}"))
        .send()
        .await
        .ok()?;
    let location = res.headers().get("location")?.to_str().ok()?;
    let code = location.split_once("code=")?.1.split('&').next()?.to_string();
    let start = Instant::now();
    let res = http
        .post(format!("{}/oauth2/token", args.issuer))
        .basic_auth(&args.client_id, Some(&args.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &args.redirect_uri),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .ok()?;
    let ok = res.status().is_success() && res.text().await.ok()?.contains("id_token");
    ok.then(|| micros(start))
}

async fn ldap_bind(args: &SsoArgs, deadline: Instant) -> Result<(Vec<u32>, u64)> {
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&args.ldap_url).await?;
    ldap3::drive!(conn);
    let (mut times, mut errors) = (Vec::new(), 0);
    while Instant::now() < deadline {
        let dn = args.member_dn.replace("{uid}", &uid(args));
        let start = Instant::now();
        let ok = matches!(ldap.simple_bind(&dn, &args.password).await, Ok(r) if r.rc == 0);
        times.push(micros(start));
        errors += u64::from(!ok);
    }
    Ok((times, errors))
}

async fn worker(phase: &'static str, args: SsoArgs, deadline: Instant) -> Result<(Vec<u32>, u64)> {
    let http = reqwest::Client::builder().redirect(Policy::none()).build()?;
    let (mut times, mut errors) = (Vec::new(), 0u64);
    match phase {
        "bind" => return ldap_bind(&args, deadline).await,
        "login" => {
            while Instant::now() < deadline {
                let start = Instant::now();
                let ok = login(&http, &args, &uid(&args)).await.is_some();
                times.push(micros(start));
                errors += u64::from(!ok);
            }
        }
        _ => {
            let session = login(&http, &args, &uid(&args))
                .await
                .context("a worker could not log in")?;
            while Instant::now() < deadline {
                match exchange(&http, &args, &session).await {
                    Some(us) => times.push(us),
                    None => errors += 1,
                }
            }
        }
    }
    Ok((times, errors))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let i = ((last as f64) * p).round() as usize;
    f64::from(sorted[i.min(last)]) / 1000.0
}

/// Runs every phase at every connection count; one JSON line each.
pub async fn run(args: SsoArgs) -> Result<()> {
    if args.members == 0 || args.connections.contains(&0) {
        bail!("--members and --connections must be at least 1");
    }
    for &connections in &args.connections {
        for phase in ["bind", "login", "exchange"] {
            let started = Instant::now();
            let deadline = started + Duration::from_secs(args.seconds);
            let tasks: Vec<_> = (0..connections)
                .map(|_| tokio::spawn(worker(phase, args.clone(), deadline)))
                .collect();
            let (mut all, mut errors) = (Vec::new(), 0);
            for t in tasks {
                let (times, e) = t.await.context("a worker panicked")??;
                all.extend(times);
                errors += e;
            }
            let elapsed = started.elapsed().as_secs_f64();
            all.sort_unstable();
            println!(
                "{}",
                serde_json::json!({
                    "phase": phase,
                    "connections": connections,
                    "ops": all.len(),
                    "ops_per_sec": ((all.len() as f64 / elapsed) * 10.0).round() / 10.0,
                    "p50_ms": percentile(&all, 0.50),
                    "p99_ms": percentile(&all, 0.99),
                    "errors": errors,
                })
            );
        }
    }
    Ok(())
}
