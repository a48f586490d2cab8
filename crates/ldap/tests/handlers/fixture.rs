//! A hand-written directory and the helpers that talk to it through `ops::dispatch`:
//! - alice (1, BY, active): admin with TOTP;
//! - bob (2, BY, active): member of `wikiusers`, with an app password;
//! - carol (3, NW, active): another member;
//! - eve (4, HH, active): locked account, member of `wikiusers`;
//! - dora (5, NW, suspended): an inactive member;
//! - services: `wiki` (default profile), `wikionly` (`--members-of wikiusers`), `hr`
//!   (`--real-names`).

use std::net::SocketAddr;
use std::sync::Arc;

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapCompareRequest, LdapDerefAliases, LdapExtendedRequest, LdapFilter, LdapMsg,
    LdapOp, LdapPasswordModifyRequest, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry,
    LdapSearchScope,
};
use piratenldap_auth::{AuditSink, Authenticator, HashPool, Throttle};
use piratenldap_core::Dn;
use piratenldap_core::config::{Anonymous, PlaintextBind, ThrottleConfig};
use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use piratenldap_core::limits::Limits;
use piratenldap_core::metrics::Metrics;
use piratenldap_core::password::{HashParams, hash_password};
use piratenldap_core::sealed::SealKey;
use piratenldap_directory::{Directory, Layout};
use piratenldap_ldap::{Context, Session, Settings, ops};
use piratenldap_store::{NewAccount, ServiceProfile, SqlStore, Store};
use time::OffsetDateTime;

pub const BASE: &str = "dc=example,dc=org";
pub const PASSWORD: &str = "correct-horse-battery";
pub const SERVICE_PASSWORD: &str = "service-password-123";
pub const BOB_APP_PASSWORD: &str = "bob-app-password-42";
pub const ALICE_TOTP_SECRET: &[u8] = b"0123456789abcdefghij";
/// Failed binds an account may have in a row.
pub const ACCOUNT_BURST: u32 = 5;
const PARAMS: HashParams = HashParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

pub fn person(uid: &str) -> String {
    format!("uid={uid},ou=people,{BASE}")
}

pub fn service(name: &str) -> String {
    format!("cn={name},ou=services,{BASE}")
}

pub fn group(name: &str) -> String {
    format!("cn={name},ou=groups,{BASE}")
}

/// The clock of every test: fixed, so TOTP steps and buckets are predictable.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_020).unwrap()
}

/// The TOTP code of `secret` at `at`.
pub fn code_at(secret: &[u8], at: OffsetDateTime) -> String {
    piratenldap_core::totp::code_at(secret, u64::try_from(at.unix_timestamp()).unwrap())
}

/// A directory on a fresh SQLite file and a server context over it.
pub struct Fixture {
    pub ctx: Arc<Context>,
    pub store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

fn record(number: &str, state: &str, status: MembershipStatus, given: &str, sn: &str) -> MemberRecord {
    MemberRecord {
        number: MemberNumber::parse(number).unwrap(),
        state: StateCode::parse(state).unwrap(),
        status,
        voting_right: true,
        given_name: Some(given.into()),
        surname: Some(sn.into()),
        email: Some(format!("{}@example.org", given.to_lowercase())),
        joined: None,
    }
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with(1000, Limits::default()).await
    }

    /// The fixture with `burst` failed binds per source address before it waits.
    pub async fn with_address_burst(burst: u32) -> Fixture {
        Fixture::with(burst, Limits::default()).await
    }

