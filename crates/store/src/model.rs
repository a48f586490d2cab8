//! The rows of the store as Rust values.

use piratenldap_core::ids::{MemberNumber, Name, StateCode, Uid};
use time::OffsetDateTime;

/// A member of the organisation, as imported from the membership administration: the same
/// record the CSV parser produces.
pub use piratenldap_core::import::MemberRecord as Member;

/// An activated account of a member.
#[derive(Debug, Clone)]
pub struct Account {
    /// Login name.
    pub uid: Uid,
    /// The member it belongs to.
    pub member_number: MemberNumber,
    /// The name the member chose (`cn`, `displayName`).
    pub display_name: String,
    /// argon2id PHC string (or a legacy hash until the next bind).
    pub password_hash: String,
    /// Whether binds are refused.
    pub locked: bool,
    /// POSIX uid number.
    pub uid_number: i64,
    /// entryUUID.
    pub entry_uuid: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub modified_at: OffsetDateTime,
    /// The TOTP secret, sealed; set at enrolment, used once `totp_enabled`.
    pub totp_secret: Option<String>,
    /// Whether binds need a TOTP code.
    pub totp_enabled: bool,
}

/// An app password (for clients that cannot ask for a code).
#[derive(Debug, Clone)]
pub struct AppPassword {
    /// The account.
    pub uid: Uid,
    /// Its label, unique per account.
    pub label: String,
    /// argon2id hash.
    pub hash: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last successful bind with it.
    pub last_used_at: Option<OffsetDateTime>,
}

/// What is needed to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Login name.
    pub uid: Uid,
    /// The member.
    pub member_number: MemberNumber,
    /// Chosen display name.
    pub display_name: String,
    /// Password hash.
    pub password_hash: String,
}

/// Whether a group's members are kept from member data or by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// `members`, `voting`, `lv-<code>`: computed from member data, read-only.
    Automatic,
    /// Everything else: members added and removed by an admin.
    Manual,
}

/// A group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Name (the `cn`).
    pub name: Name,
    /// Automatic or manual.
    pub kind: GroupKind,
    /// POSIX gid number.
    pub gid_number: i64,
    /// Description.
    pub description: Option<String>,
    /// entryUUID.
    pub entry_uuid: String,
    /// Members added by hand (empty for automatic groups).
    pub manual_members: Vec<Uid>,
    /// The chapter (state association) that owns the group, whose members alone it admits;
    /// `None` for a federal group. Automatic groups are always federal.
    pub chapter: Option<StateCode>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub modified_at: OffsetDateTime,
}

/// What a service may see (DESIGN.md "Who sees what").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProfile {
    /// Service name (the `cn` of its bind DN).
    pub name: Name,
    /// Attributes it may read; `None` is the default profile.
    pub attrs: Option<Vec<String>>,
    /// Narrows people to the members of one group.
    pub members_of: Option<Name>,
    /// May read real names (`givenName`, `sn`) and member numbers.
    pub real_names: bool,
    /// May see suspended and left members too.
    pub include_inactive: bool,
    /// Sees each member as a pseudonym of its own (no uid, names or mail).
    pub pseudonymous: bool,
    /// The chapter that registered the service: it sees only that state association's
    /// members. `None` for a federal service.
    pub chapter: Option<StateCode>,
}

/// A chapter admin's grant (issue 15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapterAdmin {
    /// The admin's account.
    pub uid: Uid,
    /// The state association administered.
    pub chapter: StateCode,
    /// Whether the grant includes real names and member numbers.
    pub real_names: bool,
    /// Who granted it.
    pub granted_by: String,
    /// When.
    pub granted_at: OffsetDateTime,
}

/// A service bind account.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its profile.
    pub profile: ServiceProfile,
    /// argon2id hash of its generated password.
    pub password_hash: String,
    /// entryUUID.
    pub entry_uuid: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub modified_at: OffsetDateTime,
}

/// Everything the directory view is built from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The revision this snapshot was read at.
    pub revision: i64,
    /// All members.
    pub members: Vec<Member>,
    /// All accounts.
    pub accounts: Vec<Account>,
    /// All groups.
    pub groups: Vec<Group>,
    /// All services.
    pub services: Vec<Service>,
    /// All client certificates.
    pub certificates: Vec<Certificate>,
    /// All app passwords.
    pub app_passwords: Vec<AppPassword>,
}

