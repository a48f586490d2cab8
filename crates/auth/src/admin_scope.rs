//! Who may administer what (issue 15): federal admins (the group `admins`) may do everything;
//! a chapter admin acts only on members whose state is one of their chapters, on groups and
//! services those chapters own, and on certificate requests of those chapters, and never on
//! what only the federal level decides. Every front end (CLI, console) asks [`decide`]; a
//! refusal says what was refused and why.

use std::collections::BTreeMap;

use piratenldap_core::ids::{StateCode, Uid};

/// A chapter admin's grant for one chapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChapterGrant {
    /// May see members' real names and numbers.
    pub real_names: bool,
}

/// The administrative role of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A member of `admins`.
    Federal,
    /// Chapter admin of these chapters (empty: no admin at all).
    Chapters(BTreeMap<StateCode, ChapterGrant>),
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The acting admin's account.
    pub uid: Uid,
    /// Their role.
    pub role: Role,
}

/// What an admin wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Find members and see their number, status, account, tokens, certificates, groups.
    ReadMember,
    /// See real names (member numbers are part of [`Action::ReadMember`]).
    ReadRealNames,
    /// Lock or unlock an account.
    LockAccount,
    /// Issue an activation or reset letter, or download the mail-merge CSV.
    IssueLetter,
    /// Create a group or change its members.
    ManageGroup,
    /// Register, change or remove a service.
    ManageService,
    /// Request a client certificate.
    RequestCertificate,
    /// Approve a certificate request (the second pair of eyes).
    ApproveCertificate,
    /// Read the audit trail.
    ReadAudit,
    /// Grant or revoke admin roles.
    GrantRole,
    /// Configuration and backups.
    Operate,
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::ReadMember => "see members",
            Action::ReadRealNames => "see real names",
            Action::LockAccount => "lock or unlock accounts",
            Action::IssueLetter => "issue letters",
            Action::ManageGroup => "manage groups",
            Action::ManageService => "manage services",
            Action::RequestCertificate => "request certificates",
            Action::ApproveCertificate => "approve certificate requests",
            Action::ReadAudit => "read the audit trail",
            Action::GrantRole => "grant or revoke admin roles",
            Action::Operate => "change the configuration or make backups",
        }
    }
}

/// What an action is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A member of a state association (its chapter).
    Member(StateCode),
    /// A chapter as a whole (its audit trail, its letters, a new group or service for it).
    Chapter(StateCode),
    /// A group or service owned by a chapter, or by the federal level (`None`).
    Owned(Option<StateCode>),
    /// A certificate request: the chapter of its holder (`None`: a federal role) and who asked.
    CertificateRequest {
        /// The holder's chapter, or `None` for a federal role.
        chapter: Option<StateCode>,
        /// Who requested it.
        requested_by: Uid,
    },
    /// The installation itself (roles, configuration, backups, services that see everyone).
    Installation,
}

/// Why an action was refused, in words for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Whether `actor` may do `action` on `target`.
pub fn decide(actor: &Actor, action: Action, target: &Target) -> Result<(), Refusal> {
    let what = action.describe();
    let chapters = match &actor.role {
        Role::Federal => return four_eyes(actor, target),
        Role::Chapters(c) if c.is_empty() => {
            return Err(Refusal(format!("{} is no admin and may not {what}", actor.uid)));
        }
        Role::Chapters(c) => c,
    };
    if matches!(action, Action::GrantRole | Action::Operate) {
        return Err(Refusal(format!("only federal admins may {what}")));
    }
    let chapter = match target {
        Target::Member(c) | Target::Chapter(c) | Target::Owned(Some(c)) => c,
        Target::CertificateRequest { chapter: Some(c), .. } => c,
        Target::Owned(None) | Target::CertificateRequest { chapter: None, .. } | Target::Installation => {
            return Err(Refusal(format!(
                "only federal admins may {what} at the federal level (not owned by a chapter)"
            )));
        }
    };
    let Some(grant) = chapters.get(chapter) else {
        let own: Vec<&str> = chapters.keys().map(StateCode::as_str).collect();
        return Err(Refusal(format!(
            "{} is chapter admin of {} and may not {what} of chapter {chapter}",
            actor.uid,
            own.join(", ")
        )));
    };
    if action == Action::ReadRealNames && !grant.real_names {
        return Err(Refusal(format!(
            "the chapter admin role of {} for {chapter} does not include real names",
            actor.uid
        )));
    }
    four_eyes(actor, target)
}

