//! State shared by all connections ([`Context`]) and the state of one connection
//! ([`Session`]): who it is bound as, whether it is encrypted, its paged-search cursors.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use piratenldap_core::config::{Anonymous, PlaintextBind};
use piratenldap_core::limits::Limits;
use piratenldap_directory::render::Selection;
use piratenldap_directory::{Directory, Principal, View};

use piratenldap_auth::{Authenticator, Method};
use piratenldap_core::metrics::Metrics;

/// Server settings the operations need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// When password binds without TLS are allowed.
    pub plaintext_bind: PlaintextBind,
    /// What anonymous clients may read.
    pub anonymous: Anonymous,
    /// Largest number of entries one (non-paged) search returns.
    pub size_limit: usize,
    /// Whether StartTLS is offered.
    pub starttls: bool,
    /// What one client may ask (`[limits]`).
    pub limits: Limits,
}

/// What every connection shares.
pub struct Context {
    /// The live directory.
    pub directory: Arc<Directory>,
    /// Every credential check.
    pub auth: Arc<Authenticator>,
    /// Settings.
    pub settings: Settings,
    /// Counters for /metrics.
    pub metrics: Arc<Metrics>,
}

/// Paged-search cursors a connection may hold at once; the oldest is dropped beyond this.
pub const MAX_CURSORS: usize = 8;

/// A paged search in progress (RFC 2696): the results computed at the first page, against the
/// view of that moment, so every entry is returned exactly once even if the store changes.
pub struct Cursor {
    /// The cookie the client sends back.
    pub cookie: Vec<u8>,
    /// The view the results index into.
    pub view: Arc<View>,
    /// Whose rights the results are rendered with (a bind ends every cursor).
    pub principal: Principal,
    /// Matching entries.
    pub results: Vec<usize>,
    /// How many were sent.
    pub sent: usize,
    /// Attributes requested.
    pub selection: Selection,
    /// typesOnly.
    pub types_only: bool,
}

/// One connection's state.
pub struct Session {
    /// Who the connection is bound as.
    pub principal: Principal,
    /// How it authenticated (`None` while anonymous).
    pub method: Option<Method>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is encrypted (LDAPS or after StartTLS).
    pub tls: bool,
    /// SHA-256 fingerprint of the client's TLS certificate, if it sent one.
    pub client_cert: Option<String>,
    /// Open paged-search cursors, oldest first.
    pub cursors: VecDeque<Cursor>,
    /// Counter for cursor cookies.
    pub next_cookie: u64,
}

impl Session {
    /// A new, anonymous session.
    pub fn new(peer: SocketAddr, tls: bool, client_cert: Option<String>) -> Self {
        Session {
            principal: Principal::Anonymous,
            method: None,
            peer,
            tls,
            client_cert,
            cursors: VecDeque::new(),
            next_cookie: 1,
        }
    }

    /// Forgets who the connection is and every paged-search cursor: a cursor carries the
    /// rights of the identity that started it, so a bind or StartTLS ends them all.
    pub fn reset_identity(&mut self) {
        self.principal = Principal::Anonymous;
        self.method = None;
        self.cursors.clear();
    }

    /// Whether a password may travel over this connection.
    pub fn password_allowed(&self, policy: PlaintextBind) -> bool {
        self.tls
            || match policy {
                PlaintextBind::Always => true,
                PlaintextBind::Loopback => self.peer.ip().is_loopback(),
                PlaintextBind::Never => false,
            }
    }
}
