//! The nginx example of ops/ with a real nginx: client certificates from our CA get in, no
//! certificate or a revoked one gets 400 once the refreshed CRL is loaded.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::certs::{cert_install, field, issue_for_carol};
use crate::ok_stdout;

/// A running nginx; killed on drop.
pub(crate) struct Nginx {
    child: Child,
    conf: std::path::PathBuf,
    prefix: std::path::PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // A fast shutdown through the master, so it ends its workers too (SIGKILL on the master
        // would leave them running).
        let _ = self.signal("stop");
        crate::wait_or_kill(&mut self.child);
    }
}

impl Nginx {
    fn signal(&self, what: &str) -> std::io::Result<std::process::Output> {
        Command::new("nginx")
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", what])
            .output()
    }

    pub(crate) fn reload(&self) {
        let out = self.signal("reload").unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The ops/nginx/`file` server block with the marked lines pointed at this test's files and
/// ports.
pub(crate) fn render_server_block(file: &str, port: u16, data: &Path, crl: &Path, upstream: &str) -> String {
    let ops = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/nginx").join(file);
    let text = std::fs::read_to_string(ops).unwrap();
    let mut seen = 0;
    let rendered: Vec<String> = text
        .lines()
        .map(|line| {
            let Some((_, marker)) = line.split_once("# TEST: ") else {
                return line.to_string();
            };
            seen += 1;
            match marker.trim() {
                "listen" => format!("    listen 127.0.0.1:{port} ssl;"),
                "server cert" => format!("    ssl_certificate {};", data.join("tls/server.pem").display()),
                "server key" => format!("    ssl_certificate_key {};", data.join("tls/server.key").display()),
                "client CA" => format!("    ssl_client_certificate {};", data.join("ca/trusted.pem").display()),
                "CRL" => format!("    ssl_crl {};", crl.display()),
                "upstream" => format!("        proxy_pass {upstream};"),
                other => panic!("unknown marker {other}"),
            }
        })
        .collect();
    assert_eq!(seen, 6, "ops/nginx/{file} lost a # TEST: marker");
    rendered.join("\n")
}

pub(crate) fn start_nginx(dir: &Path, server_block: &str, port: u16) -> Nginx {
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    std::fs::write(prefix.join("server.conf"), server_block).unwrap();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user root;\ndaemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {p}/tmp; proxy_temp_path {p}/tmp; fastcgi_temp_path {p}/tmp; \
             uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp; include {p}/server.conf; }}\n",
            p = prefix.display()
        ),
    )
    .unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nginx (apt-get install nginx)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nginx did not start: {}",
            std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx { child, conf, prefix }
}

/// ops/nginx/membership-admin.conf in a real nginx in front of `server`'s `/healthz`, checking
/// client certificates against the installation's CA and the CRL file `crl`; and its port.
pub(crate) fn membership_admin_nginx(server: &piratenldap_tests::Server, crl: &Path) -> (Nginx, u16) {
    let dir = server.install.dir.path();
    let port = free_port();
    let upstream = format!("http://{}/healthz", server.http);
    let block = render_server_block("membership-admin.conf", port, &dir.join("data"), crl, &upstream);
    (start_nginx(dir, &block, port), port)
}

/// HTTP status of a GET through nginx, with or without a client certificate.
pub(crate) fn status(port: u16, ca: &Path, client: Option<&Path>) -> u16 {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(ca);
    if let Some(dir) = client {
        cmd.arg("--cert")
            .arg(dir.join("cert.pem"))
            .arg("--key")
            .arg(dir.join("key.pem"));
    }
    let out = cmd.arg(format!("https://localhost:{port}/")).output().unwrap();
    String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
}

#[test]
fn nginx_admits_valid_certificates_only() {
    let install = cert_install();
    let (cert_dir, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    let data = install.dir.path().join("data");
    let server = install.serve();
    let dir = server.install.dir.path().to_path_buf();
    let crl = dir.join("nginx-crl.pem");
    let fetch_crl = || {
        let out = Command::new("curl")
            .args(["-fsS", "-o"])
            .arg(&crl)
            .arg(format!("http://{}/ca/crl.pem", server.http))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    fetch_crl();
    let (nginx, port) = membership_admin_nginx(&server, &crl);
    let ca = data.join("ca/ca.pem");
    assert_eq!(status(port, &ca, Some(&cert_dir)), 200, "valid certificate refused");
    assert_eq!(status(port, &ca, None), 400, "no certificate admitted");

    ok_stdout(&server.cli(&["cert", "revoke", &serial, "--reason", "stolen"]));
    fetch_crl();
    nginx.reload();
    let start = Instant::now();
    while status(port, &ca, Some(&cert_dir)) != 400 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "revoked certificate still admitted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
