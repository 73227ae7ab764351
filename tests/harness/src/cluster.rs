//! A real `kube-apiserver` with `etcd` on 127.0.0.1, started the way
//! controller-runtime's envtest does, for sluice's end-to-end tests.
//!
//! # Design
//!
//! - **Binaries.** `kube-apiserver` and `etcd` are built from their published
//!   Go modules by `tests/cluster/build.sh` into a cache outside the
//!   repository (`~/.cache/sluice/cluster/<k8s>-<etcd>/`). The harness takes
//!   the directory from `SLUICE_CLUSTER_BIN` when it is set, otherwise it runs
//!   `build.sh` (which does nothing when the binaries are cached and prints the
//!   directory on its last line), otherwise it panics saying how to build them.
//! - **One cluster per test binary.** [`TestCluster::shared`] starts the
//!   cluster on first use and keeps it in a `static` for the life of the
//!   process; tests share it and isolate themselves with
//!   [`TestCluster::namespace`], which creates a fresh, uniquely named
//!   namespace. [`TestCluster::start`] starts a private cluster that is
//!   stopped when the value is dropped, for the rare test that needs one.
//! - **Servers.** etcd listens on free 127.0.0.1 ports with its data in a
//!   temporary directory (`--unsafe-no-fsync`: test data need not survive a
//!   crash). kube-apiserver binds and advertises 127.0.0.1 on a free port, and
//!   serves a certificate for `127.0.0.1`/`localhost` signed by a CA generated
//!   for this run with the `openssl` CLI, together with an admin client
//!   certificate in the `system:masters` group (so `--authorization-mode=RBAC`
//!   lets the test client do everything) and an ECDSA service-account signing
//!   key. The harness waits for etcd's `/health` and the apiserver's
//!   `/readyz`, then writes a kubeconfig with a current context
//!   (`sluice-test`, namespace `default`).
//! - **No controllers run.** Only what the apiserver does itself happens: CRDs
//!   become `Established` (the apiserver's own CRD controllers), the `default`
//!   namespace and the `kubernetes` Service exist. Nothing creates Pods for a
//!   Deployment, sets any `status`, deletes a namespace's contents (a deleted
//!   namespace stays `Terminating`) or creates ServiceAccounts, so the
//!   `ServiceAccount` admission plugin is disabled. Tests set `status`
//!   themselves through the status subresource (`kubectl patch
//!   --subresource=status`).
//! - **Stopping, panics included.** A `static` is never dropped, so each
//!   server runs under a small `sh` supervisor ([`SUPERVISOR`]) that is the
//!   server's parent: it stops the server (TERM, then KILL 5 s later) when
//!   the test process's pid disappears — normal exit, panic, abort or
//!   SIGKILL alike — or when the supervisor itself gets TERM, and the etcd
//!   supervisor then removes the temporary directory. No `unsafe`
//!   (`PR_SET_PDEATHSIG`) is needed.
//!
//! Server logs are in the temporary directory ([`TestCluster::dir`]) while
//! the cluster runs; a failed start shows their last lines in the panic.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Supervises one server: `sh -c SUPERVISOR sh PARENT_PID CLEANUP_DIR CMD...`.
///
/// Runs `CMD...` in the background and waits for it. A watcher subshell
/// stops the server once `PARENT_PID` is gone; TERM (or INT, HUP) to the
/// supervisor stops it too. Stopping is TERM, then KILL 5 s later (the data
/// is thrown away: no need for a long grace). Once the server has exited,
/// `CLEANUP_DIR`, when not empty, is removed, and the supervisor exits with
/// the server's status. The pending KILL is cancelled when the server exits
/// first, so it never hits a reused pid.
pub const SUPERVISOR: &str = r#"
parent=$1; cleanup=$2; shift 2
"$@" &
child=$!
( while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
  kill -TERM "$child" 2>/dev/null; sleep 5; kill -KILL "$child" 2>/dev/null ) &
watcher=$!
killer=
trap '[ -n "$killer" ] || { kill -TERM "$child" 2>/dev/null
  ( sleep 5; kill -KILL "$child" 2>/dev/null ) & killer=$!; }' TERM INT HUP
