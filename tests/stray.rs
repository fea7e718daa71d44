//! Stray lines in the log (issue 12, part 1), end to end with the real
//! binaries: lines other programs appended — stamped hours ago, without a
//! timestamp, in naive local time, dated in the future, copied from another
//! pool — must not hide live entries from any reader, nor make a writer post
//! a block twice, nor live past their TTL.
#![cfg(unix)]

mod common;
use common::{exe, make_pool, now};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let s = Sandbox {
            tmp: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(s.repo().join("src")).unwrap();
        s
    }

    fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    fn pool(&self) -> PathBuf {
        self.tmp.path().join("pool")
    }

    fn log(&self) -> PathBuf {
        self.pool().join("instance_state.jsonl")
    }

    fn run(&self, bin: &str, instance: &str, args: &[&str], stdin: &str) -> Output {
        if bin == "pool" && args.first() == Some(&"post") {
            make_pool(&self.pool());
        }
        let mut cmd = Command::new(exe(bin));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("POOL_DIR", self.pool())
            .env("CLAUDE_INSTANCE", instance)
            .current_dir(self.repo())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `pool doctor`'s report (it exits 1 here: no hooks are registered).
    #[cfg(unix)]
    fn doctor(&self, args: &[&str]) -> String {
        let out = Command::new(exe("pool"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("POOL_DIR", self.pool())
            .arg("doctor")
            .args(args)
            .current_dir(self.repo())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    fn text(&self, bin: &str, instance: &str, args: &[&str], stdin: &str) -> String {
        String::from_utf8(self.run(bin, instance, args, stdin).stdout).unwrap()
    }

    fn hook(&self, bin: &str, instance: &str, session: &str, event: &str) -> String {
        let input = json!({"session_id": session, "hook_event_name": event, "source": "startup",
                           "prompt": "go", "cwd": self.repo()});
        self.text(bin, instance, &[], &input.to_string())
    }

    fn guard(&self, instance: &str, file: &Path) -> String {
        let input = json!({"session_id": "g", "hook_event_name": "PreToolUse", "tool_name": "Edit",
                           "tool_input": {"file_path": file, "old_string": "a", "new_string": "b"},
                           "cwd": self.repo()});
        self.text("pool-guard", instance, &[], &input.to_string())
    }

    fn append_raw(&self, text: &str) {
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.log())
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
}

/// The kinds of stray line the issue names, as they come from real life.
fn stray_lines(n: usize) -> String {
    let two_hours_ago = now() - 7200;
    // Naive local time from a machine eight hours west of UTC: read as UTC,
    // it looks eight hours old.
    let naive_west = chrono::DateTime::from_timestamp(now() - 8 * 3600, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut out = String::new();
    for i in 0..n {
        let line = match i % 3 {
            0 => {
                json!({"id": format!("old-{i}"), "timestamp": two_hours_ago, "source_instance": "X",
                        "action": "completed", "topic": "restored from a backup"})
                .to_string()
            }
            1 => "{}".to_string(),
            _ => {
                json!({"id": format!("naive-{i}"), "timestamp": naive_west, "source_instance": "X",
                        "action": "completed", "topic": "naive local time"})
                .to_string()
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// B's live work, then stray lines: every reader A uses still sees B's work.
fn every_reader_sees_past(strays: usize, between: bool) {
    let s = Sandbox::new();
    let claimed = s.repo().join("src/auth.rs");
    s.run(
        "pool",
        "B",
        &[
            "post",
            "--action",
            "claimed",
            "--topic",
            "Auth rewrite",
            "--affects",
            claimed.to_str().unwrap(),
        ],
        "",
    );
    // A looks once, so its next prompt has a mark to read news from.
    s.hook("pool-prompt", "A", "a1", "UserPromptSubmit");
    if between {
        s.append_raw(&stray_lines(strays));
    }
    s.run(
        "pool",
        "B",
        &[
            "post",
            "--action",
            "completed",
            "--topic",
            "Token refresh done",
        ],
        "",
    );
    s.append_raw(&stray_lines(strays));

    let start = s.hook("pool-session-start", "A", "a2", "SessionStart");
    assert!(start.contains("Auth rewrite"), "session start: {start}");
    assert!(
        start.contains("Token refresh done"),
        "session start: {start}"
    );
    let news = s.hook("pool-prompt", "A", "a1", "UserPromptSubmit");
    assert!(news.contains("Token refresh done"), "news: {news}");
    let guard = s.guard("A", &claimed);
    assert!(guard.contains("Auth rewrite"), "guard: {guard}");
    let who = s.text("pool", "A", &["who", claimed.to_str().unwrap()], "");
    assert!(who.contains("Auth rewrite"), "who: {who}");
    let status = s.text("pool", "A", &["status"], "");
    assert!(status.contains("Auth rewrite"), "status: {status}");
    let query = s.text("pool-query", "A", &[], "");
    assert!(query.contains("Token refresh done"), "pool-query: {query}");
    assert!(query.contains("Auth rewrite"), "pool-query: {query}");
}

#[test]
fn one_stray_line_of_each_kind_at_the_tail_hides_nothing() {
    for kind in 0..3 {
        let s = Sandbox::new();
        s.run(
            "pool",
            "B",
            &["post", "--action", "completed", "--topic", "Live work"],
            "",
        );
        let line = stray_lines(3).lines().nth(kind).unwrap().to_string();
        s.append_raw(&format!("{line}\n"));
        let start = s.hook("pool-session-start", "A", "a", "SessionStart");
        assert!(start.contains("Live work"), "kind {kind}: {start}");
        let query = s.text("pool-query", "A", &[], "");
        assert!(query.contains("Live work"), "kind {kind}: {query}");
    }
}

#[test]
fn a_thousand_stray_lines_at_the_tail_hide_nothing_from_any_reader() {
    every_reader_sees_past(1000, false);
}

#[test]
fn stray_lines_between_live_entries_hide_nothing_from_any_reader() {
    every_reader_sees_past(1000, true);
}

#[test]
fn a_pool_copied_onto_the_end_does_not_blind_readers() {
    // `cat other.jsonl >> instance_state.jsonl`: lines with our own stamps,
    // written hours ago in another log, at offsets where they are not.
    let other = Sandbox::new();
    other.run(
        "pool",
        "Z",
        &["post", "--action", "completed", "--topic", "elsewhere"],
        "",
    );
    let mut copied = String::new();
    for line in std::fs::read_to_string(other.log()).unwrap().lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        v["timestamp"] = json!(now() - 7200);
        v["local"]["at"] = json!(now() - 7200);
        copied.push_str(&v.to_string());
        copied.push('\n');
    }
    let s = Sandbox::new();
    s.run(
        "pool",
        "B",
        &["post", "--action", "completed", "--topic", "Live work"],
        "",
    );
    s.append_raw(&copied);
    let start = s.hook("pool-session-start", "A", "a", "SessionStart");
    assert!(start.contains("Live work"), "{start}");
}

#[test]
fn a_forked_session_behind_stray_lines_does_not_post_twice() {
    let s = Sandbox::new();
    let transcript = s.tmp.path().join("t.jsonl");
    let ts = chrono::DateTime::from_timestamp(now() - 60, 0)
        .unwrap()
        .to_rfc3339();
    let line = json!({"type": "assistant", "uuid": "u-1", "timestamp": ts, "message": {"id": "m1",
        "content": [{"type": "text", "text": "Done.\n```pool\nACTION: completed\nTOPIC: Forked once\n```"}]}});
    std::fs::write(&transcript, format!("{line}\n")).unwrap();
    let stop = |session: &str, path: &Path| {
        let input = json!({"session_id": session, "transcript_path": path, "hook_event_name": "Stop",
                           "cwd": s.repo()});
        s.run("pool-stop", "A", &[], &input.to_string());
    };
    stop("s1", &transcript);
    s.append_raw(&stray_lines(30));
    let fork = s.tmp.path().join("fork.jsonl");
    std::fs::copy(&transcript, &fork).unwrap();
    stop("s2", &fork);
    let n = std::fs::read_to_string(s.log())
        .unwrap()
        .lines()
        .filter(|l| l.contains("Forked once"))
        .count();
    assert_eq!(n, 1, "the forked session posted its block again");
}

#[test]
fn a_line_dated_in_the_future_lives_only_its_ttl_from_when_it_arrived() {
    let s = Sandbox::new();
    s.run(
        "pool",
        "B",
        &["post", "--action", "completed", "--topic", "Live work"],
        "",
    );
    // Dated 2099, appended (by its mtime) two hours ago, TTL one hour.
    s.append_raw(
        &(json!({"id": "future", "timestamp": 4_070_908_800i64, "source_instance": "X",
                 "action": "claimed", "topic": "From the future", "affects": "src/auth.rs"})
        .to_string()
            + "\n"),
    );
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(s.log())
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    let start = s.hook("pool-session-start", "A", "a", "SessionStart");
    assert!(!start.contains("From the future"), "{start}");
    let guard = s.guard("A", &s.repo().join("src/auth.rs"));
    assert!(!guard.contains("From the future"), "{guard}");
    // Once our own line follows it, the bound is that line's stamp.
    s.run(
        "pool",
        "B",
        &["post", "--action", "completed", "--topic", "Later work"],
        "",
    );
    let start = s.hook("pool-session-start", "A", "a", "SessionStart");
    assert!(start.contains("Later work"), "{start}");
    assert!(!start.contains("From the future"), "{start}");
}

#[cfg(unix)] // sets mode bits
#[test]
fn doctor_reports_stray_lines_and_repair_stamps_them_keeping_their_age() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.pool()).unwrap();
    std::fs::set_permissions(
        s.pool(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    // Lines of another program: no repository, but a cwd in this worktree,
    // so sessions here are shown them (README, "Scope and membership").
    let cwd = s.repo();
    let lines = [
        json!({"id": "live", "timestamp": now() - 3100, "ttl": 7200, "source_instance": "B", "action": "completed", "topic": "Live stray", "cwd": cwd}),
        json!({"id": "old", "timestamp": now() - 7200, "source_instance": "B", "action": "completed", "topic": "Old stray", "cwd": cwd}),
        json!({"id": "future", "timestamp": 4_070_908_800i64, "source_instance": "B", "action": "completed", "topic": "Future stray", "cwd": cwd}),
        json!({}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(s.log(), text).unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3000);
    std::fs::File::options()
        .write(true)
        .open(s.log())
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let doctor = s.doctor(&[]);
    assert!(doctor.contains("4 stray lines"), "{doctor}");
    assert!(doctor.contains("1 without a timestamp"), "{doctor}");
    assert!(doctor.contains("1 dated in the future"), "{doctor}");
    let before = s.hook("pool-session-start", "A", "a", "SessionStart");
    let repair = s.doctor(&["--repair"]);
    assert!(repair.contains("stamped 4 stray lines"), "{repair}");
    let doctor = s.doctor(&[]);
    assert!(!doctor.contains("stray line"), "{doctor}");
    let after = s.hook("pool-session-start", "A", "a", "SessionStart");
    assert_eq!(before, after);
    assert!(
        after.contains("Live stray") && !after.contains("Old stray"),
        "{after}"
    );
    // Every line is still there.
    let log = std::fs::read_to_string(s.log()).unwrap();
    assert_eq!(log.lines().count(), 4);
    for id in ["live", "old", "future"] {
        assert!(log.contains(&format!("\"id\":\"{id}\"")), "{log}");
    }
}
