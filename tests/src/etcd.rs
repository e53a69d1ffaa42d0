//! Real etcd processes for tests: each member on free loopback ports with its own data dir,
//! killed (SIGKILL) on drop. Needs the `etcd` binary (`.ci/services` installs it).
//!
//! Readiness is an event, not a poll: a member is ready when it logs "ready to serve client
//! requests"; every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a member may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// One etcd member. Start a single-member etcd with [`EtcdServer::start`], or several with
/// [`EtcdCluster::start`].
#[derive(Debug)]
pub struct EtcdServer {
    name: String,
    data_dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    initial_cluster: String,
    cluster_token: String,
    child: Option<Child>,
    lines: Option<mpsc::Receiver<String>>,
    /// More command-line flags, kept across restarts.
    flags: Vec<String>,
}

impl EtcdServer {
    /// Starts a single-member etcd and waits until it serves requests.
    pub fn start() -> EtcdServer {
        EtcdServer::start_with(&[])
    }

    /// [`start`](Self::start) with more command-line flags (`--auth-token-ttl=1`), which a
    /// [`restart`](Self::restart) keeps.
    pub fn start_with(flags: &[&str]) -> EtcdServer {
        let [client_port, peer_port] = free_ports();
        let name = "solo".to_owned();
        let initial_cluster = format!("{name}=http://127.0.0.1:{peer_port}");
        let mut server = EtcdServer::new(name, client_port, peer_port, initial_cluster);
        server.flags = flags.iter().map(|flag| (*flag).to_owned()).collect();
        server.spawn();
        server.wait_ready();
        server
    }

    fn new(name: String, client_port: u16, peer_port: u16, initial_cluster: String) -> Self {
        EtcdServer {
            data_dir: temp_dir(&name),
            name,
            client_port,
            peer_port,
            cluster_token: format!("tamarco-{peer_port}"),
            initial_cluster,
            child: None,
            lines: None,
            flags: Vec::new(),
        }
    }

    /// `127.0.0.1:<client port>`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.client_port
    }

    /// Kills the process (SIGKILL) and waits for it; the data dir stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.lines = None;
    }

    /// Starts the process again with the same name, ports and data dir, and waits until it
    /// serves requests.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready();
    }

    fn spawn(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut child = Command::new("etcd")
            .args(["--name", &self.name])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &self.initial_cluster])
            .args(["--initial-cluster-token", &self.cluster_token])
            .args(["--initial-cluster-state", "new"])
            .args(&self.flags)
            .env_remove("ETCDCTL_API")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcd starts (is etcd-server installed? run .ci/services)");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        // Drains etcd's log for as long as it runs, so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        self.lines = Some(rx);
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        let lines = self.lines.as_ref().expect("a running etcd");
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.contains("ready to serve client requests") => return,
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "etcd {} was not ready within {READY_WITHIN:?}; the end of its log:\n{}",
                    self.name,
                    seen[seen.len().saturating_sub(40)..].join("\n")
                ),
            }
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A cluster of etcd members on loopback.
#[derive(Debug)]
pub struct EtcdCluster {
    members: Vec<EtcdServer>,
}

impl EtcdCluster {
    /// Starts `size` members together and waits until each serves requests.
    pub fn start(size: usize) -> EtcdCluster {
        let ports = free_port_list(size * 2);
        let names: Vec<String> = (0..size).map(|i| format!("m{i}")).collect();
        let initial_cluster = names
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name}=http://127.0.0.1:{}", ports[2 * i + 1]))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<EtcdServer> = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                EtcdServer::new(
                    name,
                    ports[2 * i],
                    ports[2 * i + 1],
                    initial_cluster.clone(),
                )
            })
            .collect();
        // One token for the whole cluster, so that every member computes the same cluster ID.
        let token = members[0].cluster_token.clone();
        for member in &mut members {
            member.cluster_token.clone_from(&token);
        }
        // A member is ready only once the cluster has a quorum: start all, then wait.
        for member in &mut members {
            member.spawn();
        }
        for member in &mut members {
            member.wait_ready();
        }
        EtcdCluster { members }
    }

    /// Every member's endpoint.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(EtcdServer::endpoint).collect()
    }

    /// The member at `index`.
    pub fn member(&mut self, index: usize) -> &mut EtcdServer {
        &mut self.members[index]
    }
}

/// Two free loopback ports.
fn free_ports() -> [u16; 2] {
    let ports = free_port_list(2);
    [ports[0], ports[1]]
}

/// `count` distinct free loopback ports (the listeners are held until all are found).
pub fn free_port_list(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A new, empty directory under the system's temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "tamarco-test-{tag}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}
