//! `pool dashboard` as a server, over raw sockets: a slow or silent client
//! holds no one else up (issue 22 §5), event-stream slots come back when
//! their clients go away, and `--allow-host` takes the forms a person copies.
//! The page itself is tested in a real browser by tests/browser/run.sh.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POOL: &str = env!("CARGO_BIN_EXE_pool");

struct Dashboard {
    child: Child,
    port: u16,
    token: String,
    _tmp: tempfile::TempDir,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Dashboard {
    start_with(args, |_| {})
}

/// [`start`] on a pool `fill` wrote first.
fn start_with(args: &[&str], fill: impl FnOnce(&std::path::Path)) -> Dashboard {
    let tmp = tempfile::tempdir().unwrap();
    let pool = tmp.path().join("pool");
    std::fs::create_dir_all(&pool).unwrap();
    fill(&pool);
    let mut child = Command::new(POOL)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", tmp.path())
        .env("POOL_DIR", &pool)
        .current_dir(tmp.path())
        .arg("dashboard")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL printed: {line:?}"));
    let rest = url.trim_start_matches("http://127.0.0.1:");
    let (port, token) = rest.split_once("/?token=").unwrap();
    Dashboard {
        child,
        port: port.parse().unwrap(),
        token: token.to_string(),
        _tmp: tmp,
    }
}

impl Dashboard {
    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }

    /// Sends one request (with `Connection: close`) and reads the whole answer.
    fn get(&self, path: &str, host: &str) -> String {
        let mut s = self.connect();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Pool-Token: {}\r\nConnection: close\r\n\r\n",
            self.token
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn status(&self, path: &str) -> String {
        self.get(path, &format!("127.0.0.1:{}", self.port))
    }
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

#[test]
fn a_post_that_never_sends_its_body_blocks_no_other_request() {
    let d = start(&[]);
    // No token, a 64 KiB body promised, nothing sent: the old server read
    // it on its only thread, with no timeout.
    let mut stalled = d.connect();
    write!(
        stalled,
        "POST /api/post HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n",
        d.port
    )
    .unwrap();
    stalled.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A second one, chunked, that stops in the middle of a chunk.
    let mut trickle = d.connect();
    write!(
        trickle,
        "POST /api/ack HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n{{\"id\"",
        d.port
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let answer = d.status("/api/state");
    let took = asked.elapsed();
    assert!(status_line(&answer).starts_with("HTTP/1.1 200"), "{answer}");
    // Not a speed test: only that the answer did not wait for the stalled
    // requests to be given up (10 s), as it waited 34 s before.
    assert!(
        took < Duration::from_secs(8),
        "a normal request waited {took:?} behind a stalled one"
    );
    // The stalled client is given up, and its connection closed, in time.
    let mut rest = Vec::new();
    let given_up = Instant::now();
    let _ = stalled.read_to_end(&mut rest);
    assert!(given_up.elapsed() < Duration::from_secs(30));
    drop(trickle);
}

#[test]
fn a_body_larger_than_allowed_is_refused_without_being_read() {
    let d = start(&[]);
    let mut s = d.connect();
    write!(
        s,
        "POST /api/post HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Pool-Token: {}\r\nContent-Length: 100000000\r\n\r\n",
        d.port, d.token
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(status_line(&out).starts_with("HTTP/1.1 413"), "{out}");
}

#[test]
fn event_stream_slots_come_back_when_their_clients_go_away() {
    let d = start(&[]);
    let open = |d: &Dashboard| {
        let mut s = d.connect();
        write!(
            s,
            "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Pool-Token: {}\r\n\r\n",
            d.port, d.token
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        (s, String::from_utf8_lossy(&head).into_owned())
    };
    let mut streams = Vec::new();
    for _ in 0..40 {
        streams.push(open(&d));
    }
    let ok = streams.iter().filter(|(_, h)| h.ends_with("200")).count();
    assert_eq!(ok, 32, "at most 32 streams at once");
    assert!(streams.iter().any(|(_, h)| h.ends_with("503")));
    drop(streams);
    // The slots are freed as soon as the server sees the clients gone (its
    // next poll of the log), not at the second keep-alive after (30 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_s, head) = open(&d);
        if head.ends_with("200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a new stream is still refused ({head}) 10 s after every client left"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn allow_host_takes_the_name_with_a_port_or_the_url_a_person_copies() {
    for form in ["devbox:9000", "http://devbox:9000", "http://devbox:9000/"] {
        let d = start(&["--allow-host", form]);
        let answer = d.get("/api/state", "devbox:9000");
        assert!(
            status_line(&answer).starts_with("HTTP/1.1 200"),
            "--allow-host {form}: {answer}"
        );
        let other = d.get("/api/state", "evil.example:9000");
        assert!(status_line(&other).starts_with("HTTP/1.1 403"), "{other}");
    }
    // What is no host name is refused at the start, saying what to give.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(POOL)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", tmp.path())
        .env("POOL_DIR", tmp.path())
        .args(["dashboard", "--allow-host", "devbox:port"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("devbox:9000"), "{err}");
}

/// Issue 24: on a busy pool one snapshot keeps the newest 10,000 open
/// claims and says, in `left_out`, what it did not read.
#[test]
fn a_snapshot_of_a_busy_pool_is_bounded_and_says_what_it_left_out() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let d = start_with(&[], |pool| {
        let mut log = String::new();
        for i in 0..10_500 {
            log.push_str(&format!(
                "{{\"id\":\"c{i}\",\"timestamp\":{},\"source_instance\":\"I{:02}\",\"session_id\":\"s\",\"action\":\"claimed\",\"topic\":\"Work item {i}\",\"affects\":\"src/f{i}.rs\",\"ttl\":14400,\"cwd\":\"/tmp/x\"}}\n",
                now - 1200 + i / 10,
                i % 20
            ));
        }
        std::fs::write(pool.join("instance_state.jsonl"), log).unwrap();
    });
    let answer = d.status("/api/state?repo=all");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let snap: serde_json::Value = serde_json::from_str(body).unwrap();
    let left = snap["left_out"].as_array().expect("a left_out list");
    assert!(
        left.iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("busy pool: the newest 10000 open claims kept; claims older than ")),
        "{left:?}"
    );
    let kept: u64 = snap["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["claims_total"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(kept, 10_000, "{body}");
}
