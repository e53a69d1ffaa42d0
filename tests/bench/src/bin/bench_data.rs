//! Benchmark of the data resources against their bare clients, side by side in one run,
//! alternating rounds (A B A B ...) and keeping the best of each:
//!
//! - Postgres: `SELECT` by primary key, 8 concurrent callers, through the resource
//!   (`fetch_one` into a tuple) and through a bare deadpool-postgres pool of the same size doing
//!   `prepare_cached` + `query_one` (goal: >= 0.95x);
//! - Redis: `SET` + `GET` pairs, 8 concurrent callers, through the resource and through a bare
//!   connection manager (goal: >= 0.95x);
//! - InfluxDB: points per second through the batching writer (until the server acknowledged
//!   them all) and through a bare HTTP client posting the same batches (goal: >= 0.9x). Starts
//!   its own `influxd`.
//!
//! Both Postgres pools connect in plain text (`sslmode: disable` for the resource, `NoTls` for
//! the bare pool): the resource's default `prefer` would encrypt with TLS where the server
//! offers it, which measures rustls and the server's OpenSSL rather than the resource.
//! Each comparison also prints the bench process's CPU time per operation (the client's threads,
//! the runtime's idle spinning included; the servers' CPU is not in it), another view than the
//! rates on a loaded machine.
//!
//! `tests/bench/data.sh [rounds] [postgres|redis|influxdb ...]` (default 3 rounds, all three).
//! Needs the machine's PostgreSQL and Redis, and `influxd`.
//!
//! To count instructions per operation (`valgrind --tool=callgrind`, repeatable on a loaded
//! machine), `BENCH_DATA_SIDE=tamarco` or `bare` runs the Postgres and Redis rounds of one side
//! only and `BENCH_DATA_OPS=N` sets their operations per round: the difference between two
//! counts divided by the difference in operations is the cost of one, setup left out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tamarco::influxdb::{InfluxDb, Point};
use tamarco::postgres::{Postgres, Queries};
use tamarco::redis::Redis;
use tamarco::serde_json::{Value, json};
use tamarco::{MicroserviceContext, tokio};
use tamarco_tests::influxdb::InfluxServer;
use tamarco_tests::postgres::Schema;

const CALLERS: usize = 8;
const PG_QUERIES: usize = 4_000;
const REDIS_PAIRS: usize = 8_000;
const POINTS: usize = 100_000;
const BATCH: usize = 5_000;

async fn context<R: tamarco::Resource>(
    name: &str,
    resource: R,
    settings: Value,
) -> (MicroserviceContext, Arc<R>) {
    let mut cx = MicroserviceContext::new("bench_data");
    cx.settings()
        .set_internal(&format!("system.resources.{name}"), settings)
        .expect("valid settings");
    let resource = cx.add(name, resource);
    cx.start().await.expect("the resource starts");
    (cx, resource)
}

/// The CPU time this process's threads have used (their schedstat, in nanoseconds; a thread
/// that ended is no longer counted, and the runtime's workers live as long as the bench).
fn cpu_time() -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
    let nanos = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Whether `BENCH_DATA_SIDE` (unset: both) lets this side run.
fn runs(side: &str) -> bool {
    std::env::var("BENCH_DATA_SIDE").map_or(true, |only| only == side)
}

