//! Starts the test cluster, writes its kubeconfig path to the file named by
//! the first argument, and keeps the cluster up until that file is removed.

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: hold-cluster <file to write the kubeconfig path to>");
        std::process::exit(2);
    };
    let c = sluice_testkit::cluster::TestCluster::start();
    if let Err(e) = std::fs::write(&out, c.kubeconfig.display().to_string()) {
        eprintln!("cannot write {}: {e}", std::path::Path::new(&out).display());
        std::process::exit(1);
    }
    while std::path::Path::new(&out).exists() {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
