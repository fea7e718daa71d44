//! The terminal commands as a person uses them: `pool who FOLDER`,
//! `pool-query --limit 0`, a missing or misspelled `POOL_DIR` or one that is
//! a file, `pool post`'s checks, completions (run in a real bash), `--help`
//! on the hook binaries, and `pool status` (roles, sessions, and `--watch`
//! in a small real tmux pane).

mod common;
use common::{feed, text};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const POOL: &str = env!("CARGO_BIN_EXE_pool");

struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let e = Env {
            tmp: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(e.pool()).unwrap();
        std::fs::create_dir_all(e.path("app/src/auth")).unwrap();
        e
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().canonicalize().unwrap().join(p)
    }

    fn pool(&self) -> PathBuf {
        self.tmp.path().join("pool")
    }

    fn cmd(&self, bin: &str, instance: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("POOL_DIR", self.pool())
            .env("CLAUDE_INSTANCE", instance)
            .current_dir(self.path("app"))
            .args(args);
        c
    }

    fn pool_cmd(&self, instance: &str, args: &[&str]) -> Output {
        self.cmd(POOL, instance, args).output().unwrap()
    }

    fn ok(&self, instance: &str, args: &[&str]) -> String {
        let out = self.pool_cmd(instance, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn hook(&self, bin: &str, instance: &str, input: serde_json::Value) -> Output {
        feed(
            &mut self.cmd(bin, instance, &[]),
            input.to_string().as_bytes(),
        )
    }
}

#[test]
fn pool_who_on_a_folder_lists_claims_and_edits_inside_it() {
    let e = Env::new();
    e.ok(
        "B",
        &[
            "post",
            "--action",
            "claimed",
            "--topic",
            "Tokens",
            "--affects",
            "src/auth/token.rs",
        ],
    );
    e.ok(
        "C",
        &[
            "post",
            "--action",
            "claimed",
            "--topic",
            "Docs",
            "--affects",
            "docs/",
        ],
    );
    // An edit recorded by the guard inside the folder.
    let file = e.path("app/src/auth/session.rs");
    let out = e.hook(
        env!("CARGO_BIN_EXE_pool-guard"),
        "D",
        json!({"session_id": "sd", "hook_event_name": "PreToolUse", "tool_name": "Edit",
               "tool_input": {"file_path": file, "old_string": "a", "new_string": "b"}, "cwd": e.path("app")}),
    );
    assert!(out.status.success(), "{}", text(&out));
    let who = e.ok("", &["who", "src"]);
    assert!(who.contains("B claimed src/auth/token.rs"), "{who}");
    assert!(who.contains("D edited"), "{who}");
    assert!(!who.contains("Docs"), "{who}");
    let folder = e.path("app/src/auth");
    let who = e.ok("", &["who", folder.to_str().unwrap()]);
    assert!(
        who.contains("B claimed") && who.contains("D edited"),
        "{who}"
    );
    let none = e.ok("", &["who", "tests"]);
    assert!(
        none.starts_with("nobody claimed or recently edited"),
        "{none}"
    );
}

#[test]
fn pool_query_limit_zero_prints_nothing() {
    let e = Env::new();
    e.ok("A", &["post", "--topic", "one"]);
    let out = e
        .cmd(env!("CARGO_BIN_EXE_pool-query"), "", &["--limit", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "not one row");
    assert_eq!(e.ok("", &["query", "--limit", "0", "--json"]), "");
    assert_eq!(
        e.ok("", &["query", "--limit", "1", "--json"])
            .lines()
            .count(),
        1
    );
}

/// Issue 24: a listing cut at `--limit` says that more entries match; one
/// that shows every match says nothing.
#[test]
fn pool_query_says_when_more_entries_match_than_it_shows() {
    let e = Env::new();
    for i in 0..3 {
        e.ok("A", &["post", "--topic", &format!("entry {i}")]);
    }
    let run = |limit: &str| {
        let out = e
            .cmd(env!("CARGO_BIN_EXE_pool-query"), "", &["--limit", limit])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        (
            String::from_utf8_lossy(&out.stdout).lines().count(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (rows, err) = run("2");
    assert_eq!(rows, 2);
    assert!(
        err.contains(
            "note: showing the newest 2; more entries match (--limit N shows more, --count counts them)"
        ),
        "{err}"
    );
    let (rows, err) = run("3");
    assert_eq!(rows, 3);
    assert!(!err.contains("more entries match"), "{err}");
}

#[test]
fn a_misspelled_or_file_pool_dir_is_reported_the_same_way_everywhere() {
    let e = Env::new();
    let typo = e.path("pool-typo");
    for args in [&["status"][..], &["query"], &["who", "x"], &["bulletin"]] {
        let out = e
            .cmd(POOL, "", args)
            .env("POOL_DIR", &typo)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!(
                "POOL_DIR={} does not exist: check the spelling of POOL_DIR",
                typo.display()
            )),
            "{args:?}: {}",
            text(&out)
        );
    }
    let out = e
        .cmd(env!("CARGO_BIN_EXE_pool-query"), "", &[])
        .env("POOL_DIR", &typo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let file = e.path("pool-file");
    std::fs::write(&file, "not a folder").unwrap();
    let wording = format!(
        "POOL_DIR={} is a file, not a folder: point POOL_DIR at a folder",
        file.display()
    );
    for args in [&["status"][..], &["query"], &["bulletin"]] {
        let out = e
            .cmd(POOL, "", args)
            .env("POOL_DIR", &file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&wording),
            "{}",
            text(&out)
        );
    }
    let doctor = e
        .cmd(POOL, "", &["doctor"])
        .env("POOL_DIR", &file)
        .output()
        .unwrap();
    let all = text(&doctor);
    assert!(
        all.contains(&format!(
            "POOL_DIR={} is a file, not a folder",
            file.display()
        )),
        "{all}"
    );
    assert!(all.contains("point POOL_DIR at a folder"), "{all}");
    assert!(
        !all.contains("chmod"),
        "no permission fix for a file: {all}"
    );
    let doctor = e
        .cmd(POOL, "", &["doctor"])
        .env("POOL_DIR", &typo)
        .output()
        .unwrap();
    assert!(
        text(&doctor).contains("check the spelling of POOL_DIR"),
        "{}",
        text(&doctor)
    );
}

#[test]
fn pool_post_validates_like_the_dashboard() {
    let e = Env::new();
    let bad_to = e.pool_cmd("A", &["post", "--topic", "t", "--to", "B C"]);
    assert_eq!(bad_to.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad_to.stderr).contains("--to:"),
        "{}",
        text(&bad_to)
    );
    let bad_priority = e.pool_cmd("A", &["post", "--topic", "t", "--priority", "urgent"]);
    assert_eq!(bad_priority.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad_priority.stderr)
            .contains("unknown priority \"urgent\"; use critical"),
        "{}",
        text(&bad_priority)
    );
    let long = e.pool_cmd("A", &["post", "--topic", "long", "--ttl", "90d"]);
    assert!(long.status.success(), "{}", text(&long));
    assert!(
        String::from_utf8_lossy(&long.stderr)
            .contains("longer than the 30-day maximum; stored as 30d"),
        "{}",
        text(&long)
    );
    let stored = e.ok("", &["query", "--json", "--limit", "1"]);
    let v: serde_json::Value = serde_json::from_str(stored.trim()).unwrap();
    assert_eq!(v["ttl"], 30 * 86_400);
    // B is known (seen), so `--to B` posts without a warning.
    e.ok("B", &["post", "--topic", "here"]);
    let fine = e.pool_cmd(
        "A",
        &[
            "post",
            "--topic",
            "ok",
            "--priority",
            "CRITICAL",
            "--to",
            "B",
        ],
    );
    assert!(fine.status.success(), "{}", text(&fine));
    assert!(
        String::from_utf8_lossy(&fine.stderr).is_empty(),
        "{}",
        text(&fine)
    );
}

#[test]
fn completions_cover_pool_query_instances_and_handoff_ids_in_a_real_bash() {
    let e = Env::new();
    std::fs::write(
        e.pool().join("config.json"),
        r#"{"instances": {"Builder": {}, "Reviewer": {}}}"#,
    )
    .unwrap();
    let id = e.ok(
        "Builder",
        &["post", "--topic", "please review", "--to", "Reviewer"],
    );
    let id = id.trim().trim_start_matches("posted ").to_string();
    let script = e.ok("", &["completions", "bash"]);
    let script_path = e.path("pool.bash");
    std::fs::write(&script_path, &script).unwrap();
    let bin_dir = Path::new(POOL).parent().unwrap();
    let complete = |words: &str, cword: usize| -> String {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _pool_dynamic \"${{COMP_WORDS[0]}}\" \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script_path.display()
        );
        let out = e
            .cmd("bash", "Reviewer", &["--norc", "-c", &program])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin_dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("pool ack ''", 2).trim(), id, "handoff ids");
    let names = complete("pool post --to ''", 3);
    assert!(
        names.contains("Builder") && names.contains("Reviewer"),
        "{names}"
    );
    assert_eq!(complete("pool-query --instance Re", 2).trim(), "Reviewer");
    assert!(
        complete("pool-query --", 1).contains("--limit"),
        "pool-query's own flags"
    );
    assert!(complete("pool launch B", 2).contains("Builder"));
    let zsh = e.ok("", &["completions", "zsh"]);
    assert!(
        zsh.starts_with("#compdef pool pool-query\n"),
        "{}",
        &zsh[..40]
    );
    assert!(zsh.contains(":INSTANCE:_pool_instances'") && zsh.contains("_pool_handoffs'"));
    let fish = e.ok("", &["completions", "fish"]);
    assert!(
        fish.contains("complete -c pool-query") && fish.contains("pool complete-names handoffs")
    );
}

