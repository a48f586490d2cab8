//! What single sign-on keeps in the store: OpenID Connect clients (a service with redirect
//! URIs), sessions, authorization codes, access and refresh tokens, and consents. Secrets
//! (session IDs, codes, tokens, client secrets) are handed in and kept as SHA-256 hashes only.
//!
//! Every read of a session or token checks, in the same query, that the session is neither
//! ended nor expired and that its account is unlocked and its member active: a lock, a
//! suspension or a departure ends single sign-on on every node at the next request.

use async_trait::async_trait;
use piratenldap_core::ids::{Name, Uid};
use time::OffsetDateTime;

use crate::{Result, ServiceProfile};

/// How a client is registered (beside its service profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcRegistration {
    /// SHA-256 (hex) of the client secret; `None` for a public client (PKCE only).
    pub secret_hash: Option<String>,
    /// The redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// The front-channel logout URI, loaded in a frame when the member logs out.
    pub logout_uri: Option<String>,
    /// The client sees a pairwise `sub`.
    pub pairwise: bool,
    /// The member is asked once before the client gets data.
    pub consent: bool,
}

/// A client as the provider uses it.
#[derive(Debug, Clone)]
pub struct OidcClient {
    /// The service's profile (its name is the client ID).
    pub profile: ServiceProfile,
    /// Its registration.
    pub registration: OidcRegistration,
}

/// A new single sign-on session (after a login).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie value.
    pub id_hash: String,
    /// The public session ID (`sid`).
    pub sid: String,
    /// Who logged in.
    pub uid: Uid,
    /// How (`password`, `password+totp`).
    pub method: String,
    /// Start.
    pub created_at: OffsetDateTime,
    /// End, unless ended earlier.
    pub expires_at: OffsetDateTime,
}

/// A live session: not ended, not expired, its account unlocked and its member active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// SHA-256 of the cookie value.
    pub id_hash: String,
    /// The public session ID.
    pub sid: String,
    /// Whose it is.
    pub uid: Uid,
    /// How the member logged in.
    pub method: String,
    /// When (the ID token's `auth_time`).
    pub created_at: OffsetDateTime,
}

/// An authorization code, stored at the redirect and taken once at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client: Name,
    /// The session it came from.
    pub session_hash: String,
    /// The redirect URI of the request, which the token request must repeat.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub challenge: Option<String>,
    /// The request's nonce, copied into the ID token.
    pub nonce: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// Sixty seconds after issue.
    pub expires_at: OffsetDateTime,
}

/// The tokens a grant issues: their hashes and lifetimes (the store adds family, client,
/// session and scope). The values are made before the grant is taken, so the take and the
/// tokens are one transaction: a replay racing the first use always finds the tokens to revoke.
#[derive(Debug, Clone)]
pub struct Issue {
    /// SHA-256 of the access token.
    pub access_hash: String,
    /// Its expiry.
    pub access_expires: OffsetDateTime,
    /// SHA-256 of the refresh token, stored only when the verdict asks for one.
    pub refresh_hash: String,
    /// Its expiry.
    pub refresh_expires: OffsetDateTime,
}

/// What the caller decides about a code it has taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Refuse it (wrong redirect URI, PKCE verifier): the code stays used, nothing is issued.
    Refuse,
    /// Issue an access token, and a refresh token when `refresh`.
    Issue {
        /// Whether a refresh token is issued too.
        refresh: bool,
    },
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTaken {
    /// The code, now used, its session live, and the tokens stored; `refresh` says whether a
    /// refresh token was.
    Fresh {
        /// The code.
        code: Box<Code>,
        /// Its session.
        session: LiveSession,
        /// Whether a refresh token was stored.
        refresh: bool,
    },
    /// The code was used before: every token issued for it is now revoked.
    Replayed,
    /// The caller's verdict was [`Verdict::Refuse`].
    Refused,
    /// Unknown, another client's, expired, or its session ended.
    Invalid,
}

