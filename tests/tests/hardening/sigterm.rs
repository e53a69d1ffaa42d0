//! A SIGTERM under keep-alive load: every request the server read is answered.

use super::*;

/// What happened to the requests of one client of the load.
#[derive(Debug, Default)]
struct Tally {
    /// Ids answered 200.
    answered: Vec<String>,
    /// Ids sent on a connection that then failed, with the error.
    failed: Vec<(String, String)>,
    /// Ids answered with another status.
    bad_status: Vec<(String, u16)>,
}

/// One client of the load: keep-alive connections, a new one whenever the server closes one,
/// until a connection is refused (the server is gone) or `deadline`.
fn load(addr: SocketAddr, client: usize, deadline: Instant, tally: Arc<Mutex<Tally>>) {
    let mut connection: Option<KeepAlive> = None;
    for n in 0.. {
        if Instant::now() > deadline {
            return;
        }
        let id = format!("c{client}-{n}");
        let current = match connection.as_mut() {
            Some(current) => current,
            None => match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(stream) => connection.insert(KeepAlive::over(stream)),
                Err(_) => return,
            },
        };
        match current.get("/work?ms=20", &id) {
            Ok(200) => tally.lock().unwrap().answered.push(id),
            Ok(status) => tally.lock().unwrap().bad_status.push((id, status)),
            Err(error) => {
                tally.lock().unwrap().failed.push((id, error.to_string()));
                connection = None;
            }
        }
    }
}

#[test]
fn sigterm_under_load_answers_every_request_the_server_read() {
    let seen_file = std::env::temp_dir().join(format!("http_probe_seen_{}", std::process::id()));
    let seen_path = seen_file.to_str().unwrap().to_owned();
    let mut probe = Probe::spawn_with(
        HTTP_PROBE,
        "",
        &[("PROBE_GRACE", "10"), ("PROBE_SEEN_FILE", &seen_path)],
    );
    let http = http_addr(&mut probe);
    probe.wait_for_line("started service=\"http_probe\"", Duration::from_secs(10));

    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let tally = Arc::clone(&tally);
            std::thread::spawn(move || load(http, client, deadline, tally))
        })
        .collect();
    let waited = Instant::now();
    while tally.lock().unwrap().answered.len() < 200 {
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "the load never got going: {:?}",
            tally.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let before = tally.lock().unwrap().answered.len();
    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(20));
    for client in clients {
        client.join().unwrap();
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let seen = std::fs::read_to_string(&seen_file).expect("the probe wrote the ids it read");
    let _ = std::fs::remove_file(&seen_file);
    let seen: HashSet<&str> = seen.lines().collect();
    let answered: HashSet<&str> = tally.answered.iter().map(String::as_str).collect();
    let lost: Vec<&&str> = seen.difference(&answered).collect();
    println!(
        "SIGTERM under load: {} requests read by the server, {} answered ({before} before the \
         signal), {} lost, {} not read (their connection closed), exit code {code}, stop took {took:?}",
        seen.len(),
        answered.len(),
        lost.len(),
        tally.failed.len(),
    );
    assert_eq!(code, 0, "{lines:#?}");
    assert!(lost.is_empty(), "read but not answered: {lost:?}");
    assert!(tally.bad_status.is_empty(), "{:?}", tally.bad_status);
    for (id, error) in &tally.failed {
        assert!(
            !seen.contains(id.as_str()),
            "{id} was read, yet its connection failed: {error}"
        );
    }
    assert!(
        took < Duration::from_secs(5),
        "the stop took {took:?} of a 10 s grace period"
    );
}
