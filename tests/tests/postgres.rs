//! The Postgres resource against the machine's PostgreSQL (127.0.0.1:5432, trust auth,
//! database `test`). Each test works in a schema of its own, dropped at its end, so they run
//! in parallel. Resources run in a `MicroserviceContext`: no report server, no signals.

use std::sync::Arc;
use std::time::Duration;

use tamarco::postgres::{Error, Migration, Postgres, Queries};
use tamarco::serde::Deserialize;
use tamarco::serde_json::{Value, json};
use tamarco::tokio::time::{Instant, timeout};
use tamarco::{BoxError, MicroserviceContext, Resource, error_chain, tokio};
use tamarco_tests::postgres::{SERVER, Schema};
use tamarco_tests::proxy::TcpProxy;
use tamarco_tests::unreachable::start_fails_when_unreachable;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Person {
    id: i32,
    name: String,
    nickname: Option<String>,
}

/// A context named `pg_test` with one resource `db` and these settings for it.
fn context(db: Postgres, settings: Value) -> (MicroserviceContext, Arc<Postgres>) {
    let mut cx = MicroserviceContext::new("pg_test");
    cx.settings()
        .set_internal("system.resources.db", settings)
        .expect("valid settings");
    let db = cx.add("db", db);
    (cx, db)
}

async fn started(db: Postgres, settings: Value) -> (MicroserviceContext, Arc<Postgres>) {
    let (mut cx, db) = context(db, settings);
    timeout(Duration::from_secs(20), cx.start())
        .await
        .expect("starts in time")
        .expect("starts");
    (cx, db)
}

