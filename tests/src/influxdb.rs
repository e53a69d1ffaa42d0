//! A real InfluxDB 1.x (`influxd`, Debian package `influxdb`) for tests: each server on free
//! loopback ports with its own data dir, killed on drop. Ready when `GET /ping` answers.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::etcd::{free_port_list, temp_dir};

/// How long a server may take to answer its first ping.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// One `influxd` process.
#[derive(Debug)]
pub struct InfluxServer {
    http_port: u16,
    config: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl InfluxServer {
    /// Starts a server on free ports and waits until it answers.
    pub fn start() -> InfluxServer {
        let ports = free_port_list(2);
        let dir = temp_dir("influxd");
        let config = dir.join("influxdb.conf");
        let d = dir.display();
        std::fs::write(
            &config,
            format!(
                "reporting-disabled = true\n\
                 bind-address = \"127.0.0.1:{rpc}\"\n\
                 [meta]\n  dir = \"{d}/meta\"\n\
                 [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                 [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n\
                 [monitor]\n  store-enabled = false\n\
                 [logging]\n  level = \"warn\"\n",
                rpc = ports[1],
                http = ports[0],
            ),
        )
        .expect("write the influxd config");
        let mut server = InfluxServer {
            http_port: ports[0],
            config,
            dir,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("influxd")
            .arg("-config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("influxd (Debian package `influxdb`) on the PATH");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let began = Instant::now();
        while began.elapsed() < READY_WITHIN {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("influxd did not answer /ping within {READY_WITHIN:?}");
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let request = "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut response = [0_u8; 12];
        std::io::Read::read_exact(&mut stream, &mut response).is_ok()
            && response.starts_with(b"HTTP/1.1 204")
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.http_port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Kills the process and waits for it; the data stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same ports and data, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for InfluxServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
