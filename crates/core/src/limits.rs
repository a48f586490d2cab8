//! The `[limits]` section: bounds on what one client may ask of the server, each with a safe
//! default (`docs/security.md` sets them beside OpenLDAP's equivalents).

use serde::Deserialize;

/// `[limits]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    filter_elements: Option<usize>,
    filter_depth: Option<usize>,
    search_seconds: Option<u64>,
    connections_per_address: Option<usize>,
    idle_seconds: Option<u64>,
    unbound_idle_seconds: Option<u64>,
    handshake_seconds: Option<u64>,
    cursor_seconds: Option<u64>,
    write_seconds: Option<u64>,
    cursor_memory_kib: Option<usize>,
    page_entries: Option<usize>,
}

/// Bounds on a search and on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most components (AND, OR, NOT and assertions, counted through the whole tree) in one
    /// search filter; a larger filter is refused with adminLimitExceeded.
    pub filter_elements: usize,
    /// Deepest nesting of AND, OR and NOT in one filter.
    pub filter_depth: usize,
    /// Longest a search may evaluate, whatever time limit the client asks for; then it ends
    /// with timeLimitExceeded.
    pub search_seconds: u64,
    /// Most connections one source address may hold at once (the total is
    /// `ldap.max_connections`; when that is reached, the longest-idle connection that has not
    /// bound is closed to make room).
    pub connections_per_address: usize,
    /// A bound connection with no request for this long is closed.
    pub idle_seconds: u64,
    /// A connection that has not bound is closed after this long without a request.
    pub unbound_idle_seconds: u64,
    /// Longest a TLS handshake (LDAPS or StartTLS) may take.
    pub handshake_seconds: u64,
    /// A paged-search cursor not continued within this long is dropped.
    pub cursor_seconds: u64,
    /// A write to a client that makes no progress for this long closes the connection.
    pub write_seconds: u64,
    /// Memory all paged-search cursors together may hold (the DNs still to send), in KiB;
    /// a paged search that would need more is answered busy.
    pub cursor_memory_kib: usize,
    /// Most entries one page of a paged search carries, whatever size the client asks for
    /// (it then gets a cookie for the rest, as from Active Directory's MaxPageSize).
    pub page_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            filter_elements: 512,
            filter_depth: 16,
            search_seconds: 10,
            connections_per_address: 256,
            idle_seconds: 600,
            unbound_idle_seconds: 30,
            handshake_seconds: 10,
            cursor_seconds: 300,
            write_seconds: 30,
            cursor_memory_kib: 256 * 1024,
            page_entries: 1000,
        }
    }
}

impl RawLimits {
    /// The validated limits; `Err` names the key and what is wrong.
    pub(crate) fn validate(self) -> Result<Limits, (&'static str, &'static str)> {
        let d = Limits::default();
        let limits = Limits {
            filter_elements: self.filter_elements.unwrap_or(d.filter_elements),
            filter_depth: self.filter_depth.unwrap_or(d.filter_depth),
            search_seconds: self.search_seconds.unwrap_or(d.search_seconds),
            connections_per_address: self.connections_per_address.unwrap_or(d.connections_per_address),
            idle_seconds: self.idle_seconds.unwrap_or(d.idle_seconds),
            unbound_idle_seconds: self.unbound_idle_seconds.unwrap_or(d.unbound_idle_seconds),
            handshake_seconds: self.handshake_seconds.unwrap_or(d.handshake_seconds),
            cursor_seconds: self.cursor_seconds.unwrap_or(d.cursor_seconds),
            write_seconds: self.write_seconds.unwrap_or(d.write_seconds),
            cursor_memory_kib: self.cursor_memory_kib.unwrap_or(d.cursor_memory_kib),
            page_entries: self.page_entries.unwrap_or(d.page_entries),
        };
        let at_least_one = [
            ("limits.filter_elements", limits.filter_elements as u64),
            ("limits.filter_depth", limits.filter_depth as u64),
            ("limits.search_seconds", limits.search_seconds),
            ("limits.connections_per_address", limits.connections_per_address as u64),
            ("limits.idle_seconds", limits.idle_seconds),
            ("limits.unbound_idle_seconds", limits.unbound_idle_seconds),
            ("limits.handshake_seconds", limits.handshake_seconds),
            ("limits.cursor_seconds", limits.cursor_seconds),
            ("limits.write_seconds", limits.write_seconds),
            ("limits.cursor_memory_kib", limits.cursor_memory_kib as u64),
            ("limits.page_entries", limits.page_entries as u64),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Err((key, "must be at least 1"));
        }
        Ok(limits)
    }
}
