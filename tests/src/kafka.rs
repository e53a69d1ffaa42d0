//! A Kafka-protocol broker for the tests: [`Broker`] starts `tansu` (installed by
//! `.ci/services`) on a free loopback port with its own SQLite data dir, and kills it on drop.
//! Plain-rdkafka helpers read topics and committed offsets behind tamarco's back.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers as _;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// Where `.ci/services` installs tansu; `TAMARCO_TANSU` overrides it.
pub fn tansu_path() -> PathBuf {
    if let Some(path) = std::env::var_os("TAMARCO_TANSU") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".cache/tamarco/tansu/bin/tansu")
}

/// The environment variables tansu reads its options from; cleared so that only the command
/// line counts.
const TANSU_ENV: &[&str] = &[
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "DATA_LAKE",
    "RUST_LOG",
];

/// A tansu broker of this test's own, on 127.0.0.1; killed (and its data removed) on drop.
#[derive(Debug)]
pub struct Broker {
    child: Child,
    port: u16,
    /// The port the broker tells clients to connect to: its own, or a proxy's in front of it.
    advertised: u16,
    dir: PathBuf,
}

impl Broker {
    /// Starts a broker and waits (at most 30 s) until it answers metadata requests.
    ///
    /// Panics with a clear message when tansu is not installed: run `bash .ci/services`.
    pub fn start() -> Broker {
        let port = free_port();
        Broker::start_advertising(port, port)
    }

    /// Starts a broker listening on `port` that tells clients (in its metadata) to connect to
    /// `advertised` instead: a proxy in front of it, so that every connection after the first
    /// goes through the proxy.
    pub fn start_advertising(port: u16, advertised: u16) -> Broker {
        let tansu = tansu_path();
        assert!(
            tansu.is_file(),
            "the Kafka tests need the tansu broker at {}: run `bash .ci/services` first \
             (it builds tansu once, about 8 minutes; .ci/test does it)",
            tansu.display()
        );
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tamarco-kafka-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir for the broker");
        let child = Self::spawn(&dir, port, advertised);
        let broker = Broker {
            child,
            port,
            advertised,
            dir,
        };
        broker.wait_ready(Duration::from_secs(30));
        broker
    }

    fn spawn(dir: &Path, port: u16, advertised: u16) -> Child {
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised = format!("tcp://127.0.0.1:{advertised}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("broker.log"))
            .expect("the broker's log file");
        let mut command = Command::new(tansu_path());
        command
            .current_dir(dir)
            .arg("broker")
            .args(["--listener-url", &url])
            .args(["--advertised-listener-url", &advertised])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        for var in TANSU_ENV {
            command.env_remove(var);
        }
        command.spawn().expect("tansu starts")
    }

    /// Kills the broker (its data stays), as a crash or a network cut would look to clients.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the broker again on the same port with the same data, after [`kill`](Self::kill).
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(&self.dir, self.port, self.advertised);
        self.wait_ready(Duration::from_secs(30));
    }

    fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let addr = ([127, 0, 0, 1], self.port).into();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {addr} within {timeout:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let client: BaseConsumer = self.config().create().expect("a metadata client");
        let left = deadline.saturating_duration_since(Instant::now());
        let answered = client.fetch_metadata(None, left).map(|m| m.brokers().len());
        drop(client);
        match answered {
            Ok(brokers) if brokers > 0 => {}
            other => panic!(
                "tansu did not answer metadata requests: {other:?}; its log:\n{}",
                self.log()
            ),
        }
    }

    /// `127.0.0.1:PORT`, for `bootstrap_servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A plain rdkafka configuration pointing at this broker.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap());
        config
    }

    /// Creates `topic` with `partitions` partitions (tansu's own CLI, bounded).
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let output = run_bounded(
            Command::new(tansu_path())
                .args(["topic", "create", topic])
                .args(["--partitions", &partitions.to_string()])
                .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)]),
            Duration::from_secs(20),
        );
        assert!(
            output.0,
            "tansu topic create {topic} failed: {}; broker log:\n{}",
            output.1,
            self.log()
        );
    }

    /// The broker's output so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default()
    }

    /// Every record of `topic` (all partitions, from the start), read with plain rdkafka
    /// outside any group; waits (at most `timeout`) until there are at least `at_least`.
    pub fn read_topic(&self, topic: &str, at_least: usize, timeout: Duration) -> Vec<Record> {
        let deadline = Instant::now() + timeout;
        let consumer: BaseConsumer = self
            .config()
            // Assigned, not subscribed: the group is never joined, but librdkafka wants one.
            .set("group.id", unique_topic("reader"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .expect("a plain consumer");
        let partitions = partition_count(&consumer, topic, timeout);
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition_offset(topic, partition, Offset::Beginning)
                .expect("a valid offset");
        }
        consumer.assign(&list).expect("assign");
        drop(list);
        let mut records = Vec::new();
        while records.len() < at_least && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                records.push(Record::of(&message));
            }
        }
        // A little longer, to catch records beyond the count the caller expects.
        let settle = Instant::now() + Duration::from_millis(300);
        while Instant::now() < settle {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) {
                records.push(Record::of(&message));
            }
        }
        drop(consumer);
        records
    }

    /// The offsets `group` committed for `topic`'s partitions (`None` where it has none).
    pub fn committed(&self, group: &str, topic: &str) -> Vec<Option<i64>> {
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("a plain consumer");
        let partitions = partition_count(&consumer, topic, Duration::from_secs(10));
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        let offsets = committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            })
            .collect();
        // A list the consumer returned must go before the consumer (librdkafka's destroy
        // waits for it otherwise).
        drop(committed);
        drop(consumer);
        offsets
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One record as read with plain rdkafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The key.
    pub key: Option<Vec<u8>>,
    /// The body.
    pub payload: Vec<u8>,
    /// The headers, in order; null values read as empty.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    fn of(message: &impl Message) -> Record {
        let headers = message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        Record {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        }
    }

    /// The last value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

fn partition_count<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    timeout: Duration,
) -> i32 {
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("topic metadata");
    let count = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len());
    i32::try_from(count).expect("a partition count")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A topic name no other test uses: `prefix` plus the process id and a counter.
pub fn unique_topic(prefix: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `command` with a deadline; (success, output).
fn run_bounded(command: &mut Command, timeout: Duration) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let output = child.wait_with_output().expect("output");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            return (status.success(), text);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (false, format!("timed out after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
