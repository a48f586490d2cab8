//! Search: the root DSE, the subschema entry and the tree, with scopes, filters, attribute
//! selection, typesOnly, size and time limits and the paged results control (RFC 2696).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{LdapMsg, LdapOp, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchScope};
use piratenldap_core::Dn;
use piratenldap_core::config::Anonymous;
use piratenldap_directory::filter::{Everything, Truth, evaluate, measure};
use piratenldap_directory::render::{Selection, render};
use piratenldap_directory::view::SearchError;
use piratenldap_directory::{Principal, View};

use super::rootdse::{render_synthetic, root_dse, subschema_entry};
use super::{Outcome, result};
use crate::session::{Context, Cursor, CursorTicket, MAX_CURSORS, Session};

fn done(msgid: i32, res: LdapResult) -> LdapMsg {
    LdapMsg::new(msgid, LdapOp::SearchResultDone(res))
}

/// Filter work (candidates × filter components) evaluated on the reactor; a search with more
/// moves to a blocking thread, so a large scan never stalls other clients.
const INLINE_WORK: usize = 20_000;

/// Handles a search request; returns the entries and the final SearchResultDone.
pub async fn search(
    ctx: &Context,
    session: &mut Session,
    msgid: i32,
    req: &LdapSearchRequest,
    ctrl: &[LdapControl],
) -> Outcome {
    let limits = ctx.settings.limits;
    let (elements, depth) = measure(&req.filter);
    if elements > limits.filter_elements || depth > limits.filter_depth {
        return vec![done(
            msgid,
            result(
                LdapResultCode::AdminLimitExceeded,
                format!(
                    "the filter has {elements} components nested {depth} deep; this server takes at most {} nested {} deep (limits.filter_elements, limits.filter_depth)",
                    limits.filter_elements, limits.filter_depth
                ),
            ),
        )].into();
    }
    let Ok(base) = session.base_dn(&req.base) else {
        return vec![done(
            msgid,
            result(
                LdapResultCode::InvalidDNSyntax,
                format!("{:?} is not a valid base DN", req.base),
            ),
        )]
        .into();
    };
    let selection = Selection::parse(&req.attrs);
    // The rights the bound identity has in this view (none once locked or gone).
    let view = ctx.directory.view();
    let principal = session.rights(&view);
    let anonymous = matches!(principal, Principal::Anonymous);
    let subschema = subschema_entry();

    // The root DSE and the subschema entry.
    let synthetic = if base.is_root() && req.scope == LdapSearchScope::Base {
        Some(Cow::Owned(root_dse(ctx.directory.layout(), ctx.settings.starttls)))
    } else if base == subschema.dn {
        Some(Cow::Borrowed(subschema))
    } else {
        None
    };
    if let Some(entry) = synthetic {
        if anonymous && ctx.settings.anonymous == Anonymous::Off {
            return vec![done(
                msgid,
                result(
                    LdapResultCode::InsufficentAccessRights,
                    "anonymous access is off; bind first",
                ),
            )]
            .into();
        }
        let mut out = Vec::new();
        if req.scope != LdapSearchScope::OneLevel
            && req.scope != LdapSearchScope::Children
            && evaluate(&req.filter, &entry, &Everything(&entry)) == Truth::True
        {
            out.push(LdapMsg::new(
                msgid,
                LdapOp::SearchResultEntry(render_synthetic(&entry, &selection, req.typesonly)),
            ));
        }
        out.push(done(msgid, result(LdapResultCode::Success, "")));
        return out.into();
    }

    if anonymous {
        return vec![done(
            msgid,
            result(
                LdapResultCode::InsufficentAccessRights,
                "anonymous clients may read only the root DSE and cn=Subschema; bind first",
            ),
        )]
        .into();
    }
    let paged = ctrl.iter().find_map(|c| match c {
        LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
        _ => None,
    });
    // The client's time limit, never beyond the server's.
    let seconds = u64::try_from(req.timelimit)
        .ok()
        .filter(|s| *s > 0)
        .map_or(limits.search_seconds, |s| s.min(limits.search_seconds));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client_limit = usize::try_from(req.sizelimit).ok().filter(|l| *l > 0);

    if let Some((size, cookie)) = &paged
        && !cookie.is_empty()
    {
        return continue_paged(ctx, session, msgid, *size, cookie, deadline).into();
    }
    let mut found = match first_results(&view, &principal, &base, req, selection, deadline).await {
        Ok(found) => found,
        Err(e) => return vec![failed(msgid, &base, e)].into(),
    };
    found.reads = RealNameCounter::for_reader(ctx, &principal);
    match paged {
        Some((size, _)) if client_limit.is_none_or(|l| found.results.len() <= l) => {
            first_page(ctx, session, msgid, found, size).into()
        }
        _ => {
            let limit = client_limit.unwrap_or(usize::MAX).min(ctx.settings.size_limit);
            send_limited(found, msgid, limit, deadline)
        }
    }
}

