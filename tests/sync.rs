//! `pool sync` against a real `redis-server` (Debian's package; `.ci/run`
//! installs it). Each test starts its own server on a free loopback port in
//! a temp folder, with a password and the AOF on, and stops it by its PID.
//! Pool folders in temp dirs stand in for machines.
//!
//! Run with `cargo test --features sync-redis --test sync`.
#![cfg(feature = "sync-redis")]

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use claude_pool::store::entry::Entry;
use claude_pool::store::log::{Pool, read_all};

const PASSWORD: &str = "pw-9f3b1c-not-printed";
const STREAM: &str = "test-pool";

fn free_port() -> u16 {
    // Redis cannot listen on port 0: borrow a free port from the kernel.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Server {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut s = Server {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir.path().to_str().unwrap(),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--requirepass",
                PASSWORD,
                "--daemonize",
                "no",
                "--logfile",
                "redis.log",
            ])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (apt-get install redis-server)");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(mut c) = self.try_con()
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server did not come up on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn try_con(&self) -> redis::RedisResult<redis::Connection> {
        let c = redis::Client::open(format!("redis://:{PASSWORD}@127.0.0.1:{}", self.port))?;
        c.get_connection_with_timeout(Duration::from_secs(2))
    }

    fn con(&self) -> redis::Connection {
        self.try_con().unwrap()
    }

    fn xlen(&self) -> u64 {
        redis::cmd("XLEN")
            .arg(STREAM)
            .query(&mut self.con())
            .unwrap()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the PID of a child we started.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: as above.
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal(libc::SIGCONT);
        }
        self.kill9();
    }
}

struct Machine {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    dir: PathBuf,
    name: String,
}

impl Machine {
    fn new(name: &str, url: &str, extra: &str) -> Machine {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let dir = tmp.path().join("pool");
        Pool::open(dir.clone()).unwrap();
        let config = format!(
            r#"{{"sync": {{"url": "{url}", "stream": "{STREAM}", "password_env": "TEST_SYNC_PW"{extra}}}}}"#
        );
        std::fs::write(dir.join("config.json"), config).unwrap();
        Machine {
            _tmp: tmp,
            home,
            dir,
            name: name.to_string(),
        }
    }

    fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", self.home.join(".claude"))
            .env("POOL_DIR", &self.dir)
            .env("CLAUDE_INSTANCE", &self.name)
            .env("TEST_SYNC_PW", PASSWORD)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        c
    }

    fn pool(&self, args: &[&str]) -> Output {
        self.cmd(env!("CARGO_BIN_EXE_pool"))
            .args(args)
            .output()
            .unwrap()
    }

    fn sync(&self) -> Output {
        self.pool(&["sync"])
    }

    fn sync_ok(&self) -> String {
        let out = self.sync();
        assert!(
            out.status.success(),
            "{}: pool sync failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the Stop hook on an empty event; returns its exit code and time.
    fn stop_hook(&self) -> (i32, Duration) {
        let start = Instant::now();
        let mut child = self
            .cmd(env!("CARGO_BIN_EXE_pool-stop"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"{}").unwrap();
        let status = child.wait().unwrap();
        (status.code().unwrap_or(-1), start.elapsed())
    }

    /// Appends `n` entries with fresh ids `<name>-<k>`.
    fn post_many(&self, n: usize) {
        let now = chrono::Utc::now().timestamp();
        let from = self.entries().len();
        let entries: Vec<Entry<'static>> = (from..from + n)
            .map(|i| Entry {
                id: format!("{}-{i}", self.name).into(),
                timestamp: now,
                source_instance: self.name.clone().into(),
                action: "completed".into(),
                topic: format!("entry {i} of {}", self.name).into(),
                host: format!("host-{}", self.name).into(),
                ..Entry::default()
            })
            .collect();
        Pool::open(self.dir.clone())
            .unwrap()
            .append(&entries, now)
            .unwrap();
    }

    fn entries(&self) -> Vec<Entry<'static>> {
        read_all(&self.dir.join("instance_state.jsonl")).unwrap().0
    }

    /// Ids in the log; fails the test when one appears twice.
    fn ids(&self) -> HashSet<String> {
        let mut set = HashSet::new();
        for e in self.entries() {
            assert!(
                set.insert(e.id.to_string()),
                "{}: {} twice",
                self.name,
                e.id
            );
        }
        set
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("sync.json")).unwrap()).unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn three_machines_converge() {
    let server = Server::start(&[]);
    let ms: Vec<Machine> = ["A", "B", "C"]
        .iter()
        .map(|n| Machine::new(n, &server.url(), ""))
        .collect();
    for m in &ms {
        for i in 0..3 {
            let out = m.pool(&["post", "--topic", &format!("{} did {i}", m.name)]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
    }
    for m in ms.iter().chain(&ms[..2]) {
        m.sync_ok();
    }
    let want = ms[0].ids();
    assert_eq!(want.len(), 9);
    for m in &ms {
        assert_eq!(m.ids(), want, "{} differs", m.name);
        for e in m.entries() {
            let own = e.source_instance == m.name.as_str();
            assert_eq!(e.received.is_none(), own, "{}: {e:?}", m.name);
            assert!(!e.host.is_empty());
        }
    }
    assert_eq!(server.xlen(), 9, "pulled entries are not pushed back");
}

#[test]
fn duplicates_stay_single() {
    let server = Server::start(&[]);
    let a = Machine::new("A", &server.url(), "");
    let b = Machine::new("B", &server.url(), "");
    let c = Machine::new("C", &server.url(), "");
    a.post_many(20);
    b.post_many(5);
    for m in [&a, &b, &c, &a] {
        m.sync_ok();
    }
    assert_eq!(server.xlen(), 25);
    // Cursor reset: B reads the whole stream again.
    std::fs::remove_file(b.dir.join("sync.json")).unwrap();
    let out = b.sync_ok();
    assert!(out.contains("pulled 0 new of 25 read"), "{out}");
    assert_eq!(b.ids().len(), 25);
    // Push offset reset: A sends everything again; the server adds nothing.
    std::fs::remove_file(a.dir.join("sync.json")).unwrap();
    let out = a.sync_ok();
    assert!(out.contains("pushed 0 new of 20 sent"), "{out}");
    // The same entry written on two machines (a copied pool folder).
    let line = std::fs::read_to_string(a.dir.join("instance_state.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(c.dir.join("instance_state.jsonl"))
        .unwrap();
    writeln!(f, "{line}").unwrap();
    c.sync_ok();
    assert_eq!(server.xlen(), 25);
    for m in [&a, &b] {
        m.sync_ok();
        assert_eq!(m.ids().len(), 25);
    }
}

#[test]
fn server_killed_mid_push_then_restarted_loses_and_doubles_nothing() {
    let mut server = Server::start(&[]);
    let a = Machine::new("A", &server.url(), "");
    let b = Machine::new("B", &server.url(), "");
    let total = 6000;
    a.post_many(total);
    let push = a
        .cmd(env!("CARGO_BIN_EXE_pool"))
        .arg("sync")
        .env("POOL_SYNC_BATCH", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("a good part of the push", Duration::from_secs(20), || {
        server.xlen() >= 1000
    });
    server.kill9();
    let out = push.wait_with_output().unwrap();
    let at_kill = a.state()["push"]["offset"].as_u64().unwrap_or(0);
    let log_len = std::fs::metadata(a.dir.join("instance_state.jsonl"))
        .unwrap()
        .len();
    eprintln!("push offset when the server died: {at_kill} of {log_len}");
    assert!(at_kill < log_len);
    assert!(!out.status.success(), "the pass cannot have finished");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("pool sync: "), "{err}");
    server.spawn();
    a.sync_ok();
    assert_eq!(server.xlen(), total as u64);
    b.sync_ok();
    assert_eq!(b.ids().len(), total);
}

#[test]
fn server_killed_mid_pull_then_restarted_loses_and_doubles_nothing() {
    let mut server = Server::start(&[]);
    let a = Machine::new("A", &server.url(), "");
    let b = Machine::new("B", &server.url(), "");
    let total = 6000;
    a.post_many(total);
    a.sync_ok();
    let pull = b
        .cmd(env!("CARGO_BIN_EXE_pool"))
        .arg("sync")
        .env("POOL_SYNC_BATCH", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = b.dir.join("instance_state.jsonl");
    wait_until("a good part of the pull", Duration::from_secs(20), || {
        std::fs::metadata(&log).is_ok_and(|m| m.len() > 100_000)
    });
    server.kill9();
    let out = pull.wait_with_output().unwrap();
    assert!(!out.status.success(), "the pass cannot have finished");
    let partial = b.ids().len();
    eprintln!("entries pulled when the server died: {partial}");
    assert!(partial < total);
    server.spawn();
    b.sync_ok();
    assert_eq!(b.ids().len(), total);
    // And once more from the stream's start: still single.
    std::fs::remove_file(b.dir.join("sync.json")).unwrap();
    b.sync_ok();
    assert_eq!(b.ids().len(), total);
}

/// Redis 7.0.x with the default user disabled dropped script-written
/// entries on AOF replay after a crash; we keep it enabled with a password.
#[test]
fn script_written_entries_survive_a_crash_and_aof_replay() {
    let mut server = Server::start(&[]);
    let a = Machine::new("A", &server.url(), "");
    a.post_many(50);
    a.sync_ok();
    server.kill9();
    server.spawn();
    assert_eq!(server.xlen(), 50);
    // The ids the script remembered survived too: a full re-push adds nothing.
    std::fs::remove_file(a.dir.join("sync.json")).unwrap();
    let out = a.sync_ok();
    assert!(out.contains("pushed 0 new of 50 sent"), "{out}");
    assert_eq!(server.xlen(), 50);
}

fn assert_fails_fast(m: &Machine, limit: Duration, why: &str) {
    let start = Instant::now();
    let out = m.sync();
    let took = start.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < limit, "pool sync took {took:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("pool sync: ") && err.contains(why), "{err}");
    assert!(!err.contains(PASSWORD));
    // Hooks do not wait on the network.
    let (code, took) = m.stop_hook();
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(1), "pool-stop took {took:?}");
    let doctor = m.pool(&["doctor"]);
    let text = String::from_utf8_lossy(&doctor.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with("warn  sync") && l.contains("the last pass failed")),
        "{text}"
    );
    assert!(!text.contains(PASSWORD));
}

#[test]
fn a_server_refusing_connections_fails_fast_and_hooks_are_unaffected() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let a = Machine::new("A", &url, "");
    a.post_many(3);
    assert_fails_fast(&a, Duration::from_secs(3), "connection refused");
}

#[test]
fn a_hung_server_fails_within_the_deadline_and_hooks_are_unaffected() {
    let server = Server::start(&[]);
    let a = Machine::new("A", &server.url(), "");
    a.post_many(3);
    a.sync_ok();
    a.post_many(4);
    server.signal(libc::SIGSTOP);
    assert_fails_fast(&a, Duration::from_secs(5), "no answer within 2s");
    server.signal(libc::SIGCONT);
    a.sync_ok();
    assert_eq!(server.xlen(), 7);
}

#[test]
fn a_retention_gap_is_counted_and_reported() {
    let server = Server::start(&["--stream-node-max-entries", "5"]);
    let a = Machine::new("A", &server.url(), r#", "maxlen": 10"#);
    let b = Machine::new("B", &server.url(), r#", "maxlen": 10"#);
    let c = Machine::new("C", &server.url(), r#", "maxlen": 10"#);
    c.post_many(1);
    c.sync_ok();
    b.sync_ok();
    a.post_many(100);
    a.sync_ok();
    let len = server.xlen();
    assert!(len < 100, "the stream kept {len}");
    let out = b.sync_ok();
    let missed = 100 - len;
    assert!(
        out.contains(&format!(
            "{missed} entries from other machines never reached it"
        )),
        "{out}"
    );
    assert_eq!(b.state()["gap"]["missed"].as_u64(), Some(missed));
    assert_eq!(b.ids().len(), 1 + len as usize);
    let doctor = String::from_utf8_lossy(&b.pool(&["doctor"]).stdout).into_owned();
    assert!(
        doctor.contains("entries were missed while offline"),
        "{doctor}"
    );
    assert!(doctor.contains(&format!("{missed} entries")), "{doctor}");
    let mut child = b
        .cmd(env!("CARGO_BIN_EXE_pool-session-start"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let start = String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned();
    assert!(
        start.contains("Pool sync: this machine was offline"),
        "{start}"
    );
    // The next pass has nothing more to say.
    let out = b.sync_ok();
    assert!(!out.contains("never reached"), "{out}");
}

#[test]
fn the_stop_hook_starts_a_background_sync() {
    let server = Server::start(&[]);
    let a = Machine::new("A", &server.url(), "");
    a.post_many(2);
    let (code, took) = a.stop_hook();
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(1), "pool-stop took {took:?}");
    wait_until("the background pass", Duration::from_secs(10), || {
        server.xlen() == 2
    });
    // Within a few seconds of it, the hook starts no other pass.
    a.post_many(3);
    a.stop_hook();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.xlen(), 2);
}
