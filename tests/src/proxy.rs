//! A TCP proxy that tests put between a client and a server to cut the network under it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tamarco::tokio;
use tamarco::tokio::net::{TcpListener, TcpStream};
use tamarco::tokio::task::AbortHandle;

/// A TCP proxy on a free loopback port in front of a server (a broker, a database, etcd):
/// clients connect through it, and the test cuts their connections ([`cut`](TcpProxy::cut))
/// or refuses new ones ([`block`](TcpProxy::block)) while the server keeps running.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    shared: Arc<ProxyShared>,
    accept: AbortHandle,
}

#[derive(Debug, Default)]
struct ProxyShared {
    blocked: AtomicBool,
    connections: Mutex<Vec<AbortHandle>>,
    accepted: AtomicU64,
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
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if accepting.blocked.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                accepting.accepted.fetch_add(1, Ordering::Relaxed);
                let upstream = Arc::clone(&upstream);
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&*upstream).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
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
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