#[test]
fn hook_binaries_answer_help_without_running_the_hook() {
    let e = Env::new();
    for (bin, name) in [
        (
            env!("CARGO_BIN_EXE_pool-session-start"),
            "pool-session-start",
        ),
        (env!("CARGO_BIN_EXE_pool-stop"), "pool-stop"),
        (env!("CARGO_BIN_EXE_pool-prompt"), "pool-prompt"),
        (env!("CARGO_BIN_EXE_pool-guard"), "pool-guard"),
    ] {
        for flag in ["--help", "-h"] {
            let out = e
                .cmd(bin, "A", &[flag])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success());
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(
                help.starts_with(&format!("{name}: Claude Code's")),
                "{help}"
            );
            assert!(
                help.contains(&format!("Usage: {name} < hook-event.json")),
                "{help}"
            );
            assert!(!help.contains("Session Context"), "not a summary: {help}");
        }
        let v = e.cmd(bin, "A", &["--version"]).output().unwrap();
        assert!(String::from_utf8_lossy(&v.stdout).starts_with(name));
    }
    assert!(!e.pool().join("sessions").exists(), "no hook ran");
}

struct Tmux(String);

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn status_shows_roles_sessions_and_watch_keeps_the_top_in_a_small_terminal() {
    let e = Env::new();
    std::fs::write(
        e.pool().join("config.json"),
        r#"{"instances": {"Builder": {"role": "builder"}, "Waiter": {"role": "reviewer"}}}"#,
    )
    .unwrap();
    // Many instances with claims, so the board is taller than the pane.
    for i in 0..12 {
        let name = format!("W{i:02}");
        e.ok(
            &name,
            &[
                "post",
                "--action",
                "claimed",
                "--topic",
                "work",
                "--affects",
                &format!("src/m{i}.rs"),
            ],
        );
        e.ok(
            &name,
            &[
                "post",
                "--action",
                "claimed",
                "--topic",
                "more",
                "--affects",
                &format!("docs/m{i}.md"),
            ],
        );
    }
    // Two sessions of Builder whose ids share their first 8 characters.
    for s in ["session-1111", "session-2222"] {
        let out = e.hook(
            env!("CARGO_BIN_EXE_pool-session-start"),
            "Builder",
            json!({"session_id": s, "hook_event_name": "SessionStart", "source": "startup"}),
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    e.ok(
        "Waiter",
        &["post", "--action", "blocked", "--topic", "Schema review"],
    );
    let plain = e.ok("", &["status"]);
    assert!(
        common::contains_secs_ago(&plain, "\nWaiter (the reviewer) — active, seen 0s ago\n"),
        "entries count as seen: {plain}"
    );
    assert!(
        plain.contains("\nBuilder (the builder) (2 sessions)"),
        "{plain}"
    );
    assert!(
        plain.contains("session session-1 ") && plain.contains("session session-2 "),
        "{plain}"
    );
    let lines = plain.lines().count();
    assert!(lines > 30, "the board is taller than the pane: {lines}");

    let t = Tmux(format!("pool-term-{}", std::process::id()));
    let ok = t.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "12",
        "-s",
        "w",
        // In the folder whose entries the board shows.
        "-c",
        e.path("app").to_str().unwrap(),
        "-e",
        &format!("POOL_DIR={}", e.pool().display()),
        "-e",
        "HOME=/nonexistent",
        &format!("{POOL} status --watch"),
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    let start = Instant::now();
    let screen = loop {
        let cap = t.run(&["capture-pane", "-p", "-t", "=w:"]);
        let s = String::from_utf8_lossy(&cap.stdout).to_string();
        if s.contains("more lines") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no fitted board: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let first = screen.lines().next().unwrap_or("");
    assert!(first.starts_with("pool status"), "the top stays: {screen}");
    assert!(
        screen.contains("BLOCKED on \"Schema review\""),
        "blocked first: {screen}"
    );
    assert!(screen.contains("Waiter (the reviewer)"), "{screen}");
}

#[test]
fn entries_posted_from_the_dashboard_are_marked_wherever_they_are_shown() {
    let e = Env::new();
    e.ok("API", &["post", "--topic", "from the terminal"]);
    // What the dashboard page writes (view::dashboard::form_entry).
    let line = json!({"id": "dash-1", "timestamp": chrono_now(), "source_instance": "API",
        "session_id": "", "action": "completed", "topic": "Shipped the refresh flow",
        "summary": "", "affects": "", "blocks": "", "origin": "dashboard",
        // Written in this folder (a line without a repository is shown
        // where its cwd lies).
        "cwd": e.path("app")});
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(e.pool().join("instance_state.jsonl"))
        .unwrap();
    writeln!(f, "{line}").unwrap();
    let listed = e.ok("", &["query"]);
    assert!(
        listed.contains("via dashboard] completed Shipped the refresh flow"),
        "{listed}"
    );
    assert!(
        !listed.contains("via dashboard] signaling from the terminal"),
        "{listed}"
    );
    let out = e.hook(
        env!("CARGO_BIN_EXE_pool-session-start"),
        "WEB",
        json!({"session_id": "sw", "hook_event_name": "SessionStart", "source": "startup"}),
    );
    let start = String::from_utf8_lossy(&out.stdout);
    assert!(
        start.contains("[API via dashboard] completed: Shipped the refresh flow"),
        "{start}"
    );
    assert!(
        start.contains("[API] signaling: from the terminal"),
        "{start}"
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Appends entries straight to the log, as another writer would.
fn seed(e: &Env, lines: &[serde_json::Value]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(e.pool().join("instance_state.jsonl"))
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

#[test]
fn release_ack_and_ref_take_the_short_ids_the_dashboard_shows() {
    let e = Env::new();
    let id_of = |out: String| out.trim().trim_start_matches("posted ").to_string();
    let claim = id_of(e.ok(
        "A",
        &[
            "post",
            "--action",
            "claimed",
            "--topic",
            "Tokens",
            "--affects",
            "src/auth/",
        ],
    ));
    let handoff = id_of(e.ok(
        "A",
        &[
            "post",
            "--action",
            "signaling",
            "--topic",
            "Review it",
            "--to",
            "B",
        ],
    ));
    // The 8 characters the dashboard shows.
    let short = |id: &str| id[..8].to_string();
    let released = e.ok("A", &["release", &short(&claim)]);
    assert!(
        released.starts_with(&format!("released {claim} (")),
        "{released}"
    );
    let acked = e.ok("B", &["ack", &short(&handoff)]);
    assert!(
        acked.starts_with(&format!("acknowledged {handoff} (")),
        "{acked}"
    );
    let all = e.ok("", &["query", "--json", "--limit", "100"]);
    let refs: Vec<String> = all
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["ref"].as_str().map(str::to_string))
        .filter(|r| !r.is_empty())
        .collect();
    assert!(
        refs.contains(&claim) && refs.contains(&handoff),
        "whole ids are stored: {refs:?}"
    );
    // `pool post --ref` stores the whole id too.
    e.ok(
        "B",
        &["post", "--topic", "About it", "--ref", &short(&handoff)],
    );
    let last = e.ok("", &["query", "--json", "--limit", "1"]);
    assert!(last.contains(&format!("\"ref\":\"{handoff}\"")), "{last}");

    // Two entries that share a prefix: it is refused, naming both.
    let now = chrono_now();
    let line = |id: &str, topic: &str| {
        json!({"id": id, "timestamp": now, "source_instance": "C", "session_id": "",
            "action": "claimed", "topic": topic, "summary": "", "affects": "x/", "blocks": "",
            "cwd": e.path("app")})
    };
    seed(
        &e,
        &[
            line("abcd1111-0000-8000-8000-000000000001", "First"),
            line("abcd2222-0000-8000-8000-000000000002", "Second"),
        ],
    );
    for args in [
        vec!["release", "abcd"],
        vec!["ack", "abcd"],
        vec!["post", "--topic", "t", "--ref", "abcd"],
    ] {
        let out = e.pool_cmd("C", &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            err.contains("ambiguous")
                && err.contains("abcd1111-0000-8000-8000-000000000001")
                && err.contains("abcd2222-0000-8000-8000-000000000002"),
            "{args:?}: {err}"
        );
    }
    let one = e.ok("C", &["release", "abcd2"]);
    assert!(
        one.starts_with("released abcd2222-0000-8000-8000-000000000002"),
        "{one}"
    );
}

#[test]
fn a_person_acting_from_the_dashboard_is_no_instance_in_pool_status() {
    let e = Env::new();
    let handoff = e.ok(
        "A",
        &[
            "post",
            "--action",
            "signaling",
            "--topic",
            "Review it",
            "--to",
            "B",
        ],
    );
    let handoff = handoff.trim().trim_start_matches("posted ");
    e.ok("B", &["post", "--topic", "Working on it"]);
    let now = chrono_now();
    // What the page writes for Acknowledge, and for a release "as a person".
    seed(
        &e,
        &[
            json!({"id": "dash-ack-1", "timestamp": now, "source_instance": "human",
                "session_id": "", "action": "signaling", "topic": "Acknowledged: Review it",
                "summary": "", "affects": "", "blocks": "", "ref": handoff, "origin": "dashboard",
                "cwd": e.path("app")}),
            json!({"id": "dash-rel-1", "timestamp": now, "source_instance": "lead",
                "session_id": "", "action": "released", "topic": "Released: x",
                "summary": "", "affects": "", "blocks": "", "origin": "forced",
                "cwd": e.path("app")}),
        ],
    );
    let status = e.ok("", &["status"]);
    assert!(status.contains("2 instances"), "{status}");
    for person in ["human", "lead"] {
        assert!(
            !status.lines().any(|l| l.trim_start().starts_with(person)),
            "{person} is listed as an instance:\n{status}"
        );
    }
    let json = e.ok("", &["status", "--json"]);
    assert!(!json.contains("\"human\""), "{json}");
}
