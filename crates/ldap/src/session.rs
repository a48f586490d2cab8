//! State shared by all connections ([`Context`]) and the state of one connection
//! ([`Session`]): who it is bound as, whether it is encrypted, its paged-search cursors.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use piratenldap_core::config::{Anonymous, PlaintextBind};
use piratenldap_core::dn::{Dn, DnError};
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
    /// Bytes held by the paged-search cursors of all connections.
    pub cursor_bytes: Arc<AtomicUsize>,
}

/// `bytes` of the server's cursor memory (`limits.cursor_memory_kib`), given back when its
/// cursor is dropped.
pub struct CursorTicket {
    held: Arc<AtomicUsize>,
    bytes: usize,
}

impl CursorTicket {
    /// A ticket for `bytes` if the cursors hold at most `max` bytes with it.
    pub fn take(held: &Arc<AtomicUsize>, bytes: usize, max: usize) -> Option<CursorTicket> {
        held.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            n.checked_add(bytes).filter(|total| *total <= max)
        })
        .ok()
        .map(|_| CursorTicket {
            held: Arc::clone(held),
            bytes,
        })
    }
}

impl Drop for CursorTicket {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Paged-search cursors a connection may hold at once; the oldest is dropped beyond this.
pub const MAX_CURSORS: usize = 8;

/// A paged search in progress (RFC 2696): the DNs that matched at the first page, so every
/// entry comes at most once even if the store changes. Each later page is read from the view
/// of that moment with the session's rights of that moment: an entry locked, left or gone
/// since is skipped, and no cursor keeps an old view alive.
pub struct Cursor {
    /// The cookie the client sends back.
    pub cookie: Vec<u8>,
    /// Normalised DNs of the entries not yet sent, in order.
    pub pending: std::collections::VecDeque<Box<str>>,
    /// Attributes requested.
    pub selection: Selection,
    /// typesOnly.
    pub types_only: bool,
    /// When it was made; it expires `limits.cursor_seconds` later.
    pub created: Instant,
    /// The memory it holds, counted against `limits.cursor_memory_kib`.
    pub ticket: CursorTicket,
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
    /// The rights [`Session::rights`] last found, and in which view for which identity.
    rights: Option<Rights>,
    /// The last search base [`Session::base_dn`] parsed, as sent and parsed.
    last_base: Option<(Box<str>, Dn)>,
}

/// Longest base DN [`Session::base_dn`] remembers: a connection holds at most this much for it.
const REMEMBERED_BASE_BYTES: usize = 256;

/// The rights an identity has in one view (`View::current`), remembered: a view changes a few
/// times a second at most, a connection asks on every operation.
#[derive(Debug)]
struct Rights {
    view: usize,
    revision: i64,
    bound: Principal,
    now: Principal,
}

/// Whether two principals are the same identity (the same DN, the same profile).
fn same_identity(a: &Principal, b: &Principal) -> bool {
    match (a, b) {
        (Principal::Anonymous, Principal::Anonymous) => true,
        (Principal::Member { dn: x }, Principal::Member { dn: y })
        | (Principal::Admin { dn: x }, Principal::Admin { dn: y }) => x == y,
        (Principal::Service { dn: x, access: p }, Principal::Service { dn: y, access: q }) => {
            x == y && Arc::ptr_eq(p, q)
        }
        _ => false,
    }
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
            rights: None,
            last_base: None,
        }
    }

    /// `raw` parsed as a search base. A client searches the same base again and again; the last
    /// one (if short) is remembered, and its parsed form shared.
    pub fn base_dn(&mut self, raw: &str) -> Result<Dn, DnError> {
        if let Some((last, dn)) = &self.last_base
            && **last == *raw
        {
            return Ok(dn.clone());
        }
        let dn = Dn::parse(raw)?;
        if raw.len() <= REMEMBERED_BASE_BYTES {
            self.last_base = Some((raw.into(), dn.clone()));
        }
        Ok(dn)
    }

    /// What the bound identity may do in `view` now ([`View::current`]), asked once per view.
    pub fn rights(&mut self, view: &View) -> Principal {
        let here = std::ptr::from_ref(view) as usize;
        if let Some(r) = &self.rights
            && r.view == here
            && r.revision == view.revision
            && same_identity(&r.bound, &self.principal)
        {
            return r.now.clone();
        }
        let now = view.current(&self.principal);
        self.rights = Some(Rights {
            view: here,
            revision: view.revision,
            bound: self.principal.clone(),
            now: now.clone(),
        });
        now
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
