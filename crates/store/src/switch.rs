//! The one switch (issue 16): what suspending a member ended, and what reinstating them gave
//! back. The SQL is in `sql/switch.rs`.

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Uid};
use time::OffsetDateTime;

/// The longest reason a suspension may carry (it lands in the audit trail and on screens).
pub const MAX_SUSPENSION_REASON: usize = 200;

/// What disabling one member ended, in the transaction that changed their status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disabled {
    /// The member.
    pub member: Option<MemberNumber>,
    /// Their account, if they have one.
    pub uid: Option<Uid>,
    /// Single sign-on sessions ended (their refresh and access tokens with them).
    pub sessions_ended: u64,
    /// Whether a live letter token (activation or reset) was revoked.
    pub token_revoked: bool,
    /// Serials of the client certificates revoked.
    pub revoked_serials: Vec<String>,
}

/// What `member suspend` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspended {
    /// The status the member had and gets back at reinstatement.
    pub status_before: MembershipStatus,
    /// What was ended.
    pub disabled: Disabled,
}

/// What `member reinstate` did and could not undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reinstated {
    /// The status the member has again.
    pub status: MembershipStatus,
    /// Their account, whose password, app passwords and second factor work again (if active).
    pub uid: Option<Uid>,
    /// Why they had been suspended.
    pub reason: String,
    /// By whom.
    pub suspended_by: String,
    /// When.
    pub suspended_at: OffsetDateTime,
    /// Certificates the suspension revoked: revocation is final, they must be requested again.
    pub revoked_serials: Vec<String>,
    /// Whether the suspension revoked a live letter token: a new letter is needed.
    pub token_revoked: bool,
    /// Single sign-on sessions the suspension ended: the member logs in again.
    pub sessions_ended: u64,
}
