//! A TCP proxy that tests put between a client and a server to cut, stall or slow the network
//! under it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco::tokio;
use tamarco::tokio::io::{AsyncReadExt, AsyncWriteExt};
use tamarco::tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tamarco::tokio::net::{TcpListener, TcpStream};
use tamarco::tokio::sync::watch;
use tamarco::tokio::task::AbortHandle;

/// A TCP proxy on a free loopback port in front of a server (a broker, a database, etcd):
/// clients connect through it, and the test cuts their connections ([`cut`](TcpProxy::cut)),
/// refuses new ones ([`block`](TcpProxy::block)), holds every byte while the connections stay
/// open ([`stall`](TcpProxy::stall)) or forwards each chunk late ([`delay`](TcpProxy::delay))
/// while the server keeps running.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    shared: Arc<ProxyShared>,
    accept: AbortHandle,
}

#[derive(Debug)]
struct ProxyShared {
    blocked: AtomicBool,
    connections: Mutex<Vec<AbortHandle>>,
    accepted: AtomicU64,
    /// How the bytes flow now; forwarding waits while it says stalled.
    flow: watch::Sender<Flow>,
}

/// How the proxy forwards bytes at the moment.
#[derive(Debug, Clone, Copy, Default)]
struct Flow {
    stalled: bool,
    delay: Duration,
}

impl Default for ProxyShared {
    fn default() -> Self {
        ProxyShared {
            blocked: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
            flow: watch::Sender::new(Flow::default()),
        }
    }
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`). Must run
    /// inside a tokio runtime.
    pub async fn start(upstream: impl Into<String>) -> TcpProxy {
        let upstream: Arc<str> = Arc::from(upstream.into());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let shared = Arc::new(ProxyShared::default());
        let accepting = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if accepting.blocked.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                accepting.accepted.fetch_add(1, Ordering::Relaxed);
                let upstream = Arc::clone(&upstream);
                let flow = accepting.flow.subscribe();
                let forward = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&*upstream).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let (client_in, client_out) = client.into_split();
                        let (server_in, server_out) = server.into_split();
                        tokio::join!(
                            forward(client_in, server_out, flow.clone()),
                            forward(server_in, client_out, flow),
                        );
                    }
                });
                let mut connections = accepting.connections.lock().expect("proxy lock");
                connections.retain(|c| !c.is_finished());
                connections.push(forward.abort_handle());
            }
        })
        .abort_handle();
        TcpProxy {
            port,
            shared,
            accept,
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>` of the proxy.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections it accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Drops every open connection at once, as a network cut or a broker crash would.
    pub fn cut(&self) -> usize {
        let connections = std::mem::take(&mut *self.shared.connections.lock().expect("proxy lock"));
        for connection in &connections {
            connection.abort();
        }
        connections.len()
    }

    /// While blocked, new connections are closed as soon as they are accepted.
    pub fn block(&self, blocked: bool) {
        self.shared.blocked.store(blocked, Ordering::SeqCst);
    }

    /// While stalled, nothing is forwarded either way and no connection is closed: to both
    /// ends the network silently loses every packet. What arrives meanwhile is held and
    /// forwarded once the stall ends, as TCP would retransmit it.
    pub fn stall(&self, stalled: bool) {
        self.shared.flow.send_modify(|flow| flow.stalled = stalled);
    }

    /// Forwards each chunk read from either end `delay` late (zero: at once), as a slow
    /// network or an overloaded server would.
    pub fn delay(&self, delay: Duration) {
        self.shared.flow.send_modify(|flow| flow.delay = delay);
    }
}

/// Copies `from` to `to` as `flow` says, until either end closes; then closes `to`'s side.
async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut flow: watch::Receiver<Flow>) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let Ok(now) = flow.wait_for(|f| !f.stalled).await.map(|f| *f) else {
            break;
        };
        if !now.delay.is_zero() {
            tokio::time::sleep(now.delay).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