async fn stop(mut cx: MicroserviceContext) {
    timeout(Duration::from_secs(20), cx.stop())
        .await
        .expect("stops in time")
        .expect("stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_queries_read_rows_into_structs_tuples_and_values() {
    let schema = Schema::create("rows").await;
    let (cx, db) = started(Postgres::new(), schema.settings(json!({}))).await;
    db.execute(
        "CREATE TABLE my_table (id INT PRIMARY KEY, name TEXT NOT NULL, nickname TEXT, tags TEXT[], doc JSONB)",
        &[],
    )
    .await
    .unwrap();
    let inserted = db
        .execute(
            "INSERT INTO my_table (id, name, tags, doc) VALUES ($1, $2, $3, $4), (2, 'Jane', NULL, NULL)",
            &[&1_i32, &"John Doe", &vec!["a", "b"], &json!({"k": [1, 2]})],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 2);

    let people: Vec<Person> = db
        .fetch("SELECT id, name, nickname FROM my_table ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(
        people,
        [
            Person {
                id: 1,
                name: "John Doe".into(),
                nickname: None
            },
            Person {
                id: 2,
                name: "Jane".into(),
                nickname: None
            },
        ]
    );
    let (name, tags, doc): (String, Vec<String>, Value) = db
        .fetch_one(
            "SELECT name, tags, doc FROM my_table WHERE id = $1",
            &[&1_i32],
        )
        .await
        .unwrap();
    assert_eq!(
        (name.as_str(), tags, doc),
        (
            "John Doe",
            vec!["a".to_owned(), "b".to_owned()],
            json!({"k": [1, 2]})
        )
    );
    let count: i64 = db
        .fetch_one("SELECT count(*) FROM my_table", &[])
        .await
        .unwrap();
    assert_eq!(count, 2);
    let missing: Option<Person> = db
        .fetch_opt("SELECT id, name, nickname FROM my_table WHERE id = 99", &[])
        .await
        .unwrap();
    assert_eq!(missing, None);
    let none = db
        .fetch_one::<i32>("SELECT id FROM my_table WHERE id = 99", &[])
        .await
        .unwrap_err();
    assert!(matches!(none, Error::NoRow { .. }), "{none:?}");
    // A type the rows do not read names the column and the way out.
    let error = db
        .fetch_one::<Value>("SELECT now() AS created", &[])
        .await
        .unwrap_err();
    let message = error_chain(&error);
    assert!(
        message.contains("`created`") && message.contains("::text"),
        "{message}"
    );
    // A server error keeps its SQLSTATE.
    let duplicate = db
        .execute("INSERT INTO my_table (id, name) VALUES (1, 'again')", &[])
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Some("23505"));
    // A table altered under a cached statement: the statement is prepared again.
    db.batch_execute("ALTER TABLE my_table ADD COLUMN extra INT")
        .await
        .unwrap();
    let wide: Vec<Value> = db
        .fetch("SELECT * FROM my_table ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(wide[0]["extra"], Value::Null);
    stop(cx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_commits_on_ok_and_rolls_back_on_error_and_on_panic() {
    let schema = Schema::create("tx").await;
    let (cx, db) = started(Postgres::new(), schema.settings(json!({"pool_size": 2}))).await;
    db.execute("CREATE TABLE t (n INT NOT NULL)", &[])
        .await
        .unwrap();

    let committed: i32 = db
        .transaction(|tx| async move {
            tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
            Ok::<_, BoxError>(1)
        })
        .await
        .unwrap();
    assert_eq!(committed, 1);

    let failed = db
        .transaction(|tx| async move {
            tx.execute("INSERT INTO t VALUES (2)", &[]).await?;
            Err::<(), BoxError>("the handler gave up".into())
        })
        .await
        .unwrap_err();
    assert_eq!(failed.to_string(), "the handler gave up");

    let handle = db.clone();
    let panicked = tokio::spawn(async move {
        handle
            .transaction(|tx| async move {
                tx.execute("INSERT INTO t VALUES (3)", &[]).await?;
                panic!("a bug in the middle of a transaction");
                #[allow(unreachable_code)]
                Ok::<(), BoxError>(())
            })
            .await
    })
    .await;
    assert!(panicked.unwrap_err().is_panic(), "the panic carries on");

    let kept: Vec<i32> = db.fetch("SELECT n FROM t ORDER BY n", &[]).await.unwrap();
    assert_eq!(kept, [1], "only the committed row stays");
    // Every connection went back to the pool outside a transaction.
    let client = tamarco_tests::postgres::connect().await;
    let stuck: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_test' \
             AND state LIKE 'idle in transaction%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stuck, 0,
        "a pooled connection was left inside a transaction"
    );
    stop(cx).await;
}

fn migrations() -> [Migration; 2] {
    tamarco::postgres::migrations!["migrations/001_people.sql", "migrations/002_seed.sql"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_migrating_at_once_apply_each_migration_once() {
    let schema = Schema::create("migrate").await;
    let (mut first, a) = context(
        Postgres::new().with_migrations(migrations()),
        schema.settings(json!({})),
    );
    let (mut second, b) = context(
        Postgres::new().with_migrations(migrations()),
        schema.settings(json!({})),
    );
    let (one, two) = tokio::join!(first.start(), second.start());
    one.expect("the first instance starts");
    two.expect("the second instance starts");

    let recorded: Vec<String> = a
        .fetch("SELECT name FROM tamarco_migrations ORDER BY name", &[])
        .await
        .unwrap();
    assert_eq!(recorded, ["001_people.sql", "002_seed.sql"]);
    let seeded: i64 = b
        .fetch_one("SELECT count(*) FROM seeded", &[])
        .await
        .unwrap();
    assert_eq!(seeded, 1, "002 ran once");
    let applied: Vec<Value> = [&a, &b]
        .iter()
        .map(|db| db.status_fields()["migrations_applied"].clone())
        .collect();
    assert!(
        applied.contains(&json!(["001_people.sql", "002_seed.sql"]))
            && applied.contains(&json!([])),
        "one instance applied both, the other none: {applied:?}"
    );
    stop(first).await;
    stop(second).await;

    // A third start finds them applied; a broken one stops the start, naming its file.
    let (again, _) = started(
        Postgres::new().with_migrations(migrations()),
        schema.settings(json!({})),
    )
    .await;
    stop(again).await;
    let broken = Postgres::new()
        .with_migrations(migrations())
        .with_migrations([Migration::new(
            "003_broken.sql",
            include_str!("migrations/003_broken.sql"),
        )]);
    let (mut cx, _) = context(broken, schema.settings(json!({})));
    let error = error_chain(&cx.start().await.unwrap_err());
    assert!(
        error.contains("`db`") && error.contains("`003_broken.sql`"),
        "{error}"
    );
    assert!(
        error.contains("no_such_table"),
        "the server's reason is kept: {error}"
    );
    let client = tamarco_tests::postgres::connect().await;
    let rolled_back = client
        .query(
            "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'broken'",
            &[&schema.name()],
        )
        .await
        .unwrap();
    assert!(
        rolled_back.is_empty(),
        "the failed migration left nothing behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_the_start_in_time_naming_resource_host_and_port() {
    start_fails_when_unreachable("db", json!({}), |settings| {
        context(Postgres::new(), settings)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_network_cut_only_the_queries_in_flight_fail() {
    let schema = Schema::create("cut").await;
    let proxy = TcpProxy::start(SERVER).await;
    let settings = schema.settings(json!({
        "host": "127.0.0.1", "port": proxy.port(), "pool_size": 8, "verify_idle_after": 0.2,
    }));
    let (cx, db) = started(Postgres::new(), settings).await;
    // Fill the pool with idle connections.
    let warm: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                db.fetch_one::<i32>("SELECT 1 FROM pg_sleep(0.05)", &[])
                    .await
            })
        })
        .collect();
    for query in warm {
        query.await.unwrap().unwrap();
    }
    assert_eq!(db.pool_usage().0, 8);
    // Idle longer than `verify_idle_after`: each is checked before its next use.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Three queries in flight when the network drops.
    let in_flight: Vec<_> = (0..3)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.execute("SELECT pg_sleep(5)", &[]).await })
        })
        .collect();
    timeout(Duration::from_secs(5), async {
        while db.pool_usage().1 < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("three queries running");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        proxy.cut(),
        8,
        "every pooled connection went through the proxy"
    );
    for query in in_flight {
        let error = timeout(Duration::from_secs(5), query)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert!(matches!(error, Error::Query { .. }), "{error:?}");
    }
    // Every later caller succeeds: dead pooled connections are replaced, not handed out.
    for n in 0..20_i32 {
        let echoed: i32 = db.fetch_one("SELECT $1::int", &[&n]).await.unwrap();
        assert_eq!(echoed, n);
    }
    let fields = db.status_fields();
    assert_eq!(fields["errors"], json!(3), "{fields:?}");
    assert!(fields["last_error"].as_str().unwrap().contains("`db`"));
    stop(cx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_queries_in_flight_and_then_refuses_new_ones() {
    let schema = Schema::create("stop").await;
    let (cx, db) = started(
        Postgres::new(),
        schema.settings(json!({"statement_timeout": 0.3})),
    )
    .await;
    // The statement timeout applies to every connection.
    let slow = db.execute("SELECT pg_sleep(2)", &[]).await.unwrap_err();
    assert_eq!(slow.code(), Some("57014"), "{slow:?}");

    let held = db.connection().await.unwrap();
    let fields = db.status_fields();
    assert_eq!(fields["pool"]["in_use"], json!(1), "{fields:?}");
    let running = tokio::spawn(async move { held.execute("SELECT pg_sleep(0.2)", &[]).await });
    let began = Instant::now();
    stop(cx).await;
    assert!(
        began.elapsed() >= Duration::from_millis(100),
        "stop did not wait"
    );
    running
        .await
        .unwrap()
        .expect("the query in flight finished");
    let refused = db.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(refused, Error::NotStarted { .. }), "{refused:?}");
}
