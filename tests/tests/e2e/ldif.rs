//! Issue 6: moving from OpenLDAP. A real slapd (started here, its own config and port) holds
//! people whose passwords were set with slappasswd ({SSHA}, {CRYPT} sha512 and sha256, {ARGON2});
//! its `slapcat` export imports with `import --ldif`, the people bind with their old passwords,
//! and the first bind replaces the legacy hash by argon2id. Then `export --ldif`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use piratenldap_core::ids::Uid;
use piratenldap_store::Store;
use piratenldap_tests::{Install, person};

use crate::{connect, ok_stdout};

/// (uid, member number, password, slappasswd arguments).
const PEOPLE: &[(&str, &str, &str, &[&str])] = &[
    ("anna", "101", "anna-old-password", &["-h", "{SSHA}"]),
    ("bert", "102", "bert-old-password", &["-h", "{CRYPT}", "-c", "$6$%.16s"]),
    ("cleo", "103", "cleo-old-password", &["-h", "{CRYPT}", "-c", "$5$%.16s"]),
    (
        "dora",
        "104",
        "dora-old-password",
        &[
            "-o",
            "module-path=/usr/lib/ldap",
            "-o",
            "module-load=argon2",
            "-h",
            "{ARGON2}",
        ],
    ),
];

fn slappasswd(password: &str, args: &[&str]) -> String {
    let out = Command::new("slappasswd")
        .args(args)
        .args(["-s", password])
        .output()
        .expect("slappasswd (apt-get install slapd)");
    ok_stdout(&out).trim().to_string()
}

