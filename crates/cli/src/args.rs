//! The command line (DESIGN.md "Command line"), declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// piratenldap: the directory every service of the organisation binds to.
#[derive(Debug, Parser)]
#[command(name = "piratenldap", version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("PIRATENLDAP_COMMIT"), ")"), about)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "PIRATENLDAP_CONFIG", default_value = "piratenldap.toml")]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a configuration, create the database, the server TLS key/certificate and the CA.
    Init(InitArgs),
    /// Serve LDAP (and LDAPS) until stopped with Ctrl-C or SIGTERM.
    Serve,
    /// Set up a demo directory (if needed) and serve it.
    Demo {
        /// Where the demo keeps its data and configuration.
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
    },
    /// Members, as imported from the membership administration.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Member accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Service bind accounts and single sign-on clients.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// The single sign-on provider's signing keys.
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Chapter admins (state associations); federal admins are the group `admins`.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Client certificates for membership-administration access (four eyes).
    #[command(subcommand)]
    Cert(CertCommand),
    /// Activation tokens for the letters to members.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Turn a token into an account (the portal's flow, for scripts and the helpdesk).
    Activate {
        /// The token from the letter.
        #[arg(long)]
        token: String,
        /// The chosen login name.
        #[arg(long)]
        uid: String,
        /// The chosen display name (default: the uid).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Also start TOTP enrolment (prints the secret; confirm with `account totp-enroll`).
        #[arg(long)]
        totp: bool,
    },
    /// Print the audit trail.
    Audit {
        /// Only events by or about this uid.
        #[arg(long)]
        uid: Option<String>,
        /// Only events since this time (RFC 3339, e.g. 2026-11-24T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Who read real names: entries with real names or member numbers that services
        /// received, per service and hour (since --since, default 30 days).
        #[arg(long, conflicts_with = "uid")]
        reads: bool,
    },
    /// Write a consistent copy of everything (database, CA, keys, configuration) to FILE,
    /// while the server runs. The file holds secrets: it is written with mode 0600.
    Backup {
        /// The backup file to write.
        file: PathBuf,
    },
    /// Restore a backup. Without a configuration file at --config, the backup's own is
    /// written there (relative paths resolve next to it). Refuses to overwrite data or keys
    /// without --force.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Replace the database content and key files that are in the way.
        #[arg(long)]
        force: bool,
        /// Restore into this database instead of the backup's (e.g. SQLite → PostgreSQL);
        /// only when there is no configuration file yet.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Write the directory tree as LDIF (to standard output or --out).
    Export {
        /// LDIF is the one export format (the flag is required, as in DESIGN.md).
        #[arg(long, required = true)]
        ldif: bool,
        /// Include password hashes as userPassword (the file then holds secrets: 0600).
        #[arg(long)]
        with_secrets: bool,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import people and groups from an OpenLDAP `slapcat` LDIF, keeping their password
    /// hashes ({SSHA}, {ARGON2}, {CRYPT}); a file with any bad entry changes nothing.
    Import {
        /// The LDIF file.
        #[arg(long, value_name = "FILE")]
        ldif: PathBuf,
        /// State association for people without pirateStateAssociation or st.
        #[arg(long)]
        state: Option<String>,
        /// Check and report; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the manual pages (piratenldap.1 and one per subcommand) into DIR, for the package.
    #[command(hide = true)]
    GenerateManpages {
        /// The directory to write them to (created if missing).
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on standard output, for the package.
    #[command(hide = true)]
    GenerateCompletions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue activation letters (or, with --reset, reset letters) and write the CSV for the mail
    /// merge (the only time tokens are shown).
    Issue {
        /// For every member without an account (and not left).
        #[arg(long, conflicts_with_all = ["member", "reset"], required_unless_present = "member")]
        pending: bool,
        /// For these members.
        #[arg(long, num_args = 1..)]
        member: Vec<String>,
        /// Reset letters, for members who have an account but lost their password or second
        /// factor: the portal sets a new password (and, if asked, a new TOTP) and ends the
        /// member's sessions.
        #[arg(long)]
        reset: bool,
        /// The CSV to write (mode 0600): member_number,token,activation_url,expires_at,letter.
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a member's live token.
    Revoke {
        /// Membership number.
        #[arg(long)]
        member: String,
    },
}

/// `cert …`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Request a certificate for a member account (by an admin).
    Request {
        /// The holder's uid.
        uid: String,
        /// The role (a key of `[ca.roles]`).
        #[arg(long)]
        role: String,
        /// The admin making the request.
        #[arg(long)]
        by: String,
        /// The holder's CSR (PEM) when the holder makes the key.
        #[arg(long)]
        csr: Option<PathBuf>,
    },
    /// Approve a request (by a different admin).
    Approve {
        /// Request number.
        id: i64,
        /// The approving admin.
        #[arg(long)]
        by: String,
    },
    /// Issue the certificate of an approved request into a directory.
    Issue {
        /// Request number.
        id: i64,
        /// Directory for the files (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Request the renewal of a certificate: a new request for the same holder and role (and
    /// the holder's CSR, if the old one came from one), approved and issued like any other.
    Renew {
        /// Serial (hex) of the certificate to renew.
        serial: String,
        /// The admin making the request.
        #[arg(long)]
        by: String,
    },
    /// Revoke a certificate; the CRL is re-signed at once.
    Revoke {
        /// Serial (hex).
        serial: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// List certificates.
    List {
        /// Only valid certificates that expire within this many days.
        #[arg(long)]
        expiring: Option<i64>,
    },
    /// Show the CA (subject, validity, fingerprint; warns when it ends within a year) and the
    /// CAs a rollover retired; or roll it over, or retire the old ones.
    Ca {
        /// What to do; nothing shows the CAs.
        #[command(subcommand)]
        action: Option<CaAction>,
    },
    /// Re-sign the CRL and write it to a file.
    Crl {
        /// Output file (PEM).
        #[arg(long)]
        out: PathBuf,
    },
}

/// `cert ca` actions: the CA rollover drill (docs/admin-guide.md).
#[derive(Debug, Subcommand)]
pub enum CaAction {
    /// Make a new CA current; the old one stays trusted beside it (its certificates keep
    /// working, it signs its own CRL) until `cert ca retire`. Restart `serve` on every node
    /// after copying `[ca] dir` to it.
    Rollover,
    /// Remove retired CAs that no valid client certificate needs any more.
    Retire {
        /// Also remove those still needed: their certificates stop working.
        #[arg(long)]
        force: bool,
    },
}

/// Options of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Data directory: relative to the configuration file's directory, or absolute (then every
    /// path in the configuration is absolute). Default: `data` beside the configuration, and
    /// `/var/lib/piratenldap` for a configuration in `/etc/piratenldap` (the Debian package's
    /// layout).
    #[arg(long)]
    pub data_dir: Option<String>,
    /// Base DN of the directory.
    #[arg(long, default_value = "dc=example,dc=org")]
    pub base_dn: String,
    /// Name of the organisation.
    #[arg(long, default_value = "Example Party")]
    pub org: String,
    /// Extra host names for the server certificate (localhost, 127.0.0.1 and ::1 are always in).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// LDAP listen address.
    #[arg(long, default_value = "127.0.0.1:3389")]
    pub ldap_listen: String,
    /// LDAPS listen address.
    #[arg(long, default_value = "127.0.0.1:6636")]
    pub ldaps_listen: String,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http_listen: String,
    /// Database URL (`postgres://user@host/db` for several nodes); default: an SQLite file in
    /// the data directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// An existing server certificate chain (PEM, e.g. certbot's fullchain.pem): `[tls] cert`
    /// then names this file (not a copy), so a renewal in place is picked up by the running
    /// server. Needs --tls-key; init makes no server certificate then.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The key of --tls-cert (PEM), referenced the same way.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// `member …`
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Sync members from a CSV export of the membership administration.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Mark members missing from the file as left.
        #[arg(long)]
        full: bool,
        /// Check and report, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List members.
    List,
    /// Show one member.
    Show {
        /// Membership number.
        number: String,
    },
    /// One switch: disable a member everywhere (LDAP binds, app passwords, single sign-on,
    /// client certificates, the letter token) until `member reinstate`.
    Suspend {
        /// Membership number.
        number: String,
        /// Why (one line, at most 200 characters; kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Lift a suspension made by `member suspend`; says what could not be restored.
    Reinstate {
        /// Membership number.
        number: String,
    },
    /// Everything the system holds about one member (GDPR art. 15), as JSON on standard
    /// output: record, account, groups, tokens, certificates, second factor and app passwords
    /// (never secrets), audit events, and which services read which attributes.
    Export {
        /// Membership number.
        number: String,
    },
    /// Erase a member who has left (GDPR art. 17) at once: record, account, second factor,
    /// app passwords, sessions and tokens deleted, certificates revoked, the audit trail
    /// pseudonymised. Prints what was erased.
    Erase {
        /// Membership number.
        number: String,
    },
}

/// `account …`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account for a member without a token (helpdesk path).
    Create {
        /// Login name.
        uid: String,
        /// Membership number.
        #[arg(long)]
        member: String,
        /// Display name (default: the uid).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Show an account.
    Show {
        /// Login name.
        uid: String,
    },
    /// Lock an account: binds fail, services stop seeing it.
    Lock {
        /// Login name.
        uid: String,
    },
    /// Unlock an account.
    Unlock {
        /// Login name.
        uid: String,
    },
    /// TOTP enrolment: without --confirm, make and print a new secret (TOTP stays off); with
    /// --confirm CODE, switch TOTP on if the code is valid.
    TotpEnroll {
        /// Login name.
        uid: String,
        /// A current code from the authenticator app.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Switch TOTP off (refused for admins).
    TotpDisable {
        /// Login name.
        uid: String,
    },
    /// App passwords for clients that cannot ask for a code.
    #[command(subcommand)]
    AppPassword(AppPasswordCommand),
    /// Set a new password (read from stdin, or generated and printed).
    Passwd {
        /// Login name.
        uid: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `account app-password …`
#[derive(Debug, Subcommand)]
pub enum AppPasswordCommand {
    /// Make an app password; prints it once.
    Add {
        /// Login name.
        uid: String,
        /// What it is for, e.g. "Thunderbird laptop".
        #[arg(long)]
        label: String,
    },
    /// List labels, creation and last use.
    List {
        /// Login name.
        uid: String,
    },
    /// End an app password.
    Revoke {
        /// Login name.
        uid: String,
        /// Its label.
        label: String,
    },
}

/// `group …`
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a manual group.
    Create {
        /// Group name.
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// The chapter (state association, e.g. BY) that owns the group: it admits only
        /// that chapter's members.
        #[arg(long)]
        chapter: Option<String>,
    },
    /// Delete a manual group.
    Delete {
        /// Group name.
        name: String,
    },
    /// Add an account to a manual group.
    Add {
        /// Group name.
        name: String,
        /// Login name.
        uid: String,
    },
    /// Remove an account from a manual group.
    Remove {
        /// Group name.
        name: String,
        /// Login name.
        uid: String,
    },
    /// List groups, or the members of one.
    List {
        /// Group name.
        name: Option<String>,
    },
}

/// `service …`
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Add a service: an LDAP bind account (prints its DN and generated password once) or,
    /// with --oidc, an OpenID Connect client (prints client_id and, unless --public,
    /// client_secret once).
    Add {
        /// Service name (also the OpenID Connect client_id).
        name: String,
        /// An OpenID Connect client instead of an LDAP bind account.
        #[arg(long)]
        oidc: bool,
        /// Where the client receives codes (exact match; repeat for several; https, or http on
        /// localhost).
        #[arg(long = "redirect-uri", requires = "oidc")]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required), e.g. a mobile or single-page app.
        #[arg(long, requires = "oidc")]
        public: bool,
        /// Give the client a pairwise subject, unlinkable across clients.
        #[arg(long, requires = "oidc")]
        pairwise: bool,
        /// Ask each member once before the client receives their data.
        #[arg(long, requires = "oidc")]
        consent: bool,
        /// The client's front-channel logout URI (loaded when a member logs out).
        #[arg(long = "logout-uri", requires = "oidc")]
        logout_uri: Option<String>,
        /// Attributes it may read (comma-separated; default: the standard profile).
        #[arg(long, value_delimiter = ',')]
        attrs: Option<Vec<String>>,
        /// Narrow the people it sees to the members of this group.
        #[arg(long)]
        members_of: Option<String>,
        /// Allow real names (givenName, sn) and member numbers.
        #[arg(long)]
        real_names: bool,
        /// Show the service a pseudonym per member instead of uid, names and mail (LDAP and
        /// OpenID Connect alike; keyed by [privacy] pseudonym_key_file).
        #[arg(long, conflicts_with_all = ["real_names", "pairwise"])]
        pseudonymous: bool,
        /// Also show suspended and left members.
        #[arg(long)]
        include_inactive: bool,
        /// The chapter (state association, e.g. BY) registering the service: it sees only
        /// that chapter's members.
        #[arg(long)]
        chapter: Option<String>,
    },
    /// List services.
    List,
    /// Remove a service.
    Remove {
        /// Service name.
        name: String,
    },
    /// Generate a new password (an OpenID Connect client: a new client secret); prints it once.
    RotatePassword {
        /// Service name.
        name: String,
    },
}

/// `oidc …`
#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// Make a new signing key; the previous public key stays in the JWKS for
    /// `oidc.key_overlap_days`, keys older than that are deleted.
    RotateKey,
}

/// `admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an account chapter admin of a state association.
    Grant {
        /// Login name.
        uid: String,
        /// The state association, e.g. BY.
        #[arg(long)]
        chapter: String,
        /// The role includes real names and member numbers.
        #[arg(long)]
        real_names: bool,
    },
    /// End a chapter admin grant.
    Revoke {
        /// Login name.
        uid: String,
        /// The state association.
        #[arg(long)]
        chapter: String,
    },
    /// List chapter admins.
    List,
}
