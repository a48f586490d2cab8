//! Shared parts of the fuzz targets in `src/bin/` (docs/fuzzing.md): a small directory in a real
//! SQLite database, built the way the handler tests build theirs
//! (`crates/ldap/tests/handlers/fixture.rs`), and the server context over it.
//!
//! AFL forks the target after `main` has started, and only the forking thread survives a fork:
//! the tokio runtime, sqlx's SQLite threads, the hash pool and rayon must therefore all be
//! started in the forked child. [`Harness::get`] builds everything on the first input a child
//! runs and keeps it for the child's later inputs (`AFL_FUZZER_LOOPCOUNT` bounds how many
//! before AFL forks a fresh child, and with it a fresh database).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ldap3_proto::proto::{LdapBindCred, LdapBindRequest, LdapMsg, LdapOp};
use piratenldap_auth::{AuditSink, Authenticator, HashPool, Method, Throttle};
use piratenldap_core::Dn;
use piratenldap_core::config::{Anonymous, PlaintextBind, ThrottleConfig};
use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use piratenldap_core::limits::Limits;
use piratenldap_core::metrics::Metrics;
use piratenldap_core::password::{HashParams, hash_password};
use piratenldap_core::sealed::SealKey;
use piratenldap_directory::{Directory, Layout, Principal};
use piratenldap_ldap::{Context, Session, Settings, ops};
use piratenldap_store::{NewAccount, ServiceProfile, SqlStore, Store};
use time::OffsetDateTime;

