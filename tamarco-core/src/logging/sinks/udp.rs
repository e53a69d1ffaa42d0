//! Logstash over UDP (`system.logging.logstash`): one JSON document per datagram.

use tokio::net::UdpSocket;

use super::super::config::LogstashConfig;
use super::super::document::{self, DocContext};
use super::super::record::Record;
use super::super::sink::{Batch, Sink, Transport};

struct Udp {
    host: String,
    port: u16,
    socket: Option<UdpSocket>,
    cx: DocContext,
}

pub(super) fn start(config: &LogstashConfig, cx: &DocContext) -> Result<Sink, String> {
    let mut cx = cx.for_sink(config.version, "logstash");
    if config.fqdn {
        cx.host = document::fqdn();
    }
    let udp = Udp {
        host: config.host.clone(),
        port: config.port,
        socket: None,
        cx,
    };
    super::spawn(
        "logstash",
        "system.logging.logstash",
        config.queue_size,
        Batch::Drain(64),
        udp,
    )
}

impl Transport for Udp {
    fn render(&self, record: &Record) -> String {
        document::json(record, &self.cx)
    }

    async fn connect(&mut self) -> Result<(), String> {
        let target = format!("{}:{}", self.host, self.port);
        let addr = tokio::net::lookup_host(&target)
            .await
            .map_err(|e| format!("cannot resolve {target}: {e}"))?
            .next()
            .ok_or_else(|| format!("{target} resolves to no address"))?;
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
        socket
            .connect(addr)
            .await
            .map_err(|e| format!("cannot reach {target}: {e}"))?;
        self.socket = Some(socket);
        Ok(())
    }

    async fn send(&mut self, batch: Vec<String>) -> Result<(), String> {
        let socket = self.socket.as_ref().ok_or("not connected")?;
        for doc in batch {
            socket
                .send(doc.as_bytes())
                .await
                .map_err(|e| format!("cannot send to {}:{}: {e}", self.host, self.port))?;
        }
        Ok(())
    }
}
