//! `POST /oauth2/token` (authorization code and refresh token grants) and `POST
//! /oauth2/revoke` (RFC 7009).
//!
//! A code is taken once, within 60 seconds, by the client it was issued to, with the same
//! redirect URI and the PKCE verifier of its challenge; a second use revokes what the first
//! one issued. Refresh tokens rotate on every use; presenting a used one revokes its family.
//! Confidential clients always get a refresh token, public ones only with `offline_access`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use piratenldap_oidc::{pkce, secrets};
use piratenldap_store::oidc::{Code, CodeTaken, Issue, LiveSession, OidcClient, RefreshTaken, TokenKind, Verdict};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::authorize::client_claims;
use super::client::{ClientError, authenticate};
use super::{Sso, no_store};

/// An OAuth error answer (RFC 6749 5.2).
fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut res = (status, Json(json!({ "error": code, "error_description": description }))).into_response();
    no_store(&mut res);
    res
}

fn client_error(e: ClientError) -> Response {
    match e {
        ClientError::Invalid { basic } => {
            let mut res = error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
            if basic {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"piratenldap\""),
                );
            }
            res
        }
        ClientError::Unavailable => error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again"),
    }
}

fn unavailable() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again")
}

/// A form that did not decode (wrong content type, bad encoding, too big): invalid_request.
type FormResult = Result<Form<Vec<(String, String)>>, FormRejection>;

/// The form as a map; `None` when a parameter repeats (RFC 6749 3.2: it must not).
fn single_valued(pairs: Vec<(String, String)>) -> Option<HashMap<String, String>> {
    let count = pairs.len();
    let map: HashMap<String, String> = pairs.into_iter().collect();
    (map.len() == count).then_some(map)
}

fn bad_form(rejection: &FormRejection) -> Response {
    error(
        rejection.status(),
        "invalid_request",
        "the body must be an application/x-www-form-urlencoded form of at most 16 KiB",
    )
}

/// The form of a token or revocation request and the client that sent it, or the error answer.
async fn client_request(
    sso: &Sso,
    headers: &HeaderMap,
    form: FormResult,
) -> Result<(HashMap<String, String>, OidcClient), Response> {
    let form = match form.map(|Form(f)| single_valued(f)) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "a parameter is repeated",
            ));
        }
        Err(r) => return Err(bad_form(&r)),
    };
    match authenticate(sso, headers, &form).await {
        Ok(client) => Ok((form, client)),
        Err(e) => Err(client_error(e)),
    }
}

/// `POST /oauth2/token`.
pub async fn token(State(sso): State<Arc<Sso>>, headers: HeaderMap, form: FormResult) -> Response {
    let (form, client) = match client_request(&sso, &headers, form).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let now = OffsetDateTime::now_utc();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    match field("grant_type") {
        "authorization_code" => code_grant(&sso, &client, &form, now).await,
        "refresh_token" => refresh_grant(&sso, &client, field("refresh_token"), now).await,
        _ => error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "authorization_code or refresh_token",
        ),
    }
}

/// The values of the tokens a grant may issue, made before the grant is taken (the store keeps
/// the take and the tokens in one transaction).
struct Minted {
    access: String,
    refresh: String,
    issue: Issue,
}

fn mint(sso: &Sso, now: OffsetDateTime) -> Minted {
    let (access, refresh) = (secrets::random(), secrets::random());
    let issue = Issue {
        access_hash: secrets::hash(TokenKind::Access.as_str(), &access),
        access_expires: now + sso.access_lifetime,
        refresh_hash: secrets::hash(TokenKind::Refresh.as_str(), &refresh),
        // A refresh token lives as long as a login does (and no longer than its session).
        refresh_expires: now + sso.session,
    };
    Minted { access, refresh, issue }
}

async fn code_grant(sso: &Sso, client: &OidcClient, form: &HashMap<String, String>, now: OffsetDateTime) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let invalid = |why: &str| error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let code = field("code");
    if !secrets::plausible(code) {
        return invalid("unknown or expired code");
    }
    let name = client.profile.name.as_str();
    let minted = mint(sso, now);
    let redirect_uri = field("redirect_uri").to_string();
    let verifier = form.get("code_verifier").cloned();
    let confidential = client.registration.secret_hash.is_some();
    let verdict = move |c: &Code| {
        let pkce_ok = match (&c.challenge, &verifier) {
            (Some(challenge), Some(v)) => pkce::verify(v, challenge),
            (None, None) => true,
            _ => false,
        };
        if c.redirect_uri != redirect_uri || !pkce_ok {
            return Verdict::Refuse;
        }
        Verdict::Issue {
            refresh: confidential || c.scope.split(' ').any(|s| s == "offline_access"),
        }
    };
    let taken = sso
        .store()
        .redeem_code(
            &secrets::hash("code", code),
            &client.profile.name,
            &verdict,
            &minted.issue,
            now,
        )
        .await;
    let (code, session, refresh) = match taken {
        Ok(CodeTaken::Fresh { code, session, refresh }) => (code, session, refresh),
        Ok(CodeTaken::Replayed) => {
            sso.audit(
                now,
                name,
                "sso.code.replay",
                name,
                "a used code again: its tokens are revoked".into(),
            )
            .await;
            return invalid("the code was used before; the tokens issued for it are revoked");
        }
        Ok(CodeTaken::Refused) => {
            return invalid(
                "redirect_uri differs from the authorization request's, or the PKCE code_verifier does not match",
            );
        }
        Ok(CodeTaken::Invalid) => return invalid("unknown or expired code, another client's, or the login has ended"),
        Err(e) => {
            tracing::error!(error = %e, "redeeming an authorization code failed");
            return unavailable();
        }
    };
    let scopes: Vec<&str> = code.scope.split(' ').collect();
    let refresh = refresh.then_some(minted.refresh.as_str());
    let grant = Grant {
        session: &session,
        scopes: &scopes,
        family: &code.code_hash,
        nonce: code.nonce.as_deref(),
    };
    let answer = respond(sso, client, &grant, &minted.access, refresh, now).await;
    if answer.status().is_success() {
        sso.audit(
            now,
            session.uid.as_str(),
            "sso.token",
            name,
            format!("scope {}", code.scope),
        )
        .await;
    }
    answer
}