# Returns when the server exits, or early when a trapped signal arrives;
# then wait again (at once when it has already been reaped).
wait "$child"
status=$?
wait "$child" 2>/dev/null
# One pid per kill: dash's kill stops at the first pid that is gone.
kill "$watcher" 2>/dev/null
if [ -n "$killer" ]; then kill "$killer" 2>/dev/null; fi
if [ -n "$cleanup" ]; then rm -rf -- "$cleanup"; fi
exit "$status"
"#;

/// How long to wait for etcd's `/health`.
const ETCD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for the apiserver's `/readyz` (a cold start on a busy
/// 2-core machine takes several seconds).
const APISERVER_TIMEOUT: Duration = Duration::from_secs(120);

/// A running etcd and kube-apiserver on 127.0.0.1, and how to reach them.
#[derive(Debug)]
pub struct TestCluster {
    /// A kubeconfig whose current context (`sluice-test`) is the admin user
    /// (client certificate in `system:masters`) on this cluster.
    pub kubeconfig: PathBuf,
    /// The apiserver's URL, `https://127.0.0.1:PORT`.
    pub server: String,
    /// etcd's client URL, `http://127.0.0.1:PORT`.
    pub etcd: String,
    /// The CA that signed the apiserver's serving certificate and the client
    /// certificate (PEM).
    pub ca_cert: PathBuf,
    /// The admin client certificate (PEM; `O=system:masters`).
    pub client_cert: PathBuf,
    /// The admin client certificate's private key (PEM, PKCS#8).
    pub client_key: PathBuf,
    /// The temporary directory holding certificates, etcd's data, the
    /// kubeconfig and the servers' logs (`etcd.log`, `kube-apiserver.log`);
    /// removed when the cluster stops.
    pub dir: PathBuf,
    /// The directory the `kube-apiserver` and `etcd` binaries came from.
    pub bin_dir: PathBuf,
    /// The supervisors (apiserver first, then etcd), stopped on drop.
    supervisors: Vec<Child>,
}

static SHARED: OnceLock<Result<TestCluster, String>> = OnceLock::new();
static NAMESPACES: AtomicU64 = AtomicU64::new(0);

