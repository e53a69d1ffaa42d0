//! 09 — a WebSocket echo server: the resource `websocket` serves `/echo` on 127.0.0.1:8080,
//! plus a page at `/` that talks to it from a browser. On Ctrl-C every open connection gets a
//! close frame ("going away") before the process exits. Needs the cargo feature `websocket`.
//!
//! ```text
//! cargo run --example websocket_echo --features websocket
//! open http://127.0.0.1:8080/ (or: websocat ws://127.0.0.1:8080/echo)
//! ```

use tamarco::http::axum::response::{Html, Response};
use tamarco::prelude::*;
use tamarco::websocket::{Message, WebSocket, WebSocketServer, WebSocketUpgrade};

#[microservice]
#[derive(Default)]
struct EchoService {
    #[resource]
    websocket: WebSocketServer,
}

#[microservice]
impl EchoService {
    #[route(websocket, GET "/")]
    async fn page(&self) -> Html<&'static str> {
        Html(PAGE)
    }

    /// Sends every text or binary message back.
    #[route(websocket, GET "/echo")]
    async fn echo(&self, upgrade: WebSocketUpgrade) -> Response {
        upgrade.on_upgrade(|mut socket: WebSocket| async move {
            while let Some(Ok(message)) = socket.recv().await {
                let echo = matches!(message, Message::Text(_) | Message::Binary(_));
                if echo && socket.send(message).await.is_err() {
                    break;
                }
            }
        })
    }
}

const PAGE: &str = r#"<!doctype html>
<title>tamarco echo</title>
<input id="text" value="hello"> <button id="send">send</button>
<pre id="log"></pre>
<script>
  const log = (line) => document.getElementById("log").textContent += line + "\n";
  const socket = new WebSocket(`ws://${location.host}/echo`);
  socket.onmessage = (event) => log("< " + event.data);
  socket.onclose = (event) => log(`closed: ${event.code} ${event.reason}`);
  document.getElementById("send").onclick = () => {
    const text = document.getElementById("text").value;
    socket.send(text);
    log("> " + text);
  };
</script>
"#;

fn main() -> ExitStatus {
    EchoService::default().run()
}