/// `BENCH_DATA_OPS`, else `default`: the operations of one round.
fn ops(default: usize) -> usize {
    std::env::var("BENCH_DATA_OPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// One side's rounds: operations per second, and CPU microseconds per operation.
#[derive(Default)]
struct Side {
    rates: Vec<f64>,
    cpu_us: Vec<f64>,
}

/// Runs `CALLERS` tasks, each calling `op(i)` for its share of `total`, and records the rate and
/// the CPU time per operation in `side`.
async fn concurrently<F, Fut>(side: &mut Side, total: usize, op: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let cpu = cpu_time();
    let began = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let op = Arc::clone(&op);
            tokio::spawn(async move {
                for i in (caller..total).step_by(CALLERS) {
                    op(i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a caller");
    }
    side.rates
        .push(total as f64 / began.elapsed().as_secs_f64());
    side.cpu_us
        .push(cpu_time().saturating_sub(cpu).as_secs_f64() * 1e6 / total as f64);
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn report(what: &str, ours: &Side, bare: &Side, unit: &str) {
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let least = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let rounded = |v: &[f64]| v.iter().map(|v| v.round()).collect::<Vec<_>>();
    println!(
        "{what}: tamarco {:.0} {unit}, bare {:.0} {unit}, ratio {:.3} (rounds: tamarco {:?}, bare {:?})",
        best(&ours.rates),
        best(&bare.rates),
        best(&ours.rates) / best(&bare.rates),
        rounded(&ours.rates),
        rounded(&bare.rates),
    );
    println!(
        "{what}: median tamarco {:.0} {unit}, bare {:.0} {unit}, median ratio {:.3}",
        median(&ours.rates),
        median(&bare.rates),
        median(&ours.rates) / median(&bare.rates),
    );
    if !ours.cpu_us.is_empty() {
        println!(
            "{what}: client CPU per op (least of the rounds) tamarco {:.1} us, bare {:.1} us",
            least(&ours.cpu_us),
            least(&bare.cpu_us),
        );
    }
}

async fn bench_postgres(rounds: usize) {
    let schema = Schema::create("bench").await;
    let (cx, db) = context(
        "db",
        Postgres::new(),
        schema.settings(json!({"pool_size": CALLERS, "sslmode": "disable"})),
    )
    .await;
    db.batch_execute(
        "CREATE TABLE kv (id INT PRIMARY KEY, v TEXT NOT NULL);
         INSERT INTO kv SELECT g, 'value ' || g FROM generate_series(0, 999) g",
    )
    .await
    .expect("the table");
    let mut pg = tokio_postgres::Config::new();
    pg.host("127.0.0.1")
        .port(5432)
        .user("postgres")
        .dbname("test")
        .options(format!("-c search_path={}", schema.name()));
    let manager = deadpool_postgres::Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let bare = deadpool_postgres::Pool::builder(manager)
        .max_size(CALLERS)
        .build()
        .expect("a pool");
    let sql = "SELECT id, v FROM kv WHERE id = $1";
    let (mut ours, mut theirs) = (Side::default(), Side::default());
    let queries = ops(PG_QUERIES);
    for _ in 0..rounds {
        let db = Arc::clone(&db);
        if runs("tamarco") {
            concurrently(&mut ours, queries, move |i| {
                let db = Arc::clone(&db);
                async move {
                    let id = (i % 1000) as i32;
                    let (got, _v): (i32, String) = db.fetch_one(sql, &[&id]).await.expect("a row");
                    assert_eq!(got, id);
                }
            })
            .await;
        }
        let bare = bare.clone();
        if runs("bare") {
            concurrently(&mut theirs, queries, move |i| {
                let bare = bare.clone();
                async move {
                    let id = (i % 1000) as i32;
                    let client = bare.get().await.expect("a connection");
                    let statement = client.prepare_cached(sql).await.expect("prepared");
                    let row = client.query_one(&statement, &[&id]).await.expect("a row");
                    let (got, _v): (i32, String) = (row.get(0), row.get(1));
                    assert_eq!(got, id);
                }
            })
            .await;
        }
    }
    report(
        "postgres SELECT by primary key",
        &ours,
        &theirs,
        "queries/s",
    );
    let mut cx = cx;
    cx.stop().await.expect("stops");
}

async fn bench_redis(rounds: usize) {
    let (cx, redis) = context("cache", Redis::new(), json!({})).await;
    let client = tamarco::redis::redis::Client::open("redis://127.0.0.1:6379").expect("a client");
    let bare = tamarco::redis::redis::aio::ConnectionManager::new(client)
        .await
        .expect("a connection");
    let (mut ours, mut theirs) = (Side::default(), Side::default());
    let pairs = ops(REDIS_PAIRS);
    for _ in 0..rounds {
        let redis = Arc::clone(&redis);
        if runs("tamarco") {
            concurrently(&mut ours, pairs, move |i| {
                let redis = Arc::clone(&redis);
                async move {
                    let key = format!("tamarco-bench:{}", i % 1000);
                    redis.set(&key, i).await.expect("SET");
                    let _: i64 = redis.get(&key).await.expect("GET");
                }
            })
            .await;
        }
        let bare = bare.clone();
        if runs("bare") {
            concurrently(&mut theirs, pairs, move |i| {
                let mut bare = bare.clone();
                async move {
                    use tamarco::redis::redis::AsyncCommands;
                    let key = format!("tamarco-bench:{}", i % 1000);
                    let () = bare.set(&key, i).await.expect("SET");
                    let _: i64 = bare.get(&key).await.expect("GET");
                }
            })
            .await;
        }
    }
    report("redis SET+GET pairs", &ours, &theirs, "pairs/s");
    let keys: Vec<String> = (0..1000).map(|i| format!("tamarco-bench:{i}")).collect();
    let _ = redis.del(&keys).await;
    let mut cx = cx;
    cx.stop().await.expect("stops");
}

fn point(i: usize) -> Point {
    Point::new("bench")
        .tag("host", format!("web-{}", i % 16))
        .field("value", i as f64 * 0.5)
        .field("count", i as i64)
        .at(1_600_000_000_000_000_000 + i as i64)
}

async fn bench_influx(rounds: usize) {
    let server = InfluxServer::start();
    let (cx, influx) = context(
        "influx",
        InfluxDb::new(),
        json!({"url": server.url(), "database": "bench", "batch_size": BATCH, "queue_size": POINTS, "flush_interval": 0.05}),
    )
    .await;
    let http = tamarco::http::client_builder().build().expect("a client");
    let url = format!("{}/write?db=bench&precision=ns", server.url());
    let (mut ours, mut theirs) = (Side::default(), Side::default());
    for _ in 0..rounds {
        let before = influx.written();
        let began = Instant::now();
        for i in 0..POINTS {
            influx.write(point(i)).expect("queued");
        }
        while influx.written() < before + POINTS as u64 {
            assert!(influx.dropped() == 0, "points dropped");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ours.rates
            .push(POINTS as f64 / began.elapsed().as_secs_f64());

        let began = Instant::now();
        for chunk in (0..POINTS).collect::<Vec<_>>().chunks(BATCH) {
            let mut body = String::new();
            for &i in chunk {
                body.push_str(&point(i).to_line());
                body.push('\n');
            }
            let response = http.post(&url).body(body).send().await.expect("sent");
            assert!(response.status().is_success(), "{}", response.status());
        }
        theirs
            .rates
            .push(POINTS as f64 / began.elapsed().as_secs_f64());
    }
    report("influxdb points", &ours, &theirs, "points/s");
    let mut cx = cx;
    cx.stop().await.expect("stops");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args.first().and_then(|n| n.parse().ok()).unwrap_or(3);
    let only = args.get(1..).unwrap_or_default();
    let run = |what: &str| only.is_empty() || only.iter().any(|o| o == what);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load.trim());
    if run("postgres") {
        bench_postgres(rounds).await;
    }
    if run("redis") {
        bench_redis(rounds).await;
    }
    if run("influxdb") {
        bench_influx(rounds).await;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.trim());
}