/// The kind of a stored token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A bearer token for userinfo.
    Access,
    /// A refresh token, used once.
    Refresh,
}

impl TokenKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// A live token with its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveToken {
    /// The family.
    pub family: String,
    /// The client.
    pub client: Name,
    /// Granted scopes.
    pub scope: String,
    /// The session (live).
    pub session: LiveSession,
}

/// What using a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshTaken {
    /// The token, now used, and its successors stored.
    Fresh(LiveToken),
    /// It was used before: its whole family is now revoked.
    Replayed,
    /// Unknown, expired, revoked, another client's, or its session ended.
    Invalid,
}

/// The single sign-on part of the store.
#[async_trait]
pub trait OidcStore: Send + Sync {
    /// Adds a service that is an OpenID Connect client, in one transaction.
    async fn add_oidc_client(
        &self,
        profile: &ServiceProfile,
        reg: &OidcRegistration,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// The client named `name`, if it is one.
    async fn oidc_client(&self, name: &Name) -> Result<Option<OidcClient>>;
    /// Every client's registration, by service name.
    async fn oidc_clients(&self) -> Result<Vec<(Name, OidcRegistration)>>;
    /// Replaces a confidential client's secret hash.
    async fn set_oidc_secret(&self, name: &Name, secret_hash: &str, now: OffsetDateTime) -> Result<()>;

    /// Stores a new session; an account keeps its 32 latest sessions.
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// The live session with this cookie hash.
    async fn session(&self, id_hash: &str, now: OffsetDateTime) -> Result<Option<LiveSession>>;
    /// Ends a session and revokes its tokens; returns the clients it had signed in to.
    async fn end_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<Vec<Name>>;
    /// Ends every session of `uid` (logout everywhere); returns how many were live.
    async fn end_sessions_of(&self, uid: &Uid, now: OffsetDateTime) -> Result<u64>;

    /// Stores a code and records that its session signed in to its client.
    async fn create_code(&self, code: &Code) -> Result<()>;
    /// Redeems a code of `client` once, atomically (also across PostgreSQL nodes): `verdict`
    /// judges the taken code, and the tokens of `issue` are stored in the same transaction. A
    /// code of another client is left alone; a used one revokes its family (see [`CodeTaken`]).
    /// A session keeps the token families of its 8 latest grants per client.
    async fn redeem_code(
        &self,
        code_hash: &str,
        client: &Name,
        verdict: &(dyn for<'c> Fn(&'c Code) -> Verdict + Send + Sync),
        issue: &Issue,
        now: OffsetDateTime,
    ) -> Result<CodeTaken>;
    /// A live access token.
    async fn access_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<LiveToken>>;
    /// Uses a refresh token of `client` once, atomically, storing the tokens of `issue` (an
    /// access and a refresh token of the same family) in the same transaction (see
    /// [`RefreshTaken`]). A family keeps its 16 latest used refresh tokens for replay detection.
    async fn rotate_refresh(
        &self,
        token_hash: &str,
        client: &Name,
        issue: &Issue,
        now: OffsetDateTime,
    ) -> Result<RefreshTaken>;
    /// Revokes every token of a family.
    async fn revoke_family(&self, family: &str) -> Result<()>;
    /// Revokes a token of `client` (a refresh token with its family); false if none matched.
    async fn revoke_token(&self, token_hash: &str, client: &Name) -> Result<bool>;

    /// The claim names `uid` agreed `client` may receive.
    async fn consent(&self, uid: &Uid, client: &Name) -> Result<Option<Vec<String>>>;
    /// Records (or replaces) a consent.
    async fn grant_consent(&self, uid: &Uid, client: &Name, claims: &[String], now: OffsetDateTime) -> Result<()>;

    /// Deletes expired codes, tokens and sessions; returns how many rows went.
    async fn prune_oidc(&self, now: OffsetDateTime) -> Result<u64>;
}