/// A private slapd on a free port, stopped on drop.
struct Slapd {
    child: Child,
    url: String,
    conf: std::path::PathBuf,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_slapd(dir: &Path) -> Slapd {
    std::fs::create_dir_all(dir.join("db")).unwrap();
    let conf = dir.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload argon2\n\
             pidfile {dir}/slapd.pid\ndatabase mdb\nsuffix \"dc=old,dc=org\"\n\
             rootdn \"cn=admin,dc=old,dc=org\"\nrootpw admin-password\ndirectory {dir}/db\n\
             access to * by self read by anonymous auth by * none\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("ldap://127.0.0.1:{port}/");
    let child = Command::new("slapd")
        .args(["-f", conf.to_str().unwrap(), "-h", &url, "-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("slapd (apt-get install slapd)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "slapd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Slapd { child, url, conf }
}

fn ldapadd(slapd: &Slapd, ldif: &str) {
    let mut child = Command::new("ldapadd")
        .args([
            "-x",
            "-H",
            &slapd.url,
            "-D",
            "cn=admin,dc=old,dc=org",
            "-w",
            "admin-password",
        ])
        .env("LDAPCONF", "/dev/null")
        .env("LDAPRC", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), ldif.as_bytes()).unwrap();
    ok_stdout(&child.wait_with_output().unwrap());
}

/// The old directory, filled over LDAP, exported with slapcat.
fn slapcat_export(dir: &Path) -> std::path::PathBuf {
    let slapd = start_slapd(&dir.join("slapd"));
    let mut ldif = String::from(
        "dn: dc=old,dc=org\nobjectClass: dcObject\nobjectClass: organization\ndc: old\no: Old\n\n\
         dn: ou=people,dc=old,dc=org\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,dc=old,dc=org\nobjectClass: organizationalUnit\nou: groups\n\n",
    );
    for (i, (uid, number, pw, args)) in PEOPLE.iter().enumerate() {
        let state = if *uid == "anna" { "st: BY\n" } else { "" };
        ldif.push_str(&format!(
            "dn: uid={uid},ou=people,dc=old,dc=org\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
             uid: {uid}\ncn: {uid} Old\nsn: Old\ngivenName: {uid}\nmail: {uid}@old.org\nemployeeNumber: {number}\n\
             {state}uidNumber: {}\ngidNumber: 5000\nhomeDirectory: /home/{uid}\nuserPassword: {}\n\n",
            7000 + i,
            slappasswd(pw, args)
        ));
    }
    ldif.push_str(
        "dn: cn=wiki-editors,ou=groups,dc=old,dc=org\nobjectClass: groupOfNames\ncn: wiki-editors\n\
         member: uid=anna,ou=people,dc=old,dc=org\nmember: uid=bert,ou=people,dc=old,dc=org\n\n\
         dn: cn=jabber,ou=groups,dc=old,dc=org\nobjectClass: posixGroup\ncn: jabber\ngidNumber: 5100\n\
         memberUid: cleo\nmemberUid: dora\n",
    );
    ldapadd(&slapd, &ldif);
    // The old server itself accepts the passwords (so the hashes are real).
    for (uid, _, pw, _) in PEOPLE {
        let out = Command::new("ldapwhoami")
            .args([
                "-x",
                "-H",
                &slapd.url,
                "-D",
                &format!("uid={uid},ou=people,dc=old,dc=org"),
                "-w",
                pw,
            ])
            .env("LDAPCONF", "/dev/null")
            .output()
            .unwrap();
        ok_stdout(&out);
    }
    let export = dir.join("old.ldif");
    let out = Command::new("slapcat")
        .args(["-f", slapd.conf.to_str().unwrap(), "-l", export.to_str().unwrap()])
        .output()
        .unwrap();
    ok_stdout(&out);
    export
}

#[tokio::test]
async fn a_slapcat_export_imports_and_its_people_bind_with_their_old_passwords() {
    let install = Install::new();
    let export = slapcat_export(install.dir.path());
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(text.contains("userPassword::"), "slapcat writes hashes in base64");

    // A dry run changes nothing.
    let dry = ok_stdout(&install.cli(&[
        "import",
        "--ldif",
        export.to_str().unwrap(),
        "--state",
        "BE",
        "--dry-run",
    ]));
    assert!(dry.contains("dry run"), "{dry}");
    let store = install.store().await;
    assert!(store.members().await.unwrap().is_empty());

    let out = ok_stdout(&install.cli(&["import", "--ldif", export.to_str().unwrap(), "--state", "BE"]));
    assert!(out.contains("4 members, 4 accounts"), "{out}");
    let anna = store.account(&Uid::parse("anna").unwrap()).await.unwrap().unwrap();
    assert_eq!(anna.uid_number, 7000, "uidNumber kept");
    assert!(anna.password_hash.starts_with("{SSHA}"));
    let groups = store.groups().await.unwrap();
    let editors = groups.iter().find(|g| g.name.as_str() == "wiki-editors").unwrap();
    assert_eq!(editors.manual_members.len(), 2);
    let jabber = groups.iter().find(|g| g.name.as_str() == "jabber").unwrap();
    assert_eq!((jabber.gid_number, jabber.manual_members.len()), (5100, 2));
    let members = store.members().await.unwrap();
    assert_eq!(
        members
            .iter()
            .find(|m| m.number.as_str() == "101")
            .unwrap()
            .state
            .as_str(),
        "BY"
    );
    assert_eq!(
        members
            .iter()
            .find(|m| m.number.as_str() == "102")
            .unwrap()
            .state
            .as_str(),
        "BE"
    );
    // Importing again finds everything there already.
    let again = ok_stdout(&install.cli(&["import", "--ldif", export.to_str().unwrap(), "--state", "BE"]));
    assert!(again.contains("0 accounts (4 already there)"), "{again}");

    let server = install.serve();
    let mut ldap = connect(&server).await;
    for (uid, _, pw, _) in PEOPLE {
        assert_eq!(ldap.simple_bind(&person(uid), "not-the-password").await.unwrap().rc, 49);
        assert_eq!(
            ldap.simple_bind(&person(uid), pw).await.unwrap().rc,
            0,
            "{uid} with the old password"
        );
    }
    // The legacy hashes were replaced by argon2id; the passwords still work.
    for (uid, _, pw, _) in PEOPLE {
        let start = Instant::now();
        loop {
            let hash = store
                .account(&Uid::parse(uid).unwrap())
                .await
                .unwrap()
                .unwrap()
                .password_hash;
            if hash.starts_with("$argon2id$") {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(2), "{uid} still has {hash}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            ldap.simple_bind(&person(uid), pw).await.unwrap().rc,
            0,
            "{uid} after the rehash"
        );
    }

    // export --ldif: the tree without hashes; with --with-secrets in OpenLDAP's {ARGON2} form.
    let plain = ok_stdout(&server.cli(&["export", "--ldif"]));
    assert!(plain.contains(&format!("dn: {}", person("anna"))), "{plain}");
    assert!(!plain.contains("userPassword"));
    let secret_file = server.install.dir.path().join("export.ldif");
    ok_stdout(&server.cli(&[
        "export",
        "--ldif",
        "--with-secrets",
        "--out",
        secret_file.to_str().unwrap(),
    ]));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let entries = piratenldap_core::ldif::parse(&std::fs::read_to_string(&secret_file).unwrap()).unwrap();
    let anna = entries.iter().find(|e| e.dn == person("anna")).unwrap();
    assert!(anna.first("userPassword").unwrap().starts_with("{ARGON2}$argon2id$"));
}

#[tokio::test]
async fn an_ldif_with_a_bad_entry_changes_nothing_and_names_the_line() {
    let install = Install::new();
    let file = install.dir.path().join("bad.ldif");
    std::fs::write(
        &file,
        "version: 1\n\ndn: uid=okay,ou=people,dc=old,dc=org\nobjectClass: inetOrgPerson\nuid: okay\ncn: Ok\nsn: Ok\n\
         employeeNumber: 1\nuserPassword: {SSHA}c2VjcmV0c2FsdHNhbHRzYWx0c2FsdA==\n\n\
         dn: uid=clear,ou=people,dc=old,dc=org\nobjectClass: inetOrgPerson\nuid: clear\ncn: C\nsn: C\n\
         employeeNumber: 2\nuserPassword: plaintext\n\n\
         dn: uid=nonumber,ou=people,dc=old,dc=org\nobjectClass: inetOrgPerson\nuid: nonumber\ncn: N\nsn: N\n\
         userPassword: {SSHA}c2VjcmV0c2FsdHNhbHRzYWx0c2FsdA==\n",
    )
    .unwrap();
    let out = install.cli(&["import", "--ldif", file.to_str().unwrap(), "--state", "BE"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 entries"), "{err}");
    assert!(err.contains("line 11") && err.contains("clear text"), "{err}");
    assert!(err.contains("line 19") && err.contains("member number"), "{err}");
    assert!(
        install.store().await.members().await.unwrap().is_empty(),
        "nothing was imported"
    );
}