/// The directory's base DN.
pub const BASE: &str = "dc=example,dc=org";
/// Every account's and service's password.
pub const PASSWORD: &str = "correct-horse-battery";
/// Cheap hashing, as in the tests: the fuzzer is after parsing and dispatch, not Argon2.
const PARAMS: HashParams = HashParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// The fixed clock of every request (TOTP steps and throttle buckets stay predictable).
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_020).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A directory of five members (alice admin with TOTP, bob with an app password, eve locked,
/// dora suspended), two groups and three services, and the server context over it.
pub struct Harness {
    /// Runs the handlers (current-thread; the blocking pool does searches and hashing).
    pub runtime: tokio::runtime::Runtime,
    /// The server context, as `serve` builds it.
    pub ctx: Arc<Context>,
    /// Identities a connection can be bound as: anonymous, bob (member), alice (admin), and
    /// the services wiki, wikionly and hr.
    pub identities: Vec<(Principal, Option<Method>)>,
}

/// The directory for this process's databases; made before AFL forks, so every child of one
/// fuzzer reuses (and first empties) the same path.
static DIR: OnceLock<PathBuf> = OnceLock::new();
static HARNESS: OnceLock<Harness> = OnceLock::new();

/// Call in `main` before `afl::fuzz!`: picks the directory for the database (under `$TMPDIR`).
pub fn prepare() {
    let dir = std::env::temp_dir().join(format!("piratenldap-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the fuzz database directory");
    let _ = DIR.set(dir);
}

impl Harness {
    /// The harness of this process, built on first use.
    pub fn get() -> &'static Harness {
        HARNESS.get_or_init(|| {
            let dir = DIR.get_or_init(|| std::env::temp_dir().join(format!("piratenldap-fuzz-{}", std::process::id())));
            Harness::build(dir)
        })
    }

    fn build(dir: &Path) -> Harness {
        // Blocking threads (searches, hashing, view builds) are kept rather than ended after
        // 10 s idle: a thread started or not is a different path, which AFL counts as noise.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_keep_alive(std::time::Duration::from_secs(24 * 3600))
            .build()
            .expect("building the tokio runtime");
        let (ctx, identities) = runtime.block_on(context(dir));
        Harness {
            runtime,
            ctx,
            identities,
        }
    }

    /// A new connection from the loopback address, bound as identity `which` (modulo the
    /// number of identities), over TLS if `tls`.
    pub fn session(&self, which: usize, tls: bool) -> Session {
        let mut s = Session::new(SocketAddr::from(([127, 0, 0, 1], 40000)), tls, None);
        if let Some((principal, method)) = self.identities.get(which % self.identities.len().max(1)) {
            s.principal = principal.clone();
            s.method = method.clone();
        }
        s
    }

    /// `ops::dispatch` of one message at [`t0`], every streamed response drained.
    pub fn dispatch(&self, session: &mut Session, msg: LdapMsg) -> ops::After {
        self.runtime.block_on(async {
            let outcome = ops::dispatch(&self.ctx, session, msg, t0()).await;
            drop(outcome.messages);
            if let Some(stream) = outcome.stream {
                stream.for_each(drop);
            }
            outcome.after
        })
    }
}

fn record(number: &str, state: &str, status: MembershipStatus, given: &str, sn: &str) -> MemberRecord {
    MemberRecord {
        number: MemberNumber::parse(number).expect("member number"),
        state: StateCode::parse(state).expect("state code"),
        status,
        voting_right: true,
        given_name: Some(given.into()),
        surname: Some(sn.into()),
        email: Some(format!("{}@example.org", given.to_lowercase())),
        joined: None,
    }
}

fn uid(u: &str) -> Uid {
    Uid::parse(u).expect("uid")
}

/// Fills a fresh SQLite database in `dir` and builds the context and bound identities.
async fn context(dir: &Path) -> (Arc<Context>, Vec<(Principal, Option<Method>)>) {
    for file in ["t.db", "t.db-wal", "t.db-shm"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let url = format!("sqlite://{}/t.db", dir.display());
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url).await.expect("opening the SQLite store"));
    let now = t0();
    let active = MembershipStatus::Active;
    let mut members = vec![
        record("1", "BY", active, "Alice", "Arendt"),
        record("2", "BY", active, "Bob", "Brecht"),
        record("3", "NW", active, "Carol", "Celan"),
        record("4", "HH", active, "Eve", "Ebner"),
        record("5", "NW", active, "Dora", "Dix"),
    ];
    store
        .import_members(&members, false, false, now)
        .await
        .expect("importing members");
    let hash = hash_password(PASSWORD, &PARAMS).expect("hashing");
    for (u, number) in [
        ("alice", "1"),
        ("bob", "2"),
        ("carol", "3"),
        ("eve", "4"),
        ("dora", "5"),
    ] {
        let new = NewAccount {
            uid: uid(u),
            member_number: MemberNumber::parse(number).expect("member number"),
            display_name: format!("{u} (chosen)"),
            password_hash: hash.clone(),
        };
        store.create_account(new, now).await.expect("creating an account");
    }
    members[4].status = MembershipStatus::Suspended;
    store
        .import_members(&members, false, false, now)
        .await
        .expect("suspending dora");
    store
        .set_account_locked(&uid("eve"), true, "fuzz", now)
        .await
        .expect("locking eve");
    let key = SealKey::from_hex(&SealKey::generate_hex()).expect("seal key");
    store
        .set_totp_secret(&uid("alice"), &key.seal(b"0123456789abcdefghij"), "fuzz", now)
        .await
        .expect("TOTP secret");
    store
        .set_totp_enabled(&uid("alice"), true, "fuzz", now)
        .await
        .expect("enabling TOTP");
    let admins = Name::parse("admins").expect("group name");
    store
        .add_group_member(&admins, &uid("alice"), now)
        .await
        .expect("alice in admins");
    let app = hash_password("bob-app-password-42", &PARAMS).expect("hashing");
    store
        .add_app_password(&uid("bob"), "mail", &app, "fuzz", now)
        .await
        .expect("app password");
    let wikiusers = Name::parse("wikiusers").expect("group name");
    store
        .create_group(&wikiusers, Some("Wiki users"), None, now)
        .await
        .expect("creating wikiusers");
    for u in ["bob", "eve"] {
        store
            .add_group_member(&wikiusers, &uid(u), now)
            .await
            .expect("adding to wikiusers");
    }
    for (name, members_of, real_names) in [
        ("wiki", None, false),
        ("wikionly", Some("wikiusers"), false),
        ("hr", None, true),
    ] {
        let profile = ServiceProfile {
            name: Name::parse(name).expect("service name"),
            attrs: None,
            members_of: members_of.map(|g| Name::parse(g).expect("group name")),
            real_names,
            include_inactive: false,
            pseudonymous: false,
            chapter: None,
        };
        store.add_service(&profile, &hash, now).await.expect("adding a service");
    }
    let layout = Layout::new(Dn::parse(BASE).expect("base DN"), "Example Party");
    let metrics = Arc::new(Metrics::default());
    let directory = Directory::load(Arc::clone(&store), layout, Arc::clone(&metrics))
        .await
        .expect("loading the directory");
    let (audit, _writer) = AuditSink::start(Arc::clone(&store));
    // Generous buckets: the fuzzer should reach the password checks, not only the throttle.
    let throttle = Throttle::new(
        ThrottleConfig {
            account_burst: 1000,
            account_per_minute: 1000,
            address_burst: 1000,
            address_per_minute: 1000,
        },
        Arc::clone(&store),
    );
    let auth = Arc::new(Authenticator::new(
        Arc::clone(&store),
        HashPool::new(1, PARAMS, Arc::clone(&metrics)),
        throttle,
        audit,
        Some(Arc::new(key)),
        Arc::clone(&metrics),
    ));
    let ctx = Arc::new(Context {
        directory,
        auth,
        metrics,
        cursor_bytes: Default::default(),
        settings: Settings {
            plaintext_bind: PlaintextBind::Loopback,
            anonymous: Anonymous::Rootdse,
            size_limit: 500,
            starttls: true,
            limits: Limits::default(),
        },
    });
    let totp = piratenldap_core::totp::code_at(
        b"0123456789abcdefghij",
        u64::try_from(now.unix_timestamp()).unwrap_or(0),
    );
    let mut identities = vec![(Principal::Anonymous, None)];
    for (dn, password) in [
        (format!("uid=bob,ou=people,{BASE}"), PASSWORD.to_string()),
        (format!("uid=alice,ou=people,{BASE}"), format!("{PASSWORD}{totp}")),
        (format!("cn=wiki,ou=services,{BASE}"), PASSWORD.to_string()),
        (format!("cn=wikionly,ou=services,{BASE}"), PASSWORD.to_string()),
        (format!("cn=hr,ou=services,{BASE}"), PASSWORD.to_string()),
    ] {
        let mut s = Session::new(SocketAddr::from(([127, 0, 0, 1], 40000)), false, None);
        let bind = LdapBindRequest {
            version: 3,
            dn: dn.clone(),
            cred: LdapBindCred::Simple(password),
        };
        let _ = ops::dispatch(&ctx, &mut s, LdapMsg::new(1, LdapOp::BindRequest(bind)), now).await;
        assert!(
            !matches!(s.principal, Principal::Anonymous),
            "the fixture bind as {dn} failed"
        );
        identities.push((s.principal, s.method));
    }
    (ctx, identities)
}