async fn refresh_grant(sso: &Sso, client: &OidcClient, token: &str, now: OffsetDateTime) -> Response {
    let invalid = |why: &str| error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    if !secrets::plausible(token) {
        return invalid("unknown refresh token");
    }
    let name = client.profile.name.as_str();
    let minted = mint(sso, now);
    let found = match sso
        .store()
        .rotate_refresh(
            &secrets::hash("refresh", token),
            &client.profile.name,
            &minted.issue,
            now,
        )
        .await
    {
        Ok(RefreshTaken::Fresh(t)) => t,
        Ok(RefreshTaken::Replayed) => {
            sso.audit(
                now,
                name,
                "sso.refresh.replay",
                name,
                "a used refresh token again: its family is revoked".into(),
            )
            .await;
            return invalid("the refresh token was used before; every token of its family is revoked");
        }
        Ok(RefreshTaken::Invalid) => {
            return invalid("unknown, expired or revoked refresh token, or the login has ended");
        }
        Err(e) => {
            tracing::error!(error = %e, "using a refresh token failed");
            return unavailable();
        }
    };
    let scopes: Vec<&str> = found.scope.split(' ').collect();
    let grant = Grant {
        session: &found.session,
        scopes: &scopes,
        family: &found.family,
        nonce: None,
    };
    let answer = respond(sso, client, &grant, &minted.access, Some(&minted.refresh), now).await;
    if answer.status().is_success() {
        sso.audit(now, found.session.uid.as_str(), "sso.refresh", name, String::new())
            .await;
    }
    answer
}

/// What a grant was for.
struct Grant<'a> {
    session: &'a LiveSession,
    scopes: &'a [&'a str],
    family: &'a str,
    nonce: Option<&'a str>,
}

/// The token response for stored tokens: the claims read now and the signed ID token. If the
/// member may no longer use the client, the tokens just stored are revoked.
async fn respond(
    sso: &Sso,
    client: &OidcClient,
    grant: &Grant<'_>,
    access: &str,
    refresh: Option<&str>,
    now: OffsetDateTime,
) -> Response {
    let view = sso.directory.view();
    let session = grant.session;
    let Ok(mut claims) = client_claims(sso, &view, client, session.uid.as_str(), grant.scopes) else {
        if let Err(e) = sso.store().revoke_family(grant.family).await {
            tracing::error!(error = %e, "revoking tokens of a refused grant failed");
        }
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "this member may not use this client",
        );
    };
    let expires = now + sso.access_lifetime;
    let name = &client.profile.name;
    let scope = grant.scopes.join(" ");
    let at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(access.as_bytes())[..16]);
    claims.insert("iss".into(), Value::String(sso.issuer.clone()));
    claims.insert("aud".into(), Value::String(name.as_str().to_string()));
    claims.insert("iat".into(), Value::from(now.unix_timestamp()));
    claims.insert("exp".into(), Value::from(expires.unix_timestamp()));
    claims.insert("auth_time".into(), Value::from(session.created_at.unix_timestamp()));
    claims.insert("sid".into(), Value::String(session.sid.clone()));
    claims.insert("at_hash".into(), Value::String(at_hash));
    if let Some(n) = grant.nonce {
        claims.insert("nonce".into(), Value::String(n.to_string()));
    }
    let id_token = match sso.keys.get().sign(&claims) {
        Ok(t) => {
            super::authorize::count_real_name_reads(sso, client, &claims);
            t
        }
        Err(e) => {
            tracing::error!(error = %e, "signing an ID token failed");
            return unavailable();
        }
    };
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": sso.access_lifetime.whole_seconds(),
        "id_token": id_token,
        "scope": scope,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = Value::String(r.to_string());
    }
    let mut res = Json(body).into_response();
    no_store(&mut res);
    res
}

/// `POST /oauth2/revoke`: revokes an access token, or a refresh token with its family.
/// Answers 200 whether or not the token was known (RFC 7009 2.2).
pub async fn revoke(State(sso): State<Arc<Sso>>, headers: HeaderMap, form: FormResult) -> Response {
    let (form, client) = match client_request(&sso, &headers, form).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let token = form.get("token").map(String::as_str).unwrap_or("");
    if secrets::plausible(token) {
        let now = OffsetDateTime::now_utc();
        for kind in [TokenKind::Refresh, TokenKind::Access] {
            match sso
                .store()
                .revoke_token(&secrets::hash(kind.as_str(), token), &client.profile.name)
                .await
            {
                Ok(true) => {
                    let name = client.profile.name.as_str();
                    sso.audit(now, name, "sso.revoke", name, format!("{} token", kind.as_str()))
                        .await;
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "revoking a token failed");
                    return unavailable();
                }
            }
        }
    }
    let mut res = StatusCode::OK.into_response();
    no_store(&mut res);
    res
}
