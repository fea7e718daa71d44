//! Waking idle sessions, with the real binaries: sessions register through
//! their `pool-session-start` hook with an inbox socket (a listener standing
//! in for Claude Code's `CLAUDE_CODE_MESSAGING_SOCKET`), then `pool post`
//! runs and the test counts the lines each socket received.

// Unix only: the inbox is a Unix socket.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

struct World {
    tmp: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            tmp: tempfile::tempdir().unwrap(),
        };
        let pool = w.pool();
        std::fs::create_dir_all(&pool).unwrap();
        std::fs::set_permissions(&pool, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        w
    }

    fn pool(&self) -> PathBuf {
        self.tmp.path().join("pool")
    }

    /// A folder standing for a repository (outside git: its id is the folder).
    fn repo(&self, name: &str) -> PathBuf {
        let d = self.tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn run(
        &self,
        bin: &str,
        instance: &str,
        cwd: &Path,
        args: &[&str],
        stdin: &str,
        env: &[(&str, &Path)],
    ) {
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("POOL_DIR", self.pool())
            .env("CLAUDE_INSTANCE", instance)
            .current_dir(cwd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts a session of `instance` in `cwd` whose inbox is a fresh socket.
    fn session(&self, instance: &str, session: &str, cwd: &Path) -> UnixListener {
        let sock = self.tmp.path().join(format!("{session}.sock"));
        let listener = UnixListener::bind(&sock).unwrap();
        listener.set_nonblocking(true).unwrap();
        let input = json!({"session_id": session, "hook_event_name": "SessionStart",
                           "source": "startup", "cwd": cwd});
        self.run(
            env!("CARGO_BIN_EXE_pool-session-start"),
            instance,
            cwd,
            &[],
            &input.to_string(),
            &[("CLAUDE_CODE_MESSAGING_SOCKET", &sock)],
        );
        listener
    }

    fn post(&self, instance: &str, cwd: &Path, args: &[&str]) {
        let mut all = vec!["post"];
        all.extend_from_slice(args);
        self.run(env!("CARGO_BIN_EXE_pool"), instance, cwd, &all, "", &[]);
    }
}

/// The wake lines a fake inbox received so far.
fn received(l: &UnixListener) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok((mut conn, _)) = l.accept() {
        conn.set_nonblocking(false).unwrap();
        let mut s = String::new();
        conn.read_to_string(&mut s).unwrap();
        out.push(s);
    }
    out
}

/// 30 critical posts in a row wake each live session once, not 30 times;
/// the entries held back are named by the next wake after the interval.
#[test]
fn a_burst_of_critical_posts_wakes_each_session_once() {
    let w = World::new();
    let repo = w.repo("x");
    let b = w.session("B", "sess-b", &repo);
    let c = w.session("C", "sess-c", &repo);
    for i in 0..30 {
        w.post(
            "A",
            &repo,
            &["--topic", &format!("outage {i}"), "--priority", "critical"],
        );
    }
    let (got_b, got_c) = (received(&b), received(&c));
    assert_eq!(got_b.len(), 1, "{got_b:#?}");
    assert_eq!(got_c.len(), 1, "{got_c:#?}");
    assert!(got_b[0].contains("posted a critical entry"), "{}", got_b[0]);
    let log = std::fs::read_to_string(w.pool().join("wakes.log")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.ends_with("\tpending")).count(),
        2 * 29,
        "{log}"
    );
}
/// With one pool shared by two repositories, a handoff or critical entry
/// from X wakes only the sessions whose prompt would show it: not B's
/// session in Y (its pool-prompt scopes the entry out), unless a shared
/// scope in config.json joins the two.
#[test]
fn a_wake_reaches_only_sessions_that_would_be_shown_the_entry() {
    let w = World::new();
    let (x, y) = (w.repo("x"), w.repo("y"));
    let b_in_y = w.session("B", "sess-b-y", &y);
    let b_in_x = w.session("B", "sess-b-x", &x);
    w.post("A", &x, &["--topic", "take over", "--to", "B"]);
    assert_eq!(received(&b_in_x).len(), 1);
    assert!(
        received(&b_in_y).is_empty(),
        "woke a session in another repository"
    );
    let c_in_y = w.session("C", "sess-c-y", &y);
    w.post("A", &x, &["--topic", "outage", "--priority", "critical"]);
    assert!(
        received(&c_in_y).is_empty(),
        "critical woke another repository"
    );

    // A shared scope: Y's sessions see X's entries, so they are woken.
    let id = |d: &Path| claude_pool::env::repo::locate(d).id;
    std::fs::write(
        w.pool().join("config.json"),
        json!({"scopes": {"both": [id(&x), id(&y)]}}).to_string(),
    )
    .unwrap();
    w.post("A", &x, &["--topic", "outage 2", "--priority", "critical"]);
    assert_eq!(received(&c_in_y).len(), 1);
}