    /// The fixture with `burst` failed binds per address and these limits.
    pub async fn with(burst: u32, limits: Limits) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url).await.unwrap());
        let now = t0();
        let active = MembershipStatus::Active;
        let mut members = vec![
            record("1", "BY", active, "Alice", "Arendt"),
            record("2", "BY", active, "Bob", "Brecht"),
            record("3", "NW", active, "Carol", "Celan"),
            record("4", "HH", active, "Eve", "Ebner"),
            record("5", "NW", active, "Dora", "Dix"),
        ];
        store.import_members(&members, false, false, now).await.unwrap();
        let hash = hash_password(PASSWORD, &PARAMS).unwrap();
        for (uid, number) in [
            ("alice", "1"),
            ("bob", "2"),
            ("carol", "3"),
            ("eve", "4"),
            ("dora", "5"),
        ] {
            let new = NewAccount {
                uid: Uid::parse(uid).unwrap(),
                member_number: MemberNumber::parse(number).unwrap(),
                display_name: format!("{uid} (chosen)"),
                password_hash: hash.clone(),
            };
            store.create_account(new, now).await.unwrap();
        }
        members[4].status = MembershipStatus::Suspended;
        store.import_members(&members, false, false, now).await.unwrap();
        let uid = |u: &str| Uid::parse(u).unwrap();
        store.set_account_locked(&uid("eve"), true, "test", now).await.unwrap();
        let key = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
        store
            .set_totp_secret(&uid("alice"), &key.seal(ALICE_TOTP_SECRET), "test", now)
            .await
            .unwrap();
        store.set_totp_enabled(&uid("alice"), true, "test", now).await.unwrap();
        store
            .add_group_member(&Name::parse("admins").unwrap(), &uid("alice"), now)
            .await
            .unwrap();
        let app = hash_password(BOB_APP_PASSWORD, &PARAMS).unwrap();
        store
            .add_app_password(&uid("bob"), "mail", &app, "test", now)
            .await
            .unwrap();
        let wikiusers = Name::parse("wikiusers").unwrap();
        store
            .create_group(&wikiusers, Some("Wiki users"), None, now)
            .await
            .unwrap();
        for u in ["bob", "eve"] {
            store.add_group_member(&wikiusers, &uid(u), now).await.unwrap();
        }
        let service_hash = hash_password(SERVICE_PASSWORD, &PARAMS).unwrap();
        for (name, members_of, real_names) in [
            ("wiki", None, false),
            ("wikionly", Some("wikiusers"), false),
            ("hr", None, true),
        ] {
            let profile = ServiceProfile {
                name: Name::parse(name).unwrap(),
                attrs: None,
                members_of: members_of.map(|g| Name::parse(g).unwrap()),
                real_names,
                include_inactive: false,
                pseudonymous: false,
                chapter: None,
            };
            store.add_service(&profile, &service_hash, now).await.unwrap();
        }
        let layout = Layout::new(Dn::parse(BASE).unwrap(), "Example Party");
        let metrics = Arc::new(Metrics::default());
        let directory = Directory::load(Arc::clone(&store), layout, Arc::clone(&metrics))
            .await
            .unwrap();
        let (audit, _writer) = AuditSink::start(Arc::clone(&store));
        let throttle = Throttle::new(
            ThrottleConfig {
                account_burst: ACCOUNT_BURST,
                account_per_minute: 2,
                address_burst: burst,
                address_per_minute: 1,
            },
            Arc::clone(&store),
        );
        let auth = Arc::new(Authenticator::new(
            Arc::clone(&store),
            HashPool::new(2, PARAMS, Arc::clone(&metrics)),
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
                limits,
            },
        });
        Fixture { ctx, store, dir }
    }

    /// Runs SQL on the database file behind the store's back (to take tables away, as an
    /// outage does).
    pub fn sql(&self, statements: &str) {
        let conn = rusqlite::Connection::open(self.dir.path().join("t.db")).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        conn.execute_batch(statements).unwrap();
    }

    /// A new connection from the loopback address (passwords allowed without TLS).
    pub fn session(&self) -> Session {
        Session::new(SocketAddr::from(([127, 0, 0, 1], 40000)), false, None)
    }

    /// Sends one request at `now`; returns the responses.
    pub async fn send(&self, s: &mut Session, op: LdapOp, ctrl: Vec<LdapControl>, now: OffsetDateTime) -> Vec<LdapMsg> {
        let msg = LdapMsg::new_with_ctrls(7, op, ctrl);
        let outcome = ops::dispatch(&self.ctx, s, msg, now).await;
        outcome
            .messages
            .into_iter()
            .chain(outcome.stream.into_iter().flatten())
            .collect()
    }

    /// A simple bind; its result code.
    pub async fn bind_at(&self, s: &mut Session, dn: &str, pw: &str, now: OffsetDateTime) -> LdapResultCode {
        let req = LdapBindRequest {
            version: 3,
            dn: dn.into(),
            cred: LdapBindCred::Simple(pw.into()),
        };
        match self
            .send(s, LdapOp::BindRequest(req), vec![], now)
            .await
            .pop()
            .map(|m| m.op)
        {
            Some(LdapOp::BindResponse(r)) => r.res.code,
            other => panic!("no bind response: {other:?}"),
        }
    }

    pub async fn bind(&self, s: &mut Session, dn: &str, pw: &str) -> LdapResultCode {
        self.bind_at(s, dn, pw, t0()).await
    }

    /// A session bound as `dn` (asserting the bind succeeds).
    pub async fn bound(&self, dn: &str, pw: &str) -> Session {
        let mut s = self.session();
        assert_eq!(self.bind(&mut s, dn, pw).await, LdapResultCode::Success, "bind as {dn}");
        s
    }

    /// A search; the entries and the final result.
    pub async fn search_with(
        &self,
        s: &mut Session,
        base: &str,
        scope: LdapSearchScope,
        filter: LdapFilter,
        attrs: &[&str],
        ctrl: Vec<LdapControl>,
    ) -> (Vec<LdapSearchResultEntry>, LdapResult, Vec<LdapControl>) {
        let req = LdapSearchRequest {
            base: base.into(),
            scope,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: attrs.iter().map(|a| a.to_string()).collect(),
        };
        let mut entries = Vec::new();
        for m in self.send(s, LdapOp::SearchRequest(req), ctrl, t0()).await {
            match m.op {
                LdapOp::SearchResultEntry(e) => entries.push(e),
                LdapOp::SearchResultDone(r) => return (entries, r, m.ctrl),
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("no SearchResultDone")
    }

    /// A subtree search of the base; the DNs found.
    pub async fn dns(&self, s: &mut Session, filter: LdapFilter) -> Vec<String> {
        let (entries, res, _) = self
            .search_with(s, BASE, LdapSearchScope::Subtree, filter, &["1.1"], vec![])
            .await;
        assert_eq!(res.code, LdapResultCode::Success, "{}", res.message);
        entries.into_iter().map(|e| e.dn).collect()
    }

    /// A compare; its result code.
    pub async fn compare(&self, s: &mut Session, dn: &str, attr: &str, value: &str) -> LdapResultCode {
        let req = LdapCompareRequest {
            dn: dn.into(),
            atype: attr.into(),
            val: value.as_bytes().to_vec(),
        };
        match self
            .send(s, LdapOp::CompareRequest(req), vec![], t0())
            .await
            .pop()
            .map(|m| m.op)
        {
            Some(LdapOp::CompareResult(r)) => r.code,
            other => panic!("no compare result: {other:?}"),
        }
    }

    /// Password Modify (RFC 3062) at `now`; its result code.
    pub async fn passwd_at(
        &self,
        s: &mut Session,
        old: Option<&str>,
        new: Option<&str>,
        now: OffsetDateTime,
    ) -> LdapResultCode {
        let req: LdapExtendedRequest = LdapPasswordModifyRequest {
            user_identity: None,
            old_password: old.map(str::to_string),
            new_password: new.map(str::to_string),
        }
        .into();
        match self
            .send(s, LdapOp::ExtendedRequest(req), vec![], now)
            .await
            .pop()
            .map(|m| m.op)
        {
            Some(LdapOp::ExtendedResponse(r)) => r.res.code,
            other => panic!("no extended response: {other:?}"),
        }
    }
}

/// `(attr=value)`.
pub fn eq(attr: &str, value: &str) -> LdapFilter {
    LdapFilter::Equality(attr.into(), value.into())
}
