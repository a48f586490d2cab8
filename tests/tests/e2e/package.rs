//! The Debian package (issue 18): `scripts/package` builds it from the debug binary; its files,
//! modes, control fields and maintainer scripts are checked with dpkg-deb, its units with
//! `systemd-analyze verify`, and the binary extracted from it goes through `init` with the
//! package's layout (configuration apart from the state directory), `member import`, `serve`
//! and a service's search.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ldap3::Scope;
use piratenldap_tests::{BASE, PASSWORD, binary, spawn_serve};

use crate::{connect_url, ok_stdout, search};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.to_string_lossy()))
}

/// `dpkg-deb -c`: path (without the leading `.`) → (mode string, owner/group).
fn contents(deb: &Path) -> BTreeMap<String, (String, String)> {
    let listing = ok_stdout(&run("dpkg-deb", &["-c", deb.to_str().unwrap()]));
    listing
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = fields[5].trim_start_matches('.').trim_end_matches('/').to_string();
            (path, (fields[0].to_string(), fields[1].to_string()))
        })
        .collect()
}

/// The packaged server, killed when the test ends (or fails).
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_debian_package_installs_a_working_server() {
    let version = env!("CARGO_PKG_VERSION");
    let out_dir = tempfile::tempdir().unwrap();
    let built = run(
        repository().join("scripts/package"),
        &[
            "--binary",
            binary().to_str().unwrap(),
            "--out",
            out_dir.path().to_str().unwrap(),
        ],
    );
    let printed = ok_stdout(&built);
    let deb = out_dir.path().join(format!("piratenldap_{version}_amd64.deb"));
    assert!(
        deb.exists() && printed.trim() == deb.to_str().unwrap(),
        "scripts/package names and writes {}: {printed}",
        deb.display()
    );

    // Files and modes.
    let files = contents(&deb);
    let mode = |path: &str| {
        files
            .get(path)
            .unwrap_or_else(|| panic!("the package holds {path}; it has {:?}", files.keys()))
            .0
            .clone()
    };
    assert_eq!(mode("/usr/bin/piratenldap"), "-rwxr-xr-x", "the binary is 0755");
    for unit in [
        "piratenldap.service",
        "piratenldap-backup.service",
        "piratenldap-backup.timer",
    ] {
        assert_eq!(
            mode(&format!("/lib/systemd/system/{unit}")),
            "-rw-r--r--",
            "unit {unit}"
        );
    }
    assert_eq!(
        mode("/usr/lib/sysusers.d/piratenldap.conf"),
        "-rw-r--r--",
        "the sysusers file"
    );
    assert_eq!(
        mode("/var/lib/piratenldap"),
        "drwx------",
        "the state directory is 0700"
    );
    assert_eq!(
        mode("/etc/piratenldap"),
        "drwxr-x---",
        "the configuration directory is closed to others"
    );
    assert!(
        !files.contains_key("/etc/piratenldap/piratenldap.toml"),
        "no configuration is shipped (init refuses to overwrite one)"
    );
    for page in [
        "piratenldap",
        "piratenldap-init",
        "piratenldap-serve",
        "piratenldap-member-import",
    ] {
        assert_eq!(
            mode(&format!("/usr/share/man/man1/{page}.1.gz")),
            "-rw-r--r--",
            "man page {page}"
        );
    }
    assert!(
        !files.keys().any(|p| p.contains("generate")),
        "the hidden generate commands have no man page"
    );
    for completion in [
        "/usr/share/bash-completion/completions/piratenldap",
        "/usr/share/zsh/vendor-completions/_piratenldap",
        "/usr/share/fish/vendor_completions.d/piratenldap.fish",
    ] {
        assert_eq!(mode(completion), "-rw-r--r--", "completion {completion}");
    }
    mode("/usr/share/doc/piratenldap/copyright");
    mode("/usr/share/doc/piratenldap/README.Debian");
    assert!(
        files.values().all(|(_, owner)| owner == "root/root"),
        "every file belongs to root in the archive (--root-owner-group)"
    );

    // Control fields and maintainer scripts.
    let field = |name: &str| {
        ok_stdout(&run("dpkg-deb", &["-f", deb.to_str().unwrap(), name]))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "piratenldap", "control: Package");
    assert_eq!(field("Version"), version, "control: Version is the workspace's");
    assert_eq!(field("Architecture"), "amd64", "control: Architecture");
    assert!(field("Depends").contains("libc6"), "control: Depends names libc6");
    let info = ok_stdout(&run("dpkg-deb", &["-I", deb.to_str().unwrap()]));
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "the package has a {script}: {info}");
    }
    let control = tempfile::tempdir().unwrap();
    ok_stdout(&run(
        "dpkg-deb",
        &["-e", deb.to_str().unwrap(), control.path().to_str().unwrap()],
    ));
    for script in ["postinst", "prerm", "postrm"] {
        let path = control.path().join(script);
        ok_stdout(&run("sh", &["-n", path.to_str().unwrap()]));
    }
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    for step in [
        "systemd-sysusers /usr/lib/sysusers.d/piratenldap.conf",
        "adduser --system",
        "chown piratenldap:piratenldap /var/lib/piratenldap",
        "chmod 0700 /var/lib/piratenldap",
        "chown root:piratenldap /etc/piratenldap",
    ] {
        assert!(postinst.contains(step), "the postinst runs `{step}`");
    }

    // The extracted tree.
    let root = tempfile::tempdir().unwrap();
    ok_stdout(&run(
        "dpkg-deb",
        &["-x", deb.to_str().unwrap(), root.path().to_str().unwrap()],
    ));
    let packaged = root.path().join("usr/bin/piratenldap");
    let shown = ok_stdout(&run(&packaged, &["--version"]));
    assert!(
        shown.contains(version) && shown.contains("commit "),
        "--version names the version and the commit: {shown}"
    );
    let page = run(
        "gzip",
        &[
            "-dc",
            root.path()
                .join("usr/share/man/man1/piratenldap-init.1.gz")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(
        String::from_utf8_lossy(&page.stdout).contains(".TH")
            && String::from_utf8_lossy(&page.stdout).contains("data\\-dir"),
        "the man page of init is roff and names --data-dir"
    );
    let bash = std::fs::read_to_string(root.path().join("usr/share/bash-completion/completions/piratenldap")).unwrap();
    assert!(
        bash.contains("member") && bash.contains("import"),
        "the bash completion knows the subcommands"
    );

    // The sysusers file makes the user and its group (a dry run changes nothing here).
    let sysusers = root.path().join("usr/lib/sysusers.d/piratenldap.conf");
    let users = run("/usr/bin/systemd-sysusers", &["--dry-run", sysusers.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&users.stderr);
    assert!(
        users.status.success() && (said.contains("user 'piratenldap'") || said.is_empty()),
        "systemd-sysusers accepts the package's sysusers file: {said}"
    );

    // The units: as shipped they name /usr/bin/piratenldap; verified as copies naming the
    // extracted binary (systemd-analyze checks that ExecStart exists).
    let units = root.path().join("lib/systemd/system");
    let service = std::fs::read_to_string(units.join("piratenldap.service")).unwrap();
    for line in [
        "ExecStart=/usr/bin/piratenldap serve",
        "Environment=PIRATENLDAP_CONFIG=/etc/piratenldap/piratenldap.toml",
        "User=piratenldap",
        "StateDirectory=piratenldap",
        "StateDirectoryMode=0700",
        "ReadWritePaths=/var/lib/piratenldap",
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    ] {
        assert!(service.lines().any(|l| l == line), "the unit has {line}");
    }
    let verify = tempfile::tempdir().unwrap();
    let mut unit_paths = Vec::new();
    for unit in [
        "piratenldap.service",
        "piratenldap-backup.service",
        "piratenldap-backup.timer",
    ] {
        let text = std::fs::read_to_string(units.join(unit))
            .unwrap()
            .replace("/usr/bin/piratenldap", packaged.to_str().unwrap());
        let path = verify.path().join(unit);
        std::fs::write(&path, text).unwrap();
        unit_paths.push(path.to_str().unwrap().to_string());
    }
    let mut args = vec!["verify", "--man=no"];
    args.extend(unit_paths.iter().map(String::as_str));
    let verified = run("/usr/bin/systemd-analyze", &args);
    let complaints = String::from_utf8_lossy(&verified.stderr);
    assert!(
        verified.status.success() && !complaints.contains("piratenldap"),
        "systemd-analyze verify accepts the units: {complaints}"
    );

    // The packaged binary with the package's layout, in temporary paths: the configuration in
    // etc/piratenldap, the state in var/lib/piratenldap (0700, as the postinst leaves it).
    let system = tempfile::tempdir().unwrap();
    let etc = system.path().join("etc/piratenldap");
    let state = system.path().join("var/lib/piratenldap");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = etc.join("piratenldap.toml");
    let cli = |args: &[&str]| {
        Command::new(&packaged)
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };
    let init_args = [
        "init",
        "--data-dir",
        state.to_str().unwrap(),
        "--host",
        "ldap.example.org",
        "--ldap-listen",
        "127.0.0.1:0",
        "--ldaps-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
    ];
    ok_stdout(&cli(&init_args));
    let text = std::fs::read_to_string(&config).unwrap();
    let db = format!("url = \"sqlite://{}/piratenldap.db\"", state.display());
    assert!(text.contains(&db), "the database is in the state directory: {text}");
    for key in [
        "tls/server.key",
        "ca\"",
        "secret.key",
        "token.key",
        "oidc\"",
        "pseudonym.key",
    ] {
        assert!(
            text.contains(&format!("\"{}/{key}", state.display())),
            "{key} is named by an absolute path in the state directory"
        );
    }
    assert!(!text.contains("PRIVATE KEY"), "the configuration holds no key");
    let in_etc: Vec<_> = std::fs::read_dir(&etc)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        in_etc,
        ["piratenldap.toml"],
        "init writes only the configuration beside it"
    );
    for secret in [
        "secret.key",
        "token.key",
        "ca/ca.key",
        "tls/server.key",
        "piratenldap.db",
    ] {
        let m = std::fs::metadata(state.join(secret)).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o600, "{secret} in the state directory is 0600");
    }
    let m = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(m, 0o700, "the state directory stays 0700");
    // A second init into the same state directory (another configuration) is refused.
    let again = Command::new(&packaged)
        .arg("--config")
        .arg(system.path().join("other.toml"))
        .args(init_args)
        .output()
        .unwrap();
    assert!(
        !again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already holds keys"),
        "init refuses a state directory that holds keys"
    );
    // Cheap hashing for the test, as every other installation of the suite has.
    piratenldap_tests::cheap_hashing(&config);

    let csv = system.path().join("members.csv");
    std::fs::write(
        &csv,
        "member_number,state,status,voting_right,given_name,surname,email\n7,BY,active,true,Paula,Paket,paula@example.org\n",
    )
    .unwrap();
    let imported = ok_stdout(&cli(&["member", "import", csv.to_str().unwrap()]));
    assert!(
        imported.contains("1 were added"),
        "member import adds the member: {imported}"
    );
    let mut create = Command::new(&packaged)
        .arg("--config")
        .arg(&config)
        .args(["account", "create", "paula", "--member", "7", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut create.stdin.take().unwrap(), PASSWORD.as_bytes()).unwrap();
    ok_stdout(&create.wait_with_output().unwrap());
    let added = ok_stdout(&cli(&["service", "add", "wiki"]));
    let value = |key: &str| added.lines().find_map(|l| l.strip_prefix(key)).unwrap().to_string();
    let (dn, password) = (value("dn: "), value("password: "));

    let (child, ldap, _, _) = spawn_serve(&packaged, &config, "info");
    let server = Serving(child);
    let mut wiki = connect_url(&format!("ldap://{ldap}"), ldap3::LdapConnSettings::new()).await;
    let bind = wiki.simple_bind(&dn, &password).await.unwrap();
    assert_eq!(bind.rc, 0, "the service binds to the packaged server: {bind:?}");
    let (entries, res) = search(
        &mut wiki,
        &format!("ou=people,{BASE}"),
        Scope::Subtree,
        "(uid=paula)",
        &["uid", "mail"],
    )
    .await;
    drop(server);
    assert_eq!(res.rc, 0, "the search succeeds: {res:?}");
    assert_eq!(entries.len(), 1, "the service finds the imported member");
    assert_eq!(entries[0].dn, format!("uid=paula,ou=people,{BASE}"), "the member's DN");
    assert_eq!(
        entries[0].attrs.get("mail"),
        Some(&vec!["paula@example.org".to_string()]),
        "the member's mail from the CSV"
    );
}
