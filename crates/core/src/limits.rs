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
}

/// Bounds on a search.
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            filter_elements: 512,
            filter_depth: 16,
            search_seconds: 10,
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
        };
        if limits.filter_elements == 0 {
            return Err(("limits.filter_elements", "must be at least 1"));
        }
        if limits.filter_depth == 0 {
            return Err(("limits.filter_depth", "must be at least 1"));
        }
        if limits.search_seconds == 0 {
            return Err(("limits.search_seconds", "must be at least 1"));
        }
        Ok(limits)
    }
}