/// What an import changed (or would change, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Members that were new.
    pub added: usize,
    /// Members whose data changed.
    pub updated: usize,
    /// Members already up to date.
    pub unchanged: usize,
    /// Members marked as left because `--full` and missing from the file.
    pub marked_left: usize,
    /// Memberships ended because the member moved to another state association than the
    /// chapter that owns the group.
    pub left_chapter_groups: usize,
    /// Members with an account whose status changed from active to suspended or left, and
    /// what the one switch ended for each (sessions, letter token, certificates).
    pub disabled: Vec<crate::Disabled>,
    /// Rows skipped because the member was erased (`member erase`): an import never re-creates
    /// an erased member.
    pub erased_skipped: usize,
}

/// A request for a client certificate (four eyes: requested by one admin, approved by another).
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// Request number.
    pub id: i64,
    /// The account the certificate is for.
    pub uid: Uid,
    /// The role (OU of the certificate).
    pub role: String,
    /// The holder's CSR, when the holder made the key.
    pub csr_pem: Option<String>,
    /// The admin who asked.
    pub requested_by: Uid,
    /// When.
    pub requested_at: OffsetDateTime,
    /// The admin who approved.
    pub approved_by: Option<Uid>,
    /// When.
    pub approved_at: Option<OffsetDateTime>,
    /// Serial of the certificate issued for it.
    pub issued_serial: Option<String>,
}

/// What the CA produced for an approved request.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// Serial, lower-case hex.
    pub serial: String,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
}

/// An issued client certificate.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// Serial, lower-case hex.
    pub serial: String,
    /// The request it was issued for.
    pub request_id: i64,
    /// Its account.
    pub uid: Uid,
    /// Its role.
    pub role: String,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// Who issued it (the operator).
    pub issued_by: String,
    /// When.
    pub issued_at: OffsetDateTime,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Why.
    pub revoke_reason: Option<String>,
}

/// A certificate revocation list as published.
#[derive(Debug, Clone)]
pub struct Crl {
    /// CRL number (increasing).
    pub number: i64,
    /// PEM.
    pub pem: String,
    /// Issue time.
    pub this_update: OffsetDateTime,
    /// Next update promised.
    pub next_update: OffsetDateTime,
}

/// One line of the audit trail.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// When.
    pub at: OffsetDateTime,
    /// Who did it (`uid`, or `cli:<unix user>`).
    pub actor: String,
    /// What (`cert.request`, `cert.approve`, …).
    pub action: String,
    /// To what.
    pub subject: String,
    /// Details (never secrets).
    pub detail: String,
}

/// Limits of one token bucket: it holds at most `burst` tokens and regains `per_minute` tokens
/// a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketPolicy {
    /// Tokens of a full bucket.
    pub burst: u32,
    /// Tokens regained per minute.
    pub per_minute: u32,
}

/// `now` in milliseconds since the Unix epoch: the clock of every bucket, shared by all nodes
/// (which therefore need synchronised clocks).
pub fn bucket_clock_ms(now: time::OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl BucketPolicy {
    /// Whole tokens in a bucket that held `milli` thousandths at `at_ms` and is read at `now_ms`.
    pub fn tokens_at(self, milli: i64, at_ms: i64, now_ms: i64) -> u32 {
        let refill = now_ms
            .saturating_sub(at_ms)
            .max(0)
            .saturating_mul(i64::from(self.per_minute))
            / 60;
        let level = milli.saturating_add(refill).min(i64::from(self.burst) * 1000);
        u32::try_from(level / 1000).unwrap_or(0)
    }

    /// Milliseconds an empty bucket needs to be full again.
    pub fn refill_ms(self) -> i64 {
        i64::from(self.burst) * 60_000 / i64::from(self.per_minute.max(1))
    }
}

/// One cell of a table in a backup: the store's columns are integers or text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer column.
    Int(i64),
    /// A text column.
    Text(String),
}

/// The rows of one table, as `backup` writes them: backend-neutral, so a dump of SQLite loads
/// into PostgreSQL and back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableDump {
    /// Table name.
    pub table: String,
    /// Column names, in the order of each row's cells.
    pub columns: Vec<String>,
    /// The rows, ordered by primary key.
    pub rows: Vec<Vec<Cell>>,
}

/// A person from another LDAP server (`import --ldif`): a member (used only when the member
/// number is new; the membership administration's data wins otherwise) and an account.
#[derive(Debug, Clone)]
pub struct ImportedPerson {
    /// The member record.
    pub member: piratenldap_core::import::MemberRecord,
    /// The account's uid.
    pub uid: Uid,
    /// The display name (cn/displayName).
    pub display_name: String,
    /// The password hash as the other server stored it ({SSHA}, {ARGON2}, {CRYPT}, argon2 PHC).
    pub password_hash: String,
    /// The POSIX uidNumber to keep, if it is free here.
    pub uid_number: Option<i64>,
    /// Where it came from (e.g. `line 12: uid=anna,ou=people,…`), for messages.
    pub origin: String,
}