impl TestCluster {
    /// The cluster shared by every test in this test binary, started on first
    /// use (building the binaries first if they are not cached) and stopped
    /// when the process exits, panics included.
    ///
    /// Panics, with the reason and the servers' last log lines, when the
    /// cluster cannot start; later calls panic with the same message rather
    /// than trying again.
    pub fn shared() -> &'static TestCluster {
        match SHARED.get_or_init(Self::try_start) {
            Ok(cluster) => cluster,
            Err(e) => panic!("the shared test cluster did not start: {e}"),
        }
    }

    /// Starts a private cluster, stopped (and its directory removed) when the
    /// value is dropped. Prefer [`TestCluster::shared`]: a start costs
    /// seconds.
    pub fn start() -> TestCluster {
        match Self::try_start() {
            Ok(cluster) => cluster,
            Err(e) => panic!("the test cluster did not start: {e}"),
        }
    }

    /// Starts etcd and kube-apiserver, retrying with other ports when one was
    /// taken between choosing it and binding it.
    fn try_start() -> Result<TestCluster, String> {
        let bin_dir = find_binaries()?;
        let mut last = String::new();
        for _ in 0..3 {
            match start_once(&bin_dir) {
                Ok(cluster) => return Ok(cluster),
                Err(StartError::PortTaken(e)) => last = e,
                Err(StartError::Other(e)) => return Err(e),
            }
        }
        Err(last)
    }

    /// Creates a new namespace named `<prefix>-<pid>-<n>` (the prefix reduced
    /// to lowercase letters, digits and `-`) and returns its name. Each test
    /// uses its own namespaces, so tests sharing the cluster do not see each
    /// other's objects. No controller runs, so the namespace has no `default`
    /// ServiceAccount.
    pub fn namespace(&self, prefix: &str) -> String {
        let mut clean: String = prefix
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        clean = clean.trim_matches('-').to_owned();
        if clean.is_empty() {
            clean.push_str("test");
        }
        let n = NAMESPACES.fetch_add(1, Ordering::Relaxed);
        let name = format!("{clean}-{}-{n}", std::process::id());
        self.kubectl_ok(&["create", "namespace", &name]);
        name
    }

    /// A `kubectl` command with `--kubeconfig` set to this cluster's.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// Runs `kubectl` with `args` against this cluster and returns its
    /// standard output; panics with its standard error when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        self.kubectl_stdin(args, "")
    }

    /// Runs `kubectl` with `args`, feeding `input` on standard input (for
    /// `apply -f -`), and returns its standard output; panics with its
    /// standard error when it fails.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> String {
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl must be installed (it is on the development machines and in CI)");
        let mut stdin = child.stdin.take().expect("stdin was piped");
        let input = input.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("waiting for kubectl");
        // kubectl may exit without reading its input; that is not an error.
        let _ = writer.join();
        if !out.status.success() {
            panic!(
                "kubectl {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestCluster {
    /// Stops the apiserver, then etcd, then lets etcd's supervisor remove the
    /// directory. (The shared cluster is never dropped; its supervisors stop
    /// it when the process exits.)
    fn drop(&mut self) {
        for child in &mut self.supervisors {
            stop_supervisor(child);
        }
    }
}

/// Why a start failed: a port taken by someone else is worth a retry.
enum StartError {
    PortTaken(String),
    Other(String),
}

impl From<String> for StartError {
    fn from(e: String) -> Self {
        StartError::Other(e)
    }
}

/// Finds the directory holding `kube-apiserver` and `etcd`.
fn find_binaries() -> Result<PathBuf, String> {
    let has_both = |d: &Path| d.join("kube-apiserver").is_file() && d.join("etcd").is_file();
    if let Some(dir) = std::env::var_os("SLUICE_CLUSTER_BIN") {
        let dir = PathBuf::from(dir);
        if has_both(&dir) {
            return Ok(dir);
        }
        return Err(format!(
            "SLUICE_CLUSTER_BIN={} does not hold kube-apiserver and etcd; \
             build them with `bash tests/cluster/build.sh` (it prints their directory)",
            dir.display()
        ));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cluster/build.sh");
    eprintln!(
        "sluice-testkit: running {} (a cold build of kube-apiserver and etcd takes minutes)",
        script.display()
    );
    crate::run_build_script(&script, has_both)?.map_err(|status| {
        format!(
            "kube-apiserver and etcd are not built and `bash {}` failed ({status}). \
             They need Go and the Go module proxy: run `bash tests/cluster/build.sh` \
             and set SLUICE_CLUSTER_BIN to the directory it prints.",
            script.display()
        )
    })
}

/// One attempt at starting both servers.
fn start_once(bin_dir: &Path) -> Result<TestCluster, StartError> {
    let dir = tempfile::Builder::new()
        .prefix("sluice-cluster-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?
        .keep();
    let mut cluster = TestCluster {
        kubeconfig: dir.join("kubeconfig"),
        server: String::new(),
        etcd: String::new(),
        ca_cert: dir.join("ca.crt"),
        client_cert: dir.join("admin.crt"),
        client_key: dir.join("admin.key"),
        dir: dir.clone(),
        bin_dir: bin_dir.to_owned(),
        supervisors: Vec::new(),
    };
    // From here on, dropping `cluster` (on an error return or a panic) stops
    // whatever was started and removes the directory.
    let certs = generate_certs(&dir);
    if let Err(e) = certs {
        let _ = fs::remove_dir_all(&dir);
        return Err(e.into());
    }

    let [etcd_port, peer_port, api_port] = free_ports()?;
    cluster.etcd = format!("http://127.0.0.1:{etcd_port}");
    cluster.server = format!("https://127.0.0.1:{api_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");

    let etcd_log = dir.join("etcd.log");
    let data = dir.join("etcd-data");
    let etcd_args: Vec<String> = vec![
        "--name=default".into(),
        format!("--data-dir={}", data.display()),
        format!("--listen-client-urls={}", cluster.etcd),
        format!("--advertise-client-urls={}", cluster.etcd),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=default={peer}"),
        "--unsafe-no-fsync".into(),
        "--log-level=warn".into(),
    ];
    cluster.supervisors.push(supervise(
        &bin_dir.join("etcd"),
        &etcd_args,
        &etcd_log,
        Some(&dir),
    )?);
    wait_for_etcd(&mut cluster, etcd_port, &etcd_log)?;

    let api_log = dir.join("kube-apiserver.log");
    let f = |name: &str| dir.join(name).display().to_string();
    let api_args: Vec<String> = vec![
        format!("--etcd-servers={}", cluster.etcd),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={api_port}"),
        format!("--cert-dir={}", f("apiserver-certs")),
        format!("--tls-cert-file={}", f("server.crt")),
        format!("--tls-private-key-file={}", f("server.key")),
        format!("--client-ca-file={}", f("ca.crt")),
        format!("--service-account-key-file={}", f("sa.pub")),
        format!("--service-account-signing-key-file={}", f("sa.key")),
        format!("--service-account-issuer={}", cluster.server),
        // Room for thousands of Services (the 1,000-object benchmark makes 660).
        "--service-cluster-ip-range=10.96.0.0/16".into(),
        "--authorization-mode=RBAC".into(),
        "--allow-privileged=true".into(),
        // It rejects Pods whose ServiceAccount does not exist, and no
        // controller creates ServiceAccounts here (envtest does the same).
        "--disable-admission-plugins=ServiceAccount".into(),
        "--profiling=false".into(),
    ];
    cluster.supervisors.insert(
        0,
        supervise(&bin_dir.join("kube-apiserver"), &api_args, &api_log, None)?,
    );
    write_kubeconfig(&cluster)
        .map_err(|e| format!("cannot write {}: {e}", cluster.kubeconfig.display()))?;
    wait_for_apiserver(&mut cluster, &api_log)?;
    Ok(cluster)
}

/// Starts `program args` under the [`SUPERVISOR`], its output going to `log`.
fn supervise(
    program: &Path,
    args: &[String],
    log: &Path,
    cleanup: Option<&Path>,
) -> Result<Child, String> {
    let out = fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot reopen {}: {e}", log.display()))?;
    Command::new("sh")
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("sh")
        .arg(std::process::id().to_string())
        .arg(cleanup.unwrap_or(Path::new("")))
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start sh for {}: {e}", program.display()))
}

/// Asks a supervisor to stop its server (TERM) and waits for it, up to 15 s.
fn stop_supervisor(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Three distinct ports that were free on 127.0.0.1 a moment ago.
fn free_ports() -> Result<[u16; 3], String> {
    let bind =
        || TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"));
    // Hold all three listeners at once so the ports differ.
    let listeners = [bind()?, bind()?, bind()?];
    let mut ports = [0u16; 3];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l
            .local_addr()
            .map_err(|e| format!("no local address: {e}"))?
            .port();
    }
    Ok(ports)
}

/// Fails with the log's tail when the supervised server has exited, telling a
/// port taken meanwhile (worth a retry) from other failures.
fn check_alive(child: &mut Child, name: &str, log: &Path) -> Result<(), StartError> {
    match child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => {
            let tail = log_tail(log);
            let msg = format!(
                "{name} exited ({status}); last lines of {}:\n{tail}",
                log.display()
            );
            if tail.contains("address already in use") {
                Err(StartError::PortTaken(msg))
            } else {
                Err(StartError::Other(msg))
            }
        }
        Err(e) => Err(StartError::Other(format!("cannot wait for {name}: {e}"))),
    }
}

/// Waits until etcd answers `GET /health` with `"health":"true"`.
fn wait_for_etcd(cluster: &mut TestCluster, port: u16, log: &Path) -> Result<(), StartError> {
    let deadline = Instant::now() + ETCD_TIMEOUT;
    loop {
        let child = cluster
            .supervisors
            .last_mut()
            .ok_or_else(|| "no etcd".to_owned())?;
        check_alive(child, "etcd", log)?;
        if http_get(port, "/health").is_some_and(|body| body.contains("\"health\":\"true\"")) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(StartError::Other(format!(
                "etcd was not healthy after {ETCD_TIMEOUT:?}; last lines of {}:\n{}",
                log.display(),
                log_tail(log)
            )));
        }
        sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP/1.0 GET on 127.0.0.1 (etcd's client port is plain HTTP).
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let _ = stream.shutdown(Shutdown::Write);
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Waits until `kubectl get --raw /readyz` answers `ok`.
fn wait_for_apiserver(cluster: &mut TestCluster, log: &Path) -> Result<(), StartError> {
    let deadline = Instant::now() + APISERVER_TIMEOUT;
    loop {
        let child = cluster
            .supervisors
            .first_mut()
            .ok_or_else(|| "no apiserver".to_owned())?;
        check_alive(child, "kube-apiserver", log)?;
        let out = cluster
            .kubectl()
            .args(["get", "--raw", "/readyz", "--request-timeout=5s"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                format!("cannot run kubectl (it must be installed to use the test cluster): {e}")
            })?;
        if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok" {
            return Ok(());
        }
        let last = String::from_utf8_lossy(&out.stderr).into_owned();
        if Instant::now() > deadline {
            return Err(StartError::Other(format!(
                "kube-apiserver was not ready after {APISERVER_TIMEOUT:?} ({}); last lines of {}:\n{}",
                last.trim(),
                log.display(),
                log_tail(log)
            )));
        }
        sleep(Duration::from_millis(200));
    }
}

/// The last 30 lines of a log file.
fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The `openssl` configuration for the CA, the serving and the client
/// certificates.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = sluice-test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
";

/// Generates into `dir`, with the `openssl` CLI (ECDSA P-256 keys):
/// `ca.crt`/`ca.key`, the apiserver's `server.crt`/`server.key` for
/// 127.0.0.1 and localhost, the admin client `admin.crt`/`admin.key`
/// (`O=system:masters`), and the service-account signing key `sa.key`
/// with its public half `sa.pub`.
fn generate_certs(dir: &Path) -> Result<(), String> {
    let cnf = dir.join("openssl.cnf");
    fs::write(&cnf, OPENSSL_CNF).map_err(|e| format!("cannot write {}: {e}", cnf.display()))?;
    let cnf = cnf.display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509", "-new"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "3650",
                "-subj",
                "/CN=sluice-test-ca",
                "-config",
                &cnf,
                "-extensions",
                "ca",
            ],
        ],
    )?;
    for (name, subject, ext) in [
        ("server", "/CN=kube-apiserver", "server"),
        ("admin", "/O=system:masters/CN=sluice-test-admin", "client"),
    ] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        openssl(
            dir,
            &[
                &["req", "-new"],
                &ec[..],
                &[
                    "-keyout", &key, "-out", &csr, "-subj", subject, "-config", &cnf,
                ],
            ],
        )?;
        openssl(
            dir,
            &[&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "3650",
                "-extfile",
                &cnf,
                "-extensions",
                ext,
            ]],
        )?;
    }
    openssl(
        dir,
        &[&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "sa.key",
        ]],
    )?;
    openssl(
        dir,
        &[&["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]],
    )
}

/// Runs `openssl` in `dir` with the concatenated argument lists.
fn openssl(dir: &Path, args: &[&[&str]]) -> Result<(), String> {
    let args: Vec<&str> = args.concat();
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run openssl (install it: apt-get install openssl): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Writes the kubeconfig: cluster, user and context all named `sluice-test`
/// (the user `sluice-test-admin`), the context current.
fn write_kubeconfig(cluster: &TestCluster) -> std::io::Result<()> {
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: sluice-test
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: sluice-test-admin
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: sluice-test
  context:
    cluster: sluice-test
    user: sluice-test-admin
    namespace: default
current-context: sluice-test
",
        server = cluster.server,
        ca = q(&cluster.ca_cert),
        cert = q(&cluster.client_cert),
        key = q(&cluster.client_key),
    );
    fs::write(&cluster.kubeconfig, text)
}
