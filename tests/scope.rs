//! Repository scope and membership, end to end with the real binaries and
//! real git repositories (issue 13): two repositories sharing one pool do not
//! see each other; worktrees of one repository and clones of one remote do;
//! a session that is not a member prints and writes nothing; `pool init`
//! makes a member with a sensible name; the original Python hooks' pools
//! still read.

mod common;
use common::{exe, make_pool};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct World {
    tmp: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        World {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn pool(&self) -> PathBuf {
        self.path("pool")
    }

    /// Runs `bin` in `dir` with a clean environment: HOME and POOL_DIR in
    /// the temp dir, CLAUDE_INSTANCE only when `instance` is given.
    fn run(
        &self,
        bin: &str,
        dir: &Path,
        instance: Option<&str>,
        args: &[&str],
        stdin: &str,
    ) -> Output {
        if bin == "pool" && args.first() == Some(&"post") {
            make_pool(&self.pool());
        }
        let mut cmd = Command::new(exe(bin));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("POOL_DIR", self.pool())
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(i) = instance {
            cmd.env("CLAUDE_INSTANCE", i);
        }
        let mut child = cmd.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    }

    fn ok(
        &self,
        bin: &str,
        dir: &Path,
        instance: Option<&str>,
        args: &[&str],
        stdin: &str,
    ) -> String {
        let out = self.run(bin, dir, instance, args, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{bin} {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn post(&self, dir: &Path, instance: &str, args: &[&str]) {
        let mut all = vec!["post"];
        all.extend_from_slice(args);
        self.ok("pool", dir, Some(instance), &all, "");
    }

    fn session_start(&self, dir: &Path, instance: Option<&str>, session: &str) -> String {
        let stdin = json!({"session_id": session, "hook_event_name": "SessionStart",
                           "source": "startup", "cwd": dir})
        .to_string();
        self.ok("pool-session-start", dir, instance, &[], &stdin)
    }

    /// What the guard tells the model about editing `file` (empty: nothing).
    fn guard(&self, dir: &Path, instance: Option<&str>, session: &str, file: &Path) -> String {
        let stdin = json!({"session_id": session, "hook_event_name": "PreToolUse",
                           "cwd": dir, "tool_name": "Edit",
                           "tool_input": {"file_path": file, "old_string": "a", "new_string": "b"}})
        .to_string();
        let out = self.ok("pool-guard", dir, instance, &[], &stdin);
        if out.trim().is_empty() {
            return String::new();
        }
        // A warning, or (POOL_CLAIMS=deny-once, the default) a refusal's reason.
        let v: Value = serde_json::from_str(&out).unwrap();
        let h = &v["hookSpecificOutput"];
        h["additionalContext"]
            .as_str()
            .or(h["permissionDecisionReason"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.pool().join("instance_state.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git must be installed to run these tests");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository at `dir`, with `origin` when given.
fn repo(dir: &Path, origin: Option<&str>) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    if let Some(o) = origin {
        git(dir, &["remote", "add", "origin", o]);
    }
    std::fs::write(dir.join("README.md"), "# r\n").unwrap();
    dir.to_path_buf()
}

#[test]
fn two_repositories_sharing_a_pool_do_not_see_each_other() {
    let w = World::new();
    let x = repo(&w.path("x"), Some("https://github.com/acme/x.git"));
    let y = repo(&w.path("y"), Some("git@github.com:acme/y.git"));
    // A works in X: a claim on README.md, a finished task, a recent edit.
    w.post(
        &x,
        "A",
        &[
            "--action",
            "claimed",
            "--topic",
            "Docs rewrite",
            "--affects",
            "README.md",
        ],
    );
    w.post(
        &x,
        "A",
        &[
            "--action",
            "completed",
            "--topic",
            "X parser done",
            "--blocks",
            "anyone",
        ],
    );
    assert_eq!(w.guard(&x, Some("A"), "sa", &x.join("src/main.rs")), "");
    let lines = w.log_lines();
    assert!(
        lines.iter().all(|e| e["repo"] == "github.com/acme/x"),
        "{lines:?}"
    );

    // B in Y sees none of it.
    let ss = w.session_start(&y, Some("B"), "sb");
    assert!(
        !ss.contains("Docs rewrite") && !ss.contains("X parser"),
        "{ss}"
    );
    assert!(!ss.contains("## Session Context"), "nothing in scope: {ss}");
    assert_eq!(
        w.guard(&y, Some("B"), "sb", &y.join("README.md")),
        "",
        "claim crossed repos"
    );
    assert_eq!(
        w.guard(&y, Some("B"), "sb", &y.join("src/main.rs")),
        "",
        "edit crossed repos"
    );
    let who = w.ok("pool", &y, None, &["who", "README.md"], "");
    assert!(
        !who.contains("A claimed") && who.contains("B edited README.md"),
        "{who}"
    );
    let who = w.ok("pool", &y, None, &["who", "src/main.rs"], "");
    assert!(!who.contains("A edited"), "{who}");
    let q = w.ok("pool-query", &y, None, &[], "");
    assert!(q.contains("No pool entries found"), "{q}");
    let status = w.ok("pool", &y, None, &["status", "--json"], "");
    let status: Value = serde_json::from_str(&status).unwrap();
    let names: Vec<&str> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"A"), "{status}");
    let bulletin = w.ok("pool", &y, None, &["bulletin"], "");
    assert!(!bulletin.contains("## A"), "{bulletin}");
    // News mid-session: B's next prompt does not carry X's entries.
    let prompt = json!({"session_id": "sb", "hook_event_name": "UserPromptSubmit", "cwd": y, "prompt": "hi"}).to_string();
    w.post(
        &x,
        "A",
        &["--action", "completed", "--topic", "X news item"],
    );
    let news = w.ok("pool-prompt", &y, Some("B"), &[], &prompt);
    assert!(!news.contains("X news item"), "{news}");

    // In X, the same things are seen: the scoping is what hides them.
    let ss = w.session_start(&x, Some("C"), "sc");
    assert!(
        ss.contains("Docs rewrite") && ss.contains("X parser done"),
        "{ss}"
    );
    let warn = w.guard(&x, Some("C"), "sc", &x.join("README.md"));
    assert!(warn.contains("A claimed README.md"), "{warn}");
    let warn = w.guard(&x, Some("C"), "sc", &x.join("src/main.rs"));
    assert!(warn.contains("A edited src/main.rs"), "{warn}");

    // Widening by hand.
    let q = w.ok("pool-query", &y, None, &["--all-repos"], "");
    assert!(q.contains("Docs rewrite"), "{q}");
    let q = w.ok("pool-query", &y, None, &["--repo", "acme/x"], "");
    assert!(q.contains("Docs rewrite"), "{q}");
    let q = w.ok("pool-query", &y, None, &["--repo", "github.com/acme/y"], "");
    assert!(q.contains("No pool entries found"), "{q}");
    let status = w.ok("pool", &y, None, &["status", "--all-repos", "--json"], "");
    assert!(status.contains("\"A\""), "{status}");
}

#[test]
fn worktrees_of_one_repository_see_each_others_claims_and_recent_edits() {
    let w = World::new();
    let main = repo(&w.path("app"), None);
    git(&main, &["add", "README.md"]);
    git(&main, &["commit", "-q", "-m", "init"]);
    git(
        &main,
        &["worktree", "add", "-q", "-b", "pool/A", "../app-A"],
    );
    git(
        &main,
        &["worktree", "add", "-q", "-b", "pool/B", "../app-B"],
    );
    let (a, b) = (w.path("app-A"), w.path("app-B"));
    std::fs::create_dir_all(a.join("src/db")).unwrap();
    std::fs::create_dir_all(b.join("src/db")).unwrap();

    // B edits app-B/src/db/schema.rs; then A edits the same file in app-A.
    assert_eq!(
        w.guard(&b, Some("B"), "sb", &b.join("src/db/schema.rs")),
        ""
    );
    let warn = w.guard(&a, Some("A"), "sa", &a.join("src/db/schema.rs"));
    assert!(
        warn.contains("B edited src/db/schema.rs"),
        "recent edit across worktrees: {warn:?}"
    );
    // But not another file of the same name elsewhere in the tree.
    assert_eq!(w.guard(&a, Some("A"), "sa", &a.join("schema.rs")), "");

    // Claims: relative to the repository root, and absolute paths in the
    // claimer's worktree, both cover the file in the other worktree.
    w.post(
        &b,
        "B",
        &[
            "--action",
            "claimed",
            "--topic",
            "Auth",
            "--affects",
            "src/auth.rs",
        ],
    );
    let abs = b.join("src/net").to_string_lossy().into_owned();
    w.post(
        &b,
        "B",
        &["--action", "claimed", "--topic", "Net", "--affects", &abs],
    );
    let warn = w.guard(&a, Some("A"), "sa", &a.join("src/auth.rs"));
    assert!(warn.contains("B claimed src/auth.rs"), "{warn:?}");
    let warn = w.guard(&a, Some("A"), "sa", &a.join("src/net/tcp.rs"));
    assert!(warn.contains("B claimed"), "{warn:?}");
    // Relative AFFECTS resolve against the root, not anywhere in the path.
    assert_eq!(
        w.guard(&a, Some("A"), "sa", &a.join("vendor/src/auth.rs")),
        ""
    );
    // pool who from the other worktree.
    let who = w.ok("pool", &a, None, &["who", "src/db/schema.rs"], "");
    assert!(who.contains("B edited src/db/schema.rs"), "{who}");
    let who = w.ok("pool", &a, None, &["who", "src/auth.rs"], "");
    assert!(who.contains("B claimed src/auth.rs"), "{who}");
    // The entries carry the repository's id, the same from every worktree.
    let ids: std::collections::HashSet<String> = w
        .log_lines()
        .iter()
        .map(|e| e["repo"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[test]
fn two_clones_of_one_remote_share_a_scope() {
    let w = World::new();
    let c1 = repo(
        &w.path("work/one"),
        Some("https://user:secret@GitHub.com/Acme/Shared.git"),
    );
    let c2 = repo(
        &w.path("elsewhere/two"),
        Some("ssh://git@github.com/acme/shared"),
    );
    w.post(
        &c1,
        "A",
        &[
            "--action",
            "claimed",
            "--topic",
            "Schema work",
            "--affects",
            "src/schema.rs",
        ],
    );
    let ss = w.session_start(&c2, Some("B"), "sb");
    assert!(ss.contains("Schema work"), "{ss}");
    let warn = w.guard(&c2, Some("B"), "sb", &c2.join("src/schema.rs"));
    assert!(warn.contains("A claimed src/schema.rs"), "{warn:?}");
    let lines = w.log_lines();
    assert_eq!(
        lines[0]["repo"], "github.com/acme/shared",
        "credentials, case and .git dropped"
    );
    assert!(!lines[0].to_string().contains("secret"));
}

#[test]
fn a_session_that_is_not_a_member_prints_nothing_and_writes_nothing() {
    let w = World::new();
    let lone = w.path("scratch/notes");
    std::fs::create_dir_all(&lone).unwrap();
    let transcript = w.path("t.jsonl");
    std::fs::write(
        &transcript,
        "{\"type\":\"assistant\",\"uuid\":\"u1\",\"message\":{\"id\":\"m1\",\"content\":[{\"type\":\"text\",\"text\":\"```pool\\nACTION: completed\\nTOPIC: Lonely\\n```\"}]}}\n",
    )
    .unwrap();
    let base = json!({"session_id": "s1", "cwd": lone, "transcript_path": transcript});
    let with = |event: &str, extra: Value| {
        let mut v = base.clone();
        v["hook_event_name"] = json!(event);
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v.to_string()
    };
    let calls = [
        (
            "pool-session-start",
            with("SessionStart", json!({"source": "startup"})),
        ),
        (
            "pool-prompt",
            with("UserPromptSubmit", json!({"prompt": "hi"})),
        ),
        (
            "pool-guard",
            with(
                "PreToolUse",
                json!({"tool_name": "Write", "tool_input": {"file_path": lone.join("a.md"), "content": "x"}}),
            ),
        ),
        (
            "pool-stop",
            with(
                "Stop",
                json!({"last_assistant_message": "```pool\nACTION: completed\nTOPIC: Lonely\n```"}),
            ),
        ),
        ("pool-stop", with("SessionEnd", json!({}))),
        ("pool-stop", "not json at all".to_string()),
    ];
    for (bin, stdin) in &calls {
        let out = w.run(bin, &lone, None, &[], stdin);
        assert_eq!(out.status.code(), Some(0), "{bin}");
        assert!(
            out.stdout.is_empty(),
            "{bin} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            out.stderr.is_empty(),
            "{bin} said {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!w.pool().exists(), "a non-member wrote to the pool");
    // The same session with CLAUDE_INSTANCE is a member and is heard.
    let ss = w.session_start(&lone, Some("A"), "s2");
    assert!(ss.contains("Pool: when you complete"), "the reminder: {ss}");
    assert!(w.pool().join("presence").is_dir());
    // pool doctor says why a session is or is not a member.
    let doc = w.run("pool", &lone, None, &["doctor"], "");
    let text = String::from_utf8_lossy(&doc.stdout);
    assert!(
        text.contains("not a pool member") && text.contains("pool init"),
        "{text}"
    );
    let doc = w.run("pool", &lone, Some("A"), &["doctor"], "");
    let text = String::from_utf8_lossy(&doc.stdout);
    assert!(text.contains("member: CLAUDE_INSTANCE=A"), "{text}");
}

#[test]
fn pool_init_makes_a_member_with_a_sensible_name() {
    let w = World::new();
    let main = repo(&w.path("shop"), Some("https://github.com/acme/shop"));
    git(&main, &["add", "README.md"]);
    git(&main, &["commit", "-q", "-m", "init"]);
    git(
        &main,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feature/cart",
            "../shop-cart",
        ],
    );
    let wt = w.path("shop-cart");
    // Before init: not a member.
    assert_eq!(w.session_start(&wt, None, "s0"), "");
    let out = w.ok("pool", &main, None, &["init"], "");
    assert!(out.contains(".claude/pool.json"), "{out}");
    let file = main.join(".claude/pool.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["instance_from"], "worktree");
    // Running it again changes nothing and says so.
    let again = w.ok("pool", &main, None, &["init"], "");
    assert!(again.contains("already"), "{again}");
    // Committed, it reaches the other worktree as a clone would get it.
    git(&main, &["add", ".claude/pool.json"]);
    git(&main, &["commit", "-q", "-m", "pool"]);
    git(&wt, &["merge", "-q", "main"]);
    let stop = json!({"session_id": "s1", "hook_event_name": "Stop", "cwd": wt,
                      "last_assistant_message": "```pool\nACTION: completed\nTOPIC: Cart totals\n```"})
    .to_string();
    w.ok("pool-stop", &wt, None, &[], &stop);
    let lines = w.log_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["source_instance"], "shop-cart");
    assert_eq!(lines[0]["repo"], "github.com/acme/shop");
    let ss = w.session_start(&wt, None, "s1");
    assert!(
        ss.contains("**Instance**: shop-cart") && ss.contains("Cart totals"),
        "{ss}"
    );
    // CLAUDE_INSTANCE still wins.
    assert!(
        w.session_start(&wt, Some("DEV"), "s2")
            .contains("**Instance**: DEV")
    );
    // --name-from branch names sessions after the branch.
    let other = repo(&w.path("lib"), None);
    git(&other, &["symbolic-ref", "HEAD", "refs/heads/fix/leak"]);
    w.ok("pool", &other, None, &["init", "--name-from", "branch"], "");
    let stop = json!({"session_id": "s3", "hook_event_name": "Stop", "cwd": other,
                      "last_assistant_message": "```pool\nACTION: completed\nTOPIC: Leak fixed\n```"})
    .to_string();
    w.ok("pool-stop", &other, None, &[], &stop);
    let last = w.log_lines().pop().unwrap();
    assert_eq!(
        (last["source_instance"].as_str(), last["topic"].as_str()),
        (Some("fix-leak"), Some("Leak fixed"))
    );
    let doc = w.run("pool", &wt, None, &["doctor"], "");
    let text = String::from_utf8_lossy(&doc.stdout);
    assert!(
        text.contains("member:") && text.contains("pool.json") && text.contains("shop-cart"),
        "{text}"
    );
}

/// Lines exactly as the original Python hooks wrote them (`json.dumps` of
/// their dict: `baseline_stop.py` and the pool generator's extra `relevance`).
fn python_lines(now: i64) -> String {
    let mut s = String::new();
    for (i, (inst, topic)) in [("A", "Python era parser"), ("B", "Python era cache")]
        .iter()
        .enumerate()
    {
        s.push_str(&format!(
            "{{\"id\": \"0000000{i}-1111-4222-8333-444455556666\", \"timestamp\": {}, \"source_instance\": \"{inst}\", \"session_id\": \"abcd123{i}\", \"action\": \"completed\", \"topic\": \"{topic}\", \"summary\": \"done\", \"affects\": \"src/p.py\", \"blocks\": \"\", \"ttl\": 3600}}\n",
            now - 60 - i as i64
        ));
    }
    s.push_str(&format!(
        "{{\"id\": \"99999999-1111-4222-8333-444455556666\", \"timestamp\": {}, \"source_instance\": \"C\", \"session_id\": \"ffff0000\", \"action\": \"blocked\", \"topic\": \"Python era blocker\", \"summary\": \"s\", \"relevance\": {{\"A\": 0.5, \"B\": 0.1}}, \"affects\": \"src/q.py\", \"blocks\": \"Refactor can proceed\", \"ttl\": 3600}}\n",
        now - 30
    ));
    s
}

#[test]
fn the_original_python_hooks_pools_still_read() {
    let w = World::new();
    let x = repo(&w.path("x"), Some("https://github.com/acme/x"));
    std::fs::create_dir_all(w.pool()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let log = w.pool().join("instance_state.jsonl");
    // And an entry of this project's own earlier versions: a cwd, no repo.
    let ours_before = format!(
        "{{\"id\":\"old-ours\",\"timestamp\":{},\"source_instance\":\"D\",\"session_id\":\"s\",\"action\":\"completed\",\"topic\":\"Earlier claude-pool entry\",\"summary\":\"\",\"affects\":\"\",\"blocks\":\"\",\"cwd\":\"{}\"}}\n",
        now - 20,
        x.display()
    );
    std::fs::write(&log, format!("{}{ours_before}", python_lines(now))).unwrap();
    let before = std::fs::read_to_string(&log).unwrap();

    // Readable: every line parses and is listed under --all-repos.
    let q = w.ok("pool-query", &x, None, &["--all-repos", "--json"], "");
    assert_eq!(q.lines().count(), 4, "{q}");
    let q = w.ok("pool-query", &x, None, &["--all-repos"], "");
    for t in [
        "Python era parser",
        "Python era cache",
        "Python era blocker",
        "Earlier claude-pool entry",
    ] {
        assert!(q.contains(t), "{t}: {q}");
    }
    // Default scope: entries without a repository show only where their cwd
    // names this worktree; the Python ones name no folder.
    let q = w.ok("pool-query", &x, None, &[], "");
    assert!(
        q.contains("Earlier claude-pool entry") && !q.contains("Python era"),
        "{q}"
    );
    let ss = w.session_start(&x, Some("A"), "s1");
    assert!(
        ss.contains("Earlier claude-pool entry") && !ss.contains("Python era"),
        "{ss}"
    );
    // A shared scope of every repository shows them all again.
    std::fs::write(
        w.pool().join("config.json"),
        r#"{"scopes": {"everything": ["*"]}}"#,
    )
    .unwrap();
    let ss = w.session_start(&x, Some("A"), "s2");
    assert!(
        ss.contains("Python era blocker") && ss.contains("Python era cache"),
        "{ss}"
    );
    std::fs::remove_file(w.pool().join("config.json")).unwrap();

    // gc and doctor --repair never drop them for lacking the field.
    w.ok("pool", &x, None, &["gc"], "");
    w.run("pool", &x, None, &["doctor", "--repair"], "");
    // (They may gain this machine's append stamp; nothing else changes.)
    let after: Vec<Value> = w.log_lines();
    for line in before.lines() {
        let mut old: Value = serde_json::from_str(line).unwrap();
        let kept: Vec<&Value> = after.iter().filter(|e| e["id"] == old["id"]).collect();
        assert_eq!(kept.len(), 1, "dropped or doubled: {line}");
        let mut new = kept[0].clone();
        new.as_object_mut().unwrap().remove("local");
        old.as_object_mut().unwrap().remove("local");
        assert_eq!(new, old, "changed: {line}");
    }
    let doc = w.run("pool", &x, None, &["doctor"], "");
    let text = String::from_utf8_lossy(&doc.stdout);
    assert!(text.contains("4 entries, all parse"), "{text}");
}