/// What a search found, in the view it was found in.
struct Found {
    view: Arc<View>,
    principal: Principal,
    results: Vec<usize>,
    selection: Selection,
    types_only: bool,
    /// Counts real names sent to a service with `--real-names` (issue 16).
    reads: Option<RealNameCounter>,
}

/// Counts the entries with real names a `--real-names` service receives, for the audit
/// trail (`auth::reads`): counted here per search, handed to the authentication core once
/// when the search (or page) is done, so the shared counter is not touched per entry.
struct RealNameCounter {
    auth: Arc<piratenldap_auth::Authenticator>,
    service: String,
    entries: std::sync::atomic::AtomicU64,
}

impl RealNameCounter {
    /// A counter if `reader` is a service that may read real names.
    fn for_reader(ctx: &Context, reader: &Principal) -> Option<RealNameCounter> {
        match reader {
            Principal::Service { access, .. } if access.profile.real_names => Some(RealNameCounter {
                auth: Arc::clone(&ctx.auth),
                service: access.profile.name.to_string(),
                entries: std::sync::atomic::AtomicU64::new(0),
            }),
            _ => None,
        }
    }

    /// Counts `entry` if it carries a real name or member number (values, not types only).
    fn note(counter: Option<&RealNameCounter>, entry: &ldap3_proto::proto::LdapSearchResultEntry) {
        let Some(c) = counter else { return };
        let named = entry.attributes.iter().any(|a| {
            !a.vals.is_empty()
                && piratenldap_auth::reads::REAL_NAME_ATTRIBUTES
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&a.atype))
        });
        if named {
            c.entries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Drop for RealNameCounter {
    fn drop(&mut self) {
        let n = *self.entries.get_mut();
        self.auth
            .count_real_name_reads(&self.service, n, time::OffsetDateTime::now_utc());
    }
}

/// Runs the search for `principal`. The filter runs on the reactor when the work is small,
/// else on a blocking thread; either way it stops at `deadline`.
async fn first_results(
    view: &Arc<View>,
    principal: &Principal,
    base: &Dn,
    req: &LdapSearchRequest,
    selection: Selection,
    deadline: Instant,
) -> Result<Found, SearchError> {
    // A search of the whole server (base "" below the root DSE) searches the naming context.
    let (base, scope) = if base.is_root() {
        let scope = if req.scope == LdapSearchScope::OneLevel {
            LdapSearchScope::Base
        } else {
            LdapSearchScope::Subtree
        };
        (view.layout.base.clone(), scope)
    } else {
        (base.clone(), req.scope.clone())
    };
    let candidates = view.candidates(principal, &base, &scope, &req.filter)?;
    let work = candidates.len().saturating_mul(measure(&req.filter).0);
    let results = if work <= INLINE_WORK {
        view.matching(principal, &req.filter, candidates, deadline)?
    } else {
        let (v, p, f) = (Arc::clone(view), principal.clone(), req.filter.clone());
        tokio::task::spawn_blocking(move || v.matching(&p, &f, candidates, deadline))
            .await
            .map_err(|_| SearchError::TimeLimit)??
    };
    Ok(Found {
        view: Arc::clone(view),
        principal: principal.clone(),
        results,
        selection,
        types_only: req.typesonly,
        reads: None,
    })
}

/// The SearchResultDone of a search that could not run or did not finish.
fn failed(msgid: i32, base: &Dn, e: SearchError) -> LdapMsg {
    match e {
        SearchError::NoSuchObject { matched } => {
            let mut res = result(
                LdapResultCode::NoSuchObject,
                format!("no entry {base} (or not visible to you)"),
            );
            res.matcheddn = matched;
            done(msgid, res)
        }
        SearchError::TimeLimit => done(
            msgid,
            result(
                LdapResultCode::TimeLimitExceeded,
                "the time limit ran out; narrow the filter (limits.search_seconds)",
            ),
        ),
    }
}

/// The results of a non-paged search, up to `limit`, rendered one at a time as the connection
/// writes them (a large result is never built whole in memory), then the SearchResultDone.
struct Streamed {
    found: Found,
    msgid: i32,
    limit: usize,
    deadline: Instant,
    next: usize,
    finished: bool,
}

impl Iterator for Streamed {
    type Item = LdapMsg;

    fn next(&mut self) -> Option<LdapMsg> {
        if self.finished {
            return None;
        }
        let n = self.next;
        let end = |me: &mut Self, code, message: String| {
            me.finished = true;
            Some(done(me.msgid, result(code, message)))
        };
        if n == self.found.results.len() {
            return end(self, LdapResultCode::Success, String::new());
        }
        if n == self.limit {
            let message = format!(
                "more than {} entries match; narrow the filter or use paged results",
                self.limit
            );
            return end(self, LdapResultCode::SizeLimitExceeded, message);
        }
        if Instant::now() > self.deadline {
            return end(self, LdapResultCode::TimeLimitExceeded, "the time limit ran out".into());
        }
        self.next += 1;
        let f = &self.found;
        let entry = render(&f.view, &f.principal, f.results[n], &f.selection, f.types_only);
        RealNameCounter::note(f.reads.as_ref(), &entry);
        Some(LdapMsg::new(self.msgid, LdapOp::SearchResultEntry(entry)))
    }
}

/// Up to `limit` results of a non-paged search, streamed.
fn send_limited(found: Found, msgid: i32, limit: usize, deadline: Instant) -> Outcome {
    Outcome::streamed(Streamed {
        found,
        msgid,
        limit,
        deadline,
        next: 0,
        finished: false,
    })
}

/// The SearchResultDone of a page, with the paged results control carrying `cookie` (empty
/// when the search is complete).
fn page_done(msgid: i32, cookie: Vec<u8>, code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg::new_with_ctrls(
        msgid,
        LdapOp::SearchResultDone(result(code, message)),
        vec![LdapControl::SimplePagedResults { size: 0, cookie }],
    )
}

/// Bytes a cursor holds for one pending DN (the text and its box).
const BYTES_PER_DN: usize = 2 * std::mem::size_of::<usize>();

/// Entries one page carries: what the client asks, at most `limits.page_entries`.
fn page_size(ctx: &Context, size: i64) -> usize {
    usize::try_from(size)
        .unwrap_or(0)
        .clamp(1, ctx.settings.limits.page_entries)
}

/// Sends the first page from what was found and keeps the rest, by DN, in a new cursor.
fn first_page(ctx: &Context, session: &mut Session, msgid: i32, found: Found, size: i64) -> Vec<LdapMsg> {
    let page = page_size(ctx, size);
    let rest = found.results.get(page..).unwrap_or_default();
    let cursor = if rest.is_empty() {
        None
    } else {
        let now = Instant::now();
        let max_age = Duration::from_secs(ctx.settings.limits.cursor_seconds);
        session.cursors.retain(|c| now.duration_since(c.created) < max_age);
        while session.cursors.len() >= MAX_CURSORS {
            session.cursors.pop_front();
        }
        let pending: VecDeque<Box<str>> = rest
            .iter()
            .map(|i| Box::from(found.view.entries[*i].dn.normalised()))
            .collect();
        let bytes = pending.iter().map(|dn| dn.len() + BYTES_PER_DN).sum();
        let max = ctx.settings.limits.cursor_memory_kib.saturating_mul(1024);
        let Some(ticket) = CursorTicket::take(&ctx.cursor_bytes, bytes, max) else {
            return vec![page_done(
                msgid,
                Vec::new(),
                LdapResultCode::Busy,
                "the paged searches open on this server hold all the memory they may; try again shortly (limits.cursor_memory_kib)",
            )];
        };
        let cookie = format!("{}:{}", session.next_cookie, rand::random::<u64>()).into_bytes();
        session.next_cookie += 1;
        session.cursors.push_back(Cursor {
            cookie: cookie.clone(),
            pending,
            selection: found.selection.clone(),
            types_only: found.types_only,
            created: now,
            ticket,
        });
        Some(cookie)
    };
    let mut out: Vec<LdapMsg> = found.results[..found.results.len().min(page)]
        .iter()
        .map(|i| {
            let entry = render(&found.view, &found.principal, *i, &found.selection, found.types_only);
            RealNameCounter::note(found.reads.as_ref(), &entry);
            LdapMsg::new(msgid, LdapOp::SearchResultEntry(entry))
        })
        .collect();
    out.push(page_done(
        msgid,
        cursor.unwrap_or_default(),
        LdapResultCode::Success,
        "",
    ));
    out
}

/// Sends the next page of a cursor from the current view with the session's current rights
/// (entries gone or hidden since are skipped), or ends it when `size` is 0 (the client
/// abandons it) or it has expired.
fn continue_paged(
    ctx: &Context,
    session: &mut Session,
    msgid: i32,
    size: i64,
    cookie: &[u8],
    deadline: Instant,
) -> Vec<LdapMsg> {
    let max_age = Duration::from_secs(ctx.settings.limits.cursor_seconds);
    let found = session
        .cursors
        .iter()
        .position(|c| c.cookie == cookie && c.created.elapsed() < max_age);
    let Some(pos) = found else {
        return vec![done(
            msgid,
            result(
                LdapResultCode::UnwillingToPerform,
                "unknown or expired paged results cookie; start the search again",
            ),
        )];
    };
    if size <= 0 {
        session.cursors.remove(pos);
        return vec![page_done(msgid, Vec::new(), LdapResultCode::Success, "")];
    }
    let view = ctx.directory.view();
    let principal = session.rights(&view);
    let reads = RealNameCounter::for_reader(ctx, &principal);
    let Some(cursor) = session.cursors.get_mut(pos) else {
        return vec![done(msgid, result(LdapResultCode::Other, "internal error"))];
    };
    let page = page_size(ctx, size);
    let mut out = Vec::new();
    let mut sent = 0;
    while sent < page {
        let Some(dn) = cursor.pending.pop_front() else { break };
        if Instant::now() > deadline {
            session.cursors.remove(pos);
            out.push(page_done(
                msgid,
                Vec::new(),
                LdapResultCode::TimeLimitExceeded,
                "the time limit ran out",
            ));
            return out;
        }
        let Some(i) = view
            .entry_index_normalised(&dn)
            .filter(|i| view.visible(&principal, *i))
        else {
            continue;
        };
        let entry = render(&view, &principal, i, &cursor.selection, cursor.types_only);
        RealNameCounter::note(reads.as_ref(), &entry);
        out.push(LdapMsg::new(msgid, LdapOp::SearchResultEntry(entry)));
        sent += 1;
    }
    if cursor.pending.is_empty() {
        session.cursors.remove(pos);
        out.push(page_done(msgid, Vec::new(), LdapResultCode::Success, ""));
    } else {
        out.push(page_done(msgid, cursor.cookie.clone(), LdapResultCode::Success, ""));
    }
    out
}
