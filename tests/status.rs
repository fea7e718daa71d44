//! Presence, `pool status` and `pool bulletin`, end to end with the real
//! binaries: hooks refresh each session's presence (worktree and branch read
//! from `.git` files written by hand, no git needed), SessionEnd marks it
//! gone, the dashboard groups sessions by instance with their claims,
//! handoffs and latest entries, and odd input never fails a hook.

// Unix only: stops and resumes hook processes with signals.
#![cfg(unix)]

mod common;
use common::{exe, now};

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use claude_pool::coord::presence::{self, Presence};
use serde_json::{Value, json};

struct World {
    tmp: tempfile::TempDir,
}

impl World {
    /// A repository at `repo/` on `main` and a linked worktree at `wt/` on
    /// `feature`, made by writing the files git would.
    fn new() -> Self {
        let w = World {
            tmp: tempfile::tempdir().unwrap(),
        };
        let repo = w.repo();
        std::fs::create_dir_all(repo.join(".git/worktrees/wt")).unwrap();
        std::fs::create_dir_all(repo.join("src")).unwrap();
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(
            repo.join(".git/worktrees/wt/HEAD"),
            "ref: refs/heads/feature\n",
        )
        .unwrap();
        std::fs::create_dir_all(w.wt()).unwrap();
        std::fs::write(
            w.wt().join(".git"),
            format!("gitdir: {}\n", repo.join(".git/worktrees/wt").display()),
        )
        .unwrap();
        std::fs::create_dir_all(w.path("elsewhere")).unwrap();
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn repo(&self) -> PathBuf {
        self.path("repo")
    }

    fn wt(&self) -> PathBuf {
        self.path("wt")
    }

    fn pool(&self) -> PathBuf {
        self.path("pool")
    }

    /// Runs a binary with a clean environment; `instance` None leaves
    /// CLAUDE_INSTANCE unset. Asserts exit code 0.
    fn run(&self, bin: &str, instance: Option<&str>, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(exe(bin));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("POOL_DIR", self.pool())
            .current_dir(self.tmp.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(i) = instance {
            cmd.env("CLAUDE_INSTANCE", i);
        }
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

    fn hook(&self, bin: &str, instance: Option<&str>, input: Value) {
        self.run(bin, instance, &[], &input.to_string());
    }

    fn event(&self, bin: &str, instance: &str, session: &str, event: &str, cwd: &Path) {
        self.hook(
            bin,
            Some(instance),
            json!({"session_id": session, "hook_event_name": event, "cwd": cwd, "source": "startup", "prompt": "go"}),
        );
    }

    fn post(&self, instance: &str, args: &[&str]) -> String {
        let mut all = vec!["post"];
        all.extend_from_slice(args);
        let out = self.run("pool", Some(instance), &all, "");
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .trim_start_matches("posted ")
            .to_string()
    }

    fn status_json(&self) -> Value {
        // Sessions here sit in several repositories and plain folders.
        let out = self.run("pool", None, &["status", "--json", "--all-repos"], "");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "one line: {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn stdout(&self, args: &[&str]) -> String {
        let mut all = args.to_vec();
        all.push("--all-repos");
        String::from_utf8(self.run("pool", None, &all, "").stdout).unwrap()
    }

    fn presence(&self, instance: &str, session: &str) -> Option<Presence> {
        presence::load(&presence::file_path(&self.pool(), instance, session)).unwrap()
    }

    fn write_presence(&self, p: &Presence) {
        let path = presence::file_path(&self.pool(), &p.instance, &p.session_id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec(p).unwrap()).unwrap();
    }

    /// Appends raw entries to the log (to backdate them).
    fn append_raw(&self, entries: &[Value]) {
        std::fs::create_dir_all(self.pool()).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.pool().join("instance_state.jsonl"))
            .unwrap();
        for e in entries {
            writeln!(f, "{e}").unwrap();
        }
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(self.pool().join("errors.log")).unwrap_or_default()
    }
}

fn instance<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == name)
        .unwrap_or_else(|| panic!("no instance {name} in {status}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[test]
fn hooks_refresh_presence_and_status_shows_sessions_by_instance() {
    let w = World::new();
    let before = now();
    w.event(
        "pool-session-start",
        "A",
        "sa1",
        "SessionStart",
        &w.repo().join("src"),
    );
    w.event("pool-prompt", "A", "sa2", "UserPromptSubmit", &w.wt());
    w.event("pool-stop", "B", "sb1", "Stop", &w.repo());

    let p = w.presence("A", "sa1").expect("presence of A/sa1");
    assert_eq!(p.branch.as_deref(), Some("main"));
    assert_eq!(p.worktree.as_deref(), Some(w.repo().to_str().unwrap()));
    assert_eq!(
        p.cwd.as_deref(),
        Some(w.repo().join("src").to_str().unwrap())
    );
    assert_eq!(p.host, claude_pool::env::host::host_name());
    assert!(p.last_seen >= before && p.ended.is_none());
    let dir = presence::dir(&w.pool());
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert_eq!(std::fs::metadata(f).unwrap().mode() & 0o777, 0o600);
    }

    let st = w.status_json();
    assert_eq!(st["version"], 1);
    assert!(st["now"].as_i64().unwrap() >= before);
    assert_eq!(s(&st["pool_dir"]), w.pool().to_str().unwrap());
    let a = instance(&st, "A");
    assert_eq!(a["state"], "active");
    let sessions = a["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let mut branches: Vec<&str> = sessions.iter().map(|x| s(&x["branch"])).collect();
    branches.sort();
    assert_eq!(branches, ["feature", "main"]);
    let wt = sessions.iter().find(|x| x["session_id"] == "sa2").unwrap();
    assert_eq!(s(&wt["worktree"]), w.wt().to_str().unwrap());
    assert_eq!(wt["state"], "active");
    assert_eq!(wt["detached"], Value::Null);
    assert_eq!(wt["ended"], Value::Null);
    assert_eq!(instance(&st, "B")["sessions"].as_array().unwrap().len(), 1);

    let text = w.stdout(&["status"]);
    assert!(text.contains("\nA (2 sessions) — active, seen "), "{text}");
    assert!(text.contains("[main] ~/repo (src)"), "{text}");
    assert!(text.contains("[feature] ~/wt"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "no ANSI when stdout is not a terminal"
    );
}

#[test]
fn status_shows_claims_handoffs_and_last_entry() {
    let w = World::new();
    w.event("pool-prompt", "A", "sa", "UserPromptSubmit", &w.repo());
    w.event("pool-prompt", "B", "sb", "UserPromptSubmit", &w.wt());
    w.post(
        "B",
        &[
            "--action",
            "claimed",
            "--topic",
            "Auth refresh",
            "--affects",
            "src/auth.rs, src/session/",
        ],
    );
    let handoff = w.post(
        "A",
        &[
            "--action",
            "completed",
            "--topic",
            "API ready",
            "--summary",
            "over to you",
            "--to",
            "b",
        ],
    );
    w.post("A", &["--action", "completed", "--topic", "Docs done"]);

    let st = w.status_json();
    let b = instance(&st, "B");
    assert_eq!(b["claims"].as_array().unwrap().len(), 1);
    assert_eq!(b["claims"][0]["topic"], "Auth refresh");
    assert_eq!(
        b["claims"][0]["patterns"],
        json!(["src/auth.rs", "src/session/"])
    );
    assert_eq!(b["last_entry"]["action"], "claimed");
    let h = &b["handoffs"].as_array().unwrap()[0];
    assert_eq!(
        (s(&h["id"]), s(&h["from"]), s(&h["topic"]), s(&h["summary"])),
        (handoff.as_str(), "A", "API ready", "over to you")
    );
    let a = instance(&st, "A");
    assert_eq!(a["last_entry"]["topic"], "Docs done");
    assert_eq!(a["last_entry"]["action"], "completed");
    assert!(a["handoffs"].as_array().unwrap().is_empty());
    assert_eq!(a["claims"], json!([]));

    let text = w.stdout(&["status"]);
    assert!(
        text.contains("  claims src/auth.rs, src/session/ — \"Auth refresh\""),
        "{text}"
    );
    assert!(text.contains("  handoff from A ("), "{text}");
    assert!(
        text.contains(&format!("completed: API ready — pool ack {handoff}")),
        "{text}"
    );
    assert!(
        text.contains("  last entry ") && text.contains("s ago completed: Docs done\n"),
        "{text}"
    );

    w.run("pool", Some("B"), &["ack", &handoff], "");
    w.post("B", &["--action", "completed", "--topic", "auth refresh"]);
    let st = w.status_json();
    let b = instance(&st, "B");
    assert_eq!(b["handoffs"], json!([]), "acknowledged");
    assert_eq!(b["claims"], json!([]), "closed by topic");
}

#[test]
fn session_end_marks_a_session_gone_and_a_resume_brings_it_back() {
    let w = World::new();
    w.event("pool-session-start", "A", "s1", "SessionStart", &w.repo());
    w.event("pool-stop", "A", "s1", "SessionEnd", &w.repo());
    let p = w.presence("A", "s1").unwrap();
    assert!(p.ended.is_some());
    let st = w.status_json();
    let a = instance(&st, "A");
    assert_eq!(a["state"], "gone");
    assert_eq!(a["sessions"][0]["state"], "gone");
    assert!(a["sessions"][0]["ended"].is_i64());
    let text = w.stdout(&["status"]);
    assert!(text.contains("\ngone: A (ended "), "{text}");

    w.event("pool-session-start", "A", "s1", "SessionStart", &w.repo());
    let st = w.status_json();
    assert_eq!(instance(&st, "A")["state"], "active");
    assert_eq!(instance(&st, "A")["sessions"][0]["ended"], Value::Null);
}

#[test]
fn idle_and_gone_by_age_and_long_gone_files_are_pruned() {
    let w = World::new();
    let t = now();
    let p = |inst: &str, sess: &str, last: i64| Presence {
        instance: inst.into(),
        session_id: sess.into(),
        cwd: Some("/w".into()),
        host: "h".into(),
        first_seen: last - 60,
        last_seen: last,
        ..Presence::default()
    };
    w.write_presence(&p("ACT", "s", t - 10));
    w.write_presence(&p("IDLE", "s", t - 20 * 60));
    w.write_presence(&p("GONE", "s", t - 2 * 3600));
    w.write_presence(&p("GONE", "older", t - 5 * 3600));
    w.write_presence(&p("ANCIENT", "s", t - 8 * 86_400));
    let ancient = presence::file_path(&w.pool(), "ANCIENT", "s");
    assert!(ancient.exists());

    let st = w.status_json();
    let names: Vec<(&str, &str)> = st["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (s(&i["instance"]), s(&i["state"])))
        .collect();
    assert_eq!(
        names,
        [("ACT", "active"), ("IDLE", "idle"), ("GONE", "gone")],
        "sorted by state; gone more than 7 days is deleted"
    );
    assert!(!ancient.exists());
    assert_eq!(instance(&st, "GONE")["last_seen"], t - 2 * 3600);
    let text = w.stdout(&["status"]);
    assert!(text.contains("\nIDLE — idle, seen 20m ago\n"), "{text}");
    assert!(text.contains("\ngone: GONE (2h ago)\n"), "{text}");
}

#[test]
fn bulletin_leaves_out_stale_instances_and_lists_pending_handoffs() {
    let w = World::new();
    let t = now();
    w.event("pool-prompt", "A", "sa", "UserPromptSubmit", &w.repo());
    w.append_raw(&[
        json!({"id": "old1", "timestamp": t - 3 * 3600, "source_instance": "OLD", "action": "completed", "topic": "Ancient history"}),
        json!({"id": "h-old", "timestamp": t - 3 * 3600, "source_instance": "OLD", "action": "completed", "topic": "Review\n# the parser", "to": "A", "ttl": 604800}),
        json!({"id": "h-done", "timestamp": t - 600, "source_instance": "C", "action": "signaling", "topic": "Done already", "to": "A", "ttl": 604800}),
        json!({"id": "ack1", "timestamp": t - 500, "source_instance": "A", "action": "signaling", "topic": "Acknowledged", "ref": "h-done"}),
        json!({"id": "c1", "timestamp": t - 300, "source_instance": "C", "action": "completed", "topic": "Fix \u{1b}[31mred ```build```"}),
    ]);
    w.write_presence(&Presence {
        instance: "OLD".into(),
        session_id: "so".into(),
        last_seen: t - 2 * 3600,
        ..Presence::default()
    });
    for i in 0..7 {
        w.post(
            "A",
            &["--action", "completed", "--topic", &format!("Step {i}")],
        );
    }
    let md = w.stdout(&["bulletin"]);
    assert!(md.starts_with("# Pool bulletin\n"), "{md}");
    assert!(md.contains("\n## A\n"), "{md}");
    assert!(
        md.contains("\n## C\n"),
        "entries in the last hour count: {md}"
    );
    assert!(
        !md.contains("## OLD") && !md.contains("Ancient history"),
        "{md}"
    );
    let a_section = md
        .split("\n## A\n")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    assert_eq!(
        a_section.matches("\n- ").count(),
        5,
        "latest five: {a_section}"
    );
    assert!(
        a_section
            .split("\n- ")
            .nth(1)
            .unwrap()
            .ends_with("s ago completed: Step 6"),
        "{a_section}"
    );
    assert!(!a_section.contains("Step 1"), "{a_section}");
    assert!(
        md.contains("- 5m ago completed: Fix red '''build'''\n"),
        "{md}"
    );
    let pending = md.split("\n## Pending handoffs\n").nth(1).unwrap();
    assert!(
        pending.contains("- OLD → A, 3h ago, completed: Review # the parser (id `h-old`)"),
        "{pending}"
    );
    assert!(!pending.contains("h-done"), "acknowledged: {pending}");
    assert!(!md.contains('\x1b'));

    let out = w.path("out/bulletin.md");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let printed = w.run(
        "pool",
        None,
        &["bulletin", "--all-repos", "--write", out.to_str().unwrap()],
        "",
    );
    assert!(printed.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.split_once('\n').unwrap().0, "# Pool bulletin");
    assert!(written.contains("(id `h-old`)"));
    assert_eq!(std::fs::metadata(&out).unwrap().mode() & 0o777, 0o600);
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    w.run(
        "pool",
        None,
        &["bulletin", "--all-repos", "--write", out.to_str().unwrap()],
        "",
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().mode() & 0o777,
        0o644,
        "mode kept"
    );
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp file left");
}

#[test]
fn handoffs_acknowledged_outside_the_window_stay_acknowledged() {
    let w = World::new();
    let t = now();
    w.append_raw(&[
        json!({"id": "h3d", "timestamp": t - 3 * 86_400, "source_instance": "A", "action": "completed", "topic": "Old handoff", "to": "B", "ttl": 604800}),
        json!({"id": "ack", "timestamp": t - 2 * 86_400, "source_instance": "B", "action": "signaling", "topic": "Acknowledged", "ref": "h3d"}),
        json!({"id": "h3d2", "timestamp": t - 3 * 86_400, "source_instance": "A", "action": "completed", "topic": "Still pending", "to": "B", "ttl": 604800}),
    ]);
    // Index the long-TTL entries the way the store does.
    let log = std::fs::read(w.pool().join("instance_state.jsonl")).unwrap();
    let mut idx = String::new();
    let mut off = 0;
    for line in log.split_inclusive(|b| *b == b'\n') {
        let v: Value = serde_json::from_slice(line).unwrap();
        if v.get("ttl").is_some() {
            let ts = v["timestamp"].as_i64().unwrap();
            idx.push_str(&format!("{ts} {} {off} {}\n", ts + 604_800, s(&v["id"])));
        }
        off += line.len();
    }
    std::fs::write(w.pool().join("long_ttl.idx"), idx).unwrap();
    let st = w.status_json();
    let ids: Vec<&str> = instance(&st, "B")["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| s(&h["id"]))
        .collect();
    assert_eq!(ids, ["h3d2"]);
}

#[test]
fn odd_input_never_fails_a_hook() {
    let w = World::new();
    // No cwd: presence without a place.
    w.hook(
        "pool-stop",
        Some("A"),
        json!({"session_id": "nocwd", "hook_event_name": "Stop"}),
    );
    let p = w.presence("A", "nocwd").unwrap();
    assert_eq!((p.cwd, p.worktree, p.branch), (None, None, None));
    // A cwd outside any repository (the temp dir has no .git above it).
    let outside = w.path("elsewhere");
    w.event("pool-stop", "A", "out", "Stop", &outside);
    let p = w.presence("A", "out").unwrap();
    assert_eq!(p.cwd.as_deref(), Some(outside.to_str().unwrap()));
    if Path::new("/.git").exists() {
        eprintln!("a /.git exists; skipping the outside-a-repository check");
    } else {
        assert_eq!(p.worktree, None);
    }
    // A relative cwd, a cwd that does not exist, a non-string cwd.
    w.event("pool-stop", "A", "rel", "Stop", Path::new("some/relative"));
    w.event("pool-stop", "A", "missing", "Stop", &w.path("no/such/dir"));
    w.hook(
        "pool-stop",
        Some("A"),
        json!({"session_id": "num", "cwd": 42}),
    );
    // Broken .git: HEAD a folder, a .git file without gitdir, a gitdir nowhere,
    // binary garbage, an unreadable .git folder.
    let broken = |name: &str| {
        let d = w.path(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let headdir = broken("headdir");
    std::fs::create_dir_all(headdir.join(".git/HEAD")).unwrap();
    let nogitdir = broken("nogitdir");
    std::fs::write(nogitdir.join(".git"), "hello\n").unwrap();
    let nowhere = broken("nowhere");
    std::fs::write(nowhere.join(".git"), "gitdir: /no/such/gitdir\n").unwrap();
    let garbage = broken("garbage");
    std::fs::create_dir_all(garbage.join(".git")).unwrap();
    std::fs::write(garbage.join(".git/HEAD"), [0xff, 0xfe, 0, 1, 2, b'\n']).unwrap();
    let locked = broken("locked");
    std::fs::create_dir_all(locked.join(".git")).unwrap();
    std::fs::write(locked.join(".git/HEAD"), "ref: refs/heads/secret\n").unwrap();
    std::fs::set_permissions(locked.join(".git"), std::fs::Permissions::from_mode(0o000)).unwrap();
    for (i, d) in [&headdir, &nogitdir, &nowhere, &garbage, &locked]
        .iter()
        .enumerate()
    {
        let sess = format!("broken{i}");
        w.event("pool-prompt", "A", &sess, "UserPromptSubmit", d);
        let p = w.presence("A", &sess).unwrap();
        assert_eq!(p.worktree.as_deref(), Some(d.to_str().unwrap()), "{d:?}");
        // Root reads through mode 000, so the locked folder may still give a branch.
        if *d != &locked {
            assert_eq!(p.branch, None, "{d:?}");
        }
    }
    std::fs::set_permissions(locked.join(".git"), std::fs::Permissions::from_mode(0o700)).unwrap();
    // No session id, empty stdin, bad JSON: no presence, exit 0.
    w.run("pool-stop", Some("A"), &[], "");
    w.run("pool-stop", Some("A"), &[], "{not json");
    // No CLAUDE_INSTANCE and no `pool init`: not a member, nothing recorded.
    let anon = json!({"session_id": "anon", "hook_event_name": "Stop", "cwd": w.repo()});
    w.hook("pool-stop", None, anon.clone());
    assert_eq!(w.presence("unknown", "anon"), None);
    assert_eq!(w.presence("repo", "anon"), None);
    // Opted in: recorded under the name derived from the worktree's folder.
    std::fs::create_dir_all(w.repo().join(".claude")).unwrap();
    std::fs::write(w.repo().join(".claude/pool.json"), "{}").unwrap();
    w.hook("pool-stop", None, anon);
    assert_eq!(
        w.presence("repo", "anon").unwrap().branch.as_deref(),
        Some("main")
    );
    // A presence folder that is a file: the hook still exits 0 and says why.
    let w2 = World::new();
    std::fs::create_dir_all(w2.pool()).unwrap();
    std::fs::write(w2.pool().join("presence"), "not a folder").unwrap();
    w2.event("pool-prompt", "A", "s", "UserPromptSubmit", &w2.repo());
    w2.event("pool-guard", "A", "s", "PreToolUse", &w2.repo());
    assert!(w2.errors().contains("presence: "), "{}", w2.errors());
    let st = w.status_json();
    let mut names: Vec<&str> = st["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(&i["instance"]))
        .collect();
    names.sort();
    assert_eq!(names, ["A", "repo"]);
    assert!(!w.errors().contains("presence"), "{}", w.errors());
}

#[test]
fn an_unchanged_session_is_not_rewritten_within_seconds() {
    let w = World::new();
    w.event("pool-prompt", "A", "s", "UserPromptSubmit", &w.repo());
    let path = presence::file_path(&w.pool(), "A", "s");
    let (ino, first) = (
        std::fs::metadata(&path).unwrap().ino(),
        w.presence("A", "s").unwrap(),
    );
    w.event("pool-stop", "A", "s", "Stop", &w.repo());
    let second = w.presence("A", "s").unwrap();
    let rewritten = std::fs::metadata(&path).unwrap().ino() != ino;
    assert_eq!(
        rewritten,
        second.last_seen - first.last_seen >= presence::REFRESH_EVERY,
        "rewritten only when last_seen is stale"
    );
    // A branch switch is written at once.
    std::fs::write(w.repo().join(".git/HEAD"), "ref: refs/heads/next\n").unwrap();
    w.event("pool-stop", "A", "s", "Stop", &w.repo());
    assert_eq!(
        w.presence("A", "s").unwrap().branch.as_deref(),
        Some("next")
    );
}

#[test]
fn empty_pool_status_and_bulletin() {
    let w = World::new();
    // No pool folder: said so (exit 1), not "0 instances"; nothing created.
    for args in [&["status"][..], &["bulletin"][..], &["who", "src"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_pool"))
            .args(args)
            .env("POOL_DIR", w.pool())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "POOL_DIR={} does not exist: check the spelling",
                w.pool().display()
            )),
            "{err}"
        );
    }
    assert!(!w.pool().exists(), "reading creates nothing");
    std::fs::create_dir_all(w.pool()).unwrap();
    let st = w.status_json();
    assert_eq!(st["instances"], json!([]));
    assert!(w.stdout(&["status"]).contains("No instance seen yet"));
    let md = w.stdout(&["bulletin"]);
    assert!(md.contains("No instance active in the last hour."), "{md}");
    assert!(md.contains("## Pending handoffs\n\n- none\n"), "{md}");
}

/// A team-sized pool: `instances` instances with a live session each, and
/// `claims` open claims spread over them (issue 24).
fn big_pool(w: &World, instances: usize, claims: usize) {
    let t = now();
    let entries: Vec<Value> = (0..claims)
        .map(|i| {
            json!({"id": format!("c{i}"), "timestamp": t - 1200 + (i * 1000 / claims) as i64,
                   "source_instance": format!("I{:03}", i % instances), "session_id": "s",
                   "action": "claimed", "topic": format!("Work item {i}"),
                   "affects": format!("src/m{}/f{i}.rs", i % 7), "ttl": 14_400,
                   "cwd": w.repo()})
        })
        .collect();
    w.append_raw(&entries);
    for i in 0..instances {
        w.write_presence(&Presence {
            instance: format!("I{i:03}"),
            session_id: format!("s-{i}"),
            cwd: Some(w.repo().display().to_string()),
            host: "h".into(),
            first_seen: t - 600,
            last_seen: t - 5,
            ..Presence::default()
        });
    }
}

/// Most lines `pool status` prints by default, whatever the pool holds:
/// a summary, 5 conflicts and their tail, 50 instance sections of at most
/// 1 + 1 + (5 + 1) × 4 + 1 lines, and a few closing lines.
const STATUS_MAX_LINES: usize = 1 + 6 + 50 * 27 + 8;

#[test]
fn status_output_is_bounded_on_a_big_pool_and_says_what_it_left_out() {
    let w = World::new();
    big_pool(&w, 60, 3000);
    let text = w.stdout(&["status"]);
    let lines = text.lines().count();
    assert!(lines <= STATUS_MAX_LINES, "{lines} lines");
    // 60 instances, 50 claims each: 5 shown, the rest counted.
    assert!(
        text.contains("\n  … and 45 more claims (pool status --limit N)\n"),
        "{text}"
    );
    assert!(
        text.contains("\n… and 10 more instances (pool status --limit N)\n"),
        "{text}"
    );
    assert!(lines < 600, "{lines} lines: 50 sections of 10");
    // The flag shows more.
    let more = w.stdout(&["status", "--limit", "60"]);
    assert!(!more.contains("more instances"), "{more}");
    assert!(
        more.contains("\n  claims src/m0/f0.rs — \"Work item 0\""),
        "{more}"
    );
    assert!(
        more.lines().count() > 3000,
        "every claim: {}",
        more.lines().count()
    );
    // JSON is bounded the same way, with totals.
    let st = w.status_json();
    let i0 = instance(&st, "I000");
    assert_eq!(i0["claims"].as_array().unwrap().len(), 5);
    assert_eq!(i0["totals"]["claims"], 50);
    assert_eq!(st["instances"].as_array().unwrap().len(), 60);
}

#[test]
fn who_is_bounded_on_a_big_pool_and_counts_the_rest() {
    let w = World::new();
    big_pool(&w, 60, 3000);
    let folder = w.repo().join("src/m0");
    let folder = folder.to_str().unwrap();
    // 3000 claims over 7 folders: 429 inside src/m0.
    let text = w.stdout(&["who", folder]);
    assert!(text.lines().count() <= 22, "{text}");
    assert!(
        text.ends_with("\n… and 409 more claims (pool who --limit N)\n"),
        "{text}"
    );
    let all = w.stdout(&["who", "--limit", "1000", folder]);
    assert_eq!(all.lines().count(), 429, "{all}");
}

#[test]
fn status_keeps_at_most_ten_thousand_claims_and_says_so() {
    let w = World::new();
    big_pool(&w, 20, 10_500);
    let text = w.stdout(&["status"]);
    assert!(
        text.contains(
            "\nnot kept: 500 open claims (newest 10000 kept and checked for conflicts)\n"
        ),
        "{text}"
    );
    // Every claim is still counted where its instance is shown.
    assert!(
        text.contains("\n  … and 520 more claims (pool status --limit N)\n"),
        "{text}"
    );
    let st = w.status_json();
    assert_eq!(st["left_out"]["claims"], 500);
    assert_eq!(instance(&st, "I000")["totals"]["claims"], 525);
}

/// Issue 24: at any pool size the bulletin lists a bounded number of
/// conflicts and says, as `pool status` does, what the board left out.
#[test]
fn bulletin_is_bounded_on_a_big_pool_and_says_what_it_left_out() {
    let w = World::new();
    big_pool(&w, 20, 10_500);
    // 30 instances claim the same file: 435 pairs, of which the board keeps 100.
    let t = now();
    let dup: Vec<Value> = (0..30)
        .map(|i| {
            json!({"id": format!("d{i}"), "timestamp": t - 10, "source_instance": format!("J{i:02}"),
                   "session_id": "s", "action": "claimed", "topic": format!("Same file {i}"),
                   "affects": "src/dup.rs", "ttl": 14_400, "cwd": w.repo()})
        })
        .collect();
    w.append_raw(&dup);
    let md = w.stdout(&["bulletin"]);
    assert_eq!(
        md.matches(" both claim src/dup.rs (ids `").count(),
        20,
        "{md}"
    );
    assert!(
        md.contains("\n- … and 80 more conflicting claims (pool status --limit N lists them)\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "\n## Left out\n\n- not kept: 530 open claims (newest 10000 kept and checked for conflicts)\n"
        ),
        "{md}"
    );
}

/// Issue 22, section 3: what `pool sync` brought from another machine's
/// "A" (its entries carry `via`, the stream it came from) is a row of its
/// own, labelled with its host and stream; this machine's A keeps its own
/// last entry, claims and blocks.
#[test]
fn another_machines_instance_is_its_own_row_in_status() {
    let w = World::new();
    w.event("pool-prompt", "A", "sa", "UserPromptSubmit", &w.repo());
    w.post("A", &["--action", "completed", "--topic", "Local work"]);
    let t = now();
    // As `pool sync` stores them: the sender's fields, plus `received` and
    // `via` stamped here.
    let remote = |id: &str, action: &str, topic: &str, extra: Value| {
        let mut e = json!({"id": id, "timestamp": t - 5, "source_instance": "A",
            "session_id": "r1", "action": action, "topic": topic, "host": "laptop",
            "cwd": w.repo(), "received": t - 1, "via": "alice"});
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        e
    };
    w.append_raw(&[
        remote(
            "r-claim",
            "claimed",
            "Remote claim",
            json!({"affects": "src/remote.rs"}),
        ),
        remote("r-block", "blocked", "Remote wait", json!({})),
        remote(
            "r-done",
            "completed",
            "Remote work",
            json!({"timestamp": t - 2}),
        ),
    ]);

    let st = w.status_json();
    let names: Vec<&str> = st["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(&i["instance"]))
        .collect();
    assert_eq!(names.len(), 2, "two rows: {names:?}");
    let a = instance(&st, "A");
    assert_eq!(a["last_entry"]["topic"], "Local work", "{st}");
    assert_eq!(a["claims"], json!([]), "{st}");
    assert_eq!(a["blocked"], json!([]), "{st}");
    assert_eq!(a["sessions"].as_array().unwrap().len(), 1);
    let r = instance(&st, "A@laptop (synced from alice)");
    assert_eq!(r["last_entry"]["topic"], "Remote work", "{st}");
    assert_eq!(r["claims"][0]["topic"], "Remote claim", "{st}");
    assert_eq!(r["blocked"][0]["topic"], "Remote wait", "{st}");
    assert_eq!(r["sessions"], json!([]), "presence is never synced");

    let text = w.stdout(&["status"]);
    assert!(text.contains("A@laptop (synced from alice)"), "{text}");
    let local = text
        .split("\n\n")
        .find(|sec| sec.starts_with("A — "))
        .unwrap_or_else(|| panic!("no section for A: {text}"));
    assert!(
        local.contains("Local work") && !local.contains("Remote"),
        "{text}"
    );
}