/// A group from another LDAP server.
#[derive(Debug, Clone)]
pub struct ImportedGroup {
    /// The group's name (cn).
    pub name: Name,
    /// Its description.
    pub description: Option<String>,
    /// The POSIX gidNumber to keep, if it is free here.
    pub gid_number: Option<i64>,
    /// Members, by uid.
    pub members: Vec<Uid>,
    /// Where it came from, for messages.
    pub origin: String,
}

/// What `import --ldif` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryImportReport {
    /// Members created (their numbers were new).
    pub members_added: usize,
    /// Accounts created.
    pub accounts_added: usize,
    /// Accounts that existed already with the same uid and member (left as they are).
    pub accounts_unchanged: usize,
    /// Manual groups created.
    pub groups_added: usize,
    /// Group memberships added.
    pub memberships_added: usize,
    /// What was left out, and why.
    pub notes: Vec<String>,
}

/// What a letter's token does (issue 15): create the member's account, or reset the password
/// (and, if asked, the second factor) of the account the member has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Creates the account of a member who has none.
    Activation,
    /// Sets a new password on the account of a member who has one.
    Reset,
}

impl TokenKind {
    /// The value in the `tokens.kind` column and the letters' CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Activation => "activation",
            TokenKind::Reset => "reset",
        }
    }

    /// The kind a column value names.
    pub fn parse(text: &str) -> Option<TokenKind> {
        match text {
            "activation" => Some(TokenKind::Activation),
            "reset" => Some(TokenKind::Reset),
            _ => None,
        }
    }
}

/// A live, unexpired token: whose it is, what it does, and (for a reset token) the account it
/// resets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveToken {
    /// The member the letter went to.
    pub member: MemberNumber,
    /// What it does.
    pub kind: TokenKind,
    /// The member's account (always there for a usable reset token).
    pub uid: Option<Uid>,
}

/// What a reset does to the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorReset {
    /// TOTP and its secret stay as they are.
    Keep,
    /// TOTP is switched off and its secret deleted, so the member enrols a new one.
    Remove,
}

/// A token as a member's own data shows it: never the token or its HMAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// What it does.
    pub kind: TokenKind,
    /// `live`, `used` or `revoked`.
    pub state: String,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// When it was used.
    pub used_at: Option<OffsetDateTime>,
}

/// One thing a write changed, as the change log records it (issue 17).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeKey {
    /// A member record (by number).
    Member(MemberNumber),
    /// An account (by uid): password, lock, TOTP, app passwords, display name, creation, deletion…
    Account(Uid),
    /// A group: its row or its manual members.
    Group(Name),
    /// A service (LDAP bind account or OIDC client's service row).
    Service(Name),
    /// A client certificate (by serial): issued, revoked.
    Certificate(String),
    /// Too much to list (bulk import, restore, LDIF import, erasure…): readers rebuild.
    Everything,
}

/// What changed since a revision (`Store::changes_since`).
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per poll, moved once; boxing would only add an allocation"
)]
pub enum Delta {
    /// Nothing changed.
    Unchanged,
    /// Read a whole snapshot instead: the log does not reach back that far, it holds
    /// `Everything`, or more than `max_keys` keys changed. The text says which.
    Rebuild(String),
    /// The current rows of everything that changed.
    Rows(PartialSnapshot),
}

/// The current rows of what changed between two revisions, read in one consistent read
/// transaction at `revision`. A key listed but without a row was deleted.
#[derive(Debug, Clone, Default)]
pub struct PartialSnapshot {
    /// The revision asked about.
    pub from: i64,
    /// The revision these rows are at (the store's current one).
    pub revision: i64,
    /// Members touched: by a Member key, or the member of a touched account.
    pub member_numbers: Vec<MemberNumber>,
    /// Their current rows.
    pub members: Vec<Member>,
    /// Accounts touched: by an Account key, the account of a touched member, or the holder of a touched certificate.
    pub uids: Vec<Uid>,
    /// Their current rows.
    pub accounts: Vec<Account>,
    /// All app passwords of the touched accounts.
    pub app_passwords: Vec<AppPassword>,
    /// All certificates of the touched accounts.
    pub certificates: Vec<Certificate>,
    /// Groups touched.
    pub group_names: Vec<Name>,
    /// Their current rows, with `manual_members` filled.
    pub groups: Vec<Group>,
    /// Services touched.
    pub service_names: Vec<Name>,
    /// Their current rows.
    pub services: Vec<Service>,
}
