//! Tests for the cluster harness itself: a real etcd and kube-apiserver on
//! 127.0.0.1, driven with `kubectl`.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use sluice_testkit::cluster::{SUPERVISOR, TestCluster};

#[test]
fn kubeconfig_has_a_current_context_and_the_server_reports_its_version() {
    let c = TestCluster::shared();
    assert!(c.server.starts_with("https://127.0.0.1:"), "{}", c.server);
    let ctx = c.kubectl_ok(&["config", "current-context"]);
    assert_eq!(ctx.trim(), "sluice-test");
    let version = c.kubectl_ok(&["get", "--raw", "/version"]);
    let dir = c
        .bin_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let k8s = dir.split('-').next().unwrap_or_default();
    assert!(
        version.contains(&format!("\"gitVersion\": \"{k8s}\"")),
        "/version should report {k8s}: {version}"
    );
    // The admin is in system:masters: it may do anything.
    assert_eq!(
        c.kubectl_ok(&["auth", "can-i", "*", "*", "--all-namespaces"])
            .trim(),
        "yes"
    );
}

#[test]
fn configmap_round_trip_in_an_isolated_namespace() {
    let c = TestCluster::shared();
    let ns = c.namespace("ConfigMap Test");
    assert!(ns.starts_with("configmap-test-"), "{ns}");
    let other = c.namespace("configmap-other");
    assert_ne!(ns, other);
    c.kubectl_ok(&[
        "create",
        "configmap",
        "demo",
        "-n",
        &ns,
        "--from-literal=key=value",
    ]);
    let value = c.kubectl_ok(&[
        "get",
        "configmap",
        "demo",
        "-n",
        &ns,
        "-o",
        "jsonpath={.data.key}",
    ]);
    assert_eq!(value, "value");
    // Not visible from another test's namespace.
    let listed = c.kubectl_ok(&["get", "configmaps", "-n", &other, "-o", "name"]);
    assert!(!listed.contains("configmap/demo"), "{listed}");
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testkit.sluice.dev
spec:
  group: testkit.sluice.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, properties: {ready: {type: boolean}}}
"#;

#[test]
fn crd_becomes_established_and_serves_its_custom_resources() {
    let c = TestCluster::shared();
    c.kubectl_stdin(&["apply", "--server-side", "-f", "-"], CRD);
    // Established is set by the apiserver's own CRD controllers: no
    // controller manager is needed.
    c.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.testkit.sluice.dev",
        "--timeout=60s",
    ]);
    let ns = c.namespace("crd");
    let widget = format!(
        "apiVersion: testkit.sluice.dev/v1\nkind: Widget\nmetadata: {{name: w1, namespace: {ns}}}\nspec: {{size: 3}}\n"
    );
    // Discovery may lag Established by a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = c
            .kubectl()
            .args(["apply", "--server-side", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("piped")
                    .write_all(widget.as_bytes())?;
                child.wait_with_output()
            })
            .expect("kubectl");
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "applying a Widget failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sleep(Duration::from_millis(200));
    }
    c.kubectl_ok(&[
        "patch",
        "widget",
        "w1",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":true}}"#,
    ]);
    let got = c.kubectl_ok(&[
        "get",
        "widget",
        "w1",
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.size} {.status.ready}",
    ]);
    assert_eq!(got, "3 true");
}

#[test]
fn deployment_status_is_set_through_the_status_subresource() {
    let c = TestCluster::shared();
    let ns = c.namespace("deploy");
    let deployment = format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: registry.invalid/web:1}}]
"#
    );
    c.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &deployment);
    // No controllers: nothing sets status by itself.
    let status = c.kubectl_ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        &ns,
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    assert_eq!(status, "");
    c.kubectl_ok(&[
        "patch", "deployment", "web", "-n", &ns, "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}}"#,
    ]);
    let got = c.kubectl_ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        &ns,
        "-o",
        "jsonpath={.status.readyReplicas}/{.status.availableReplicas}",
    ]);
    assert_eq!(got, "2/2");
    // ... and it stays: no controller overwrites it.
    sleep(Duration::from_secs(1));
    let again = c.kubectl_ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        &ns,
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    assert_eq!(again, "2");
}

/// Runs a "server" (`sh -c script`, which writes its pid to a file) under
/// the supervisor, watching a `sleep` standing for the test process; kills
/// that `sleep` and checks that the server is gone and the directory
/// removed within `within`.
fn supervised_server_stops_when_watched_process_dies(script: &str, within: Duration) {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let pid_file = tempfile::NamedTempFile::new().expect("pid file");
    let mut parent = Command::new("sleep").arg("1000").spawn().expect("sleep");
    let mut supervisor = Command::new("sh")
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("sh")
        .arg(parent.id().to_string())
        .arg(&dir)
        .args(["sh", "-c", script, "server"])
        .arg(pid_file.path())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh");
    let deadline = Instant::now() + Duration::from_secs(10);
    let server = loop {
        let text = std::fs::read_to_string(pid_file.path()).unwrap_or_default();
        if let Ok(pid) = text.trim().parse::<u32>() {
            break pid;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        sleep(Duration::from_millis(20));
    };
    let proc_dir = format!("/proc/{server}");
    sleep(Duration::from_millis(300));
    assert!(
        supervisor.try_wait().expect("try_wait").is_none(),
        "the supervisor quit early"
    );
    parent.kill().expect("kill");
    parent.wait().expect("wait");
    let start = Instant::now();
    while supervisor.try_wait().expect("try_wait").is_none() {
        assert!(
            start.elapsed() < within,
            "the supervisor did not stop its server in {within:?}"
        );
        sleep(Duration::from_millis(50));
    }
    assert!(
        !Path::new(&proc_dir).exists(),
        "the server (pid {server}) still runs"
    );
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

/// The supervisor stops its server and removes the directory when the
/// process it watches disappears, however that process ended.
#[test]
fn supervisor_stops_the_server_when_the_watched_process_dies() {
    supervised_server_stops_when_watched_process_dies(
        r#"echo $$ > "$1"; exec sleep 1000"#,
        Duration::from_secs(3),
    );
}

/// A server that ignores TERM is killed after the grace period.
#[test]
fn supervisor_kills_a_server_that_ignores_term() {
    supervised_server_stops_when_watched_process_dies(
        r#"trap "" TERM; echo $$ > "$1"; while :; do sleep 0.2; done"#,
        Duration::from_secs(9),
    );
}

#[test]
fn a_private_cluster_stops_and_cleans_up_when_dropped() {
    let c = TestCluster::start();
    let dir = c.dir.clone();
    let port: u16 = c
        .server
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in server URL");
    assert_ne!(c.server, TestCluster::shared().server);
    let ns = c.namespace("private");
    c.kubectl_ok(&["get", "namespace", &ns]);
    drop(c);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the apiserver still listens"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&dir).exists() {
        assert!(
            Instant::now() < deadline,
            "{} was not removed",
            dir.display()
        );
        sleep(Duration::from_millis(50));
    }
}
