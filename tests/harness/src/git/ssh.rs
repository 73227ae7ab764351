//! `sshd` on a loopback port with keys generated for this run.

use super::{Ssh, free_port, run, wait_port};
use std::path::Path;
use std::process::{Command, Stdio};

fn keygen(path: &Path) -> std::io::Result<String> {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "sluice-test", "-f"])
        .arg(path))?;
    std::fs::read_to_string(path.with_extension("pub"))
}

/// Start sshd; returns its details and pid.
pub fn start(root: &Path) -> std::io::Result<(Ssh, u32)> {
    let sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| std::io::Error::other("sshd not found (apt-get install openssh-server)"))?;
    let dir = root.join("ssh");
    std::fs::create_dir_all(&dir)?;
    let host_pub = keygen(&dir.join("host_key"))?;
    let client_pub = keygen(&dir.join("client_key"))?;
    let other_pub = keygen(&dir.join("other_key"))?;
    std::fs::write(dir.join("authorized_keys"), &client_pub)?;
    let port = free_port()?;
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            run(Command::new("id").arg("-un"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "root".into())
        });
    let key_of = |pubkey: &str| {
        pubkey
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let known_hosts = dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{port} {}\n[gitserver]:{port} {}\n",
            key_of(&host_pub),
            key_of(&host_pub)
        ),
    )?;
    let wrong = dir.join("wrong_known_hosts");
    std::fs::write(
        &wrong,
        format!(
            "[127.0.0.1]:{port} {}\n[gitserver]:{port} {}\n",
            key_of(&other_pub),
            key_of(&other_pub)
        ),
    )?;
    let config = dir.join("ssh_config");
    std::fs::write(
        &config,
        format!("Host gitserver\n  HostName 127.0.0.1\n  Port {port}\n"),
    )?;
    let sshd_config = dir.join("sshd_config");
    std::fs::write(
        &sshd_config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
             AllowUsers {user}\nAcceptEnv GIT_PROTOCOL\nLogLevel ERROR\n",
            d = dir.display()
        ),
    )?;
    let _ = std::fs::create_dir_all("/run/sshd");
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(&sshd_config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("sshd.log"))?)
        .spawn()?;
    if !wait_port(port) {
        let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
        return Err(std::io::Error::other(format!("sshd did not start: {log}")));
    }
    let ssh = Ssh {
        port,
        user,
        private_key: dir.join("client_key"),
        known_hosts,
        wrong_known_hosts: wrong,
        config,
    };
    Ok((ssh, child.id()))
}