/// A certificate request is approved by someone other than who requested it.
fn four_eyes(actor: &Actor, target: &Target) -> Result<(), Refusal> {
    match target {
        Target::CertificateRequest { requested_by, .. } if *requested_by == actor.uid => Err(Refusal(format!(
            "{} requested this certificate; a different admin must approve it (four eyes)",
            actor.uid
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> Uid {
        Uid::parse(s).unwrap_or_else(|_| std::process::abort())
    }

    fn state(s: &str) -> StateCode {
        StateCode::parse(s).unwrap_or_else(|_| std::process::abort())
    }

    fn chapter_admin(name: &str, chapters: &[(&str, bool)]) -> Actor {
        Actor {
            uid: uid(name),
            role: Role::Chapters(
                chapters
                    .iter()
                    .map(|(c, real_names)| {
                        (
                            state(c),
                            ChapterGrant {
                                real_names: *real_names,
                            },
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// One row per case: actor, action, target, allowed.
    #[test]
    fn the_permission_table() {
        let fed = Actor {
            uid: uid("alice"),
            role: Role::Federal,
        };
        let by = chapter_admin("bayer", &[("BY", false)]);
        let by_names = chapter_admin("bayer2", &[("BY", true)]);
        let nw = chapter_admin("nrw", &[("NW", false)]);
        let member = chapter_admin("bob", &[]);
        let req = |chapter: Option<&str>, by: &str| Target::CertificateRequest {
            chapter: chapter.map(state),
            requested_by: uid(by),
        };
        let cases: Vec<(&Actor, Action, Target, bool)> = vec![
            (&fed, Action::GrantRole, Target::Installation, true),
            (&fed, Action::LockAccount, Target::Member(state("NW")), true),
            (&fed, Action::ManageService, Target::Owned(None), true),
            (&fed, Action::ApproveCertificate, req(None, "bayer"), true),
            (&fed, Action::ApproveCertificate, req(None, "alice"), false),
            (&by, Action::LockAccount, Target::Member(state("BY")), true),
            (&by, Action::LockAccount, Target::Member(state("NW")), false),
            (&by, Action::ReadMember, Target::Member(state("BY")), true),
            (&by, Action::ReadRealNames, Target::Member(state("BY")), false),
            (&by_names, Action::ReadRealNames, Target::Member(state("BY")), true),
            (&by, Action::IssueLetter, Target::Chapter(state("BY")), true),
            (&by, Action::IssueLetter, Target::Chapter(state("NW")), false),
            (&by, Action::ManageGroup, Target::Owned(Some(state("BY"))), true),
            (&by, Action::ManageGroup, Target::Owned(None), false),
            (&by, Action::ManageService, Target::Owned(Some(state("NW"))), false),
            (&by, Action::ManageService, Target::Installation, false),
            (&by, Action::ApproveCertificate, req(Some("BY"), "bayer2"), true),
            (&by, Action::ApproveCertificate, req(Some("BY"), "bayer"), false),
            (&by, Action::ApproveCertificate, req(Some("NW"), "nrw"), false),
            (&by, Action::ApproveCertificate, req(None, "alice"), false),
            (&by, Action::ReadAudit, Target::Chapter(state("BY")), true),
            (&by, Action::ReadAudit, Target::Chapter(state("NW")), false),
            (&by, Action::GrantRole, Target::Chapter(state("BY")), false),
            (&by, Action::Operate, Target::Installation, false),
            (&nw, Action::LockAccount, Target::Member(state("NW")), true),
            (&nw, Action::LockAccount, Target::Member(state("BY")), false),
            (&member, Action::ReadMember, Target::Member(state("BY")), false),
        ];
        for (actor, action, target, allowed) in cases {
            let got = decide(actor, action, &target);
            assert_eq!(got.is_ok(), allowed, "{} {action:?} {target:?}: {got:?}", actor.uid);
            if let Err(Refusal(why)) = got {
                assert!(!why.is_empty());
            }
        }
    }

    #[test]
    fn refusals_say_what_and_why() {
        let by = chapter_admin("bayer", &[("BY", false)]);
        let Err(Refusal(why)) = decide(&by, Action::LockAccount, &Target::Member(state("NW"))) else {
            std::process::abort()
        };
        assert_eq!(
            why,
            "bayer is chapter admin of BY and may not lock or unlock accounts of chapter NW"
        );
    }
}
