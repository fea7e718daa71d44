//! The guard on shell commands, end to end with the real binaries: a Bash
//! call that writes another instance's claimed or recently edited file, a
//! `git commit` that would take one, a push of a branch another session has
//! checked out, and a branch switch in a worktree another session works in
//! are refused once; what a shell call changed is recorded as an edit.

mod common;
use common::{exe, feed, git, make_pool};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

struct Team {
    tmp: tempfile::TempDir,
}

impl Team {
    /// A repository with one commit of `src/auth.rs`, `src/db.rs` and `notes.txt`.
    fn new() -> Self {
        let t = Team {
            tmp: tempfile::tempdir().unwrap(),
        };
        let r = t.repo();
        // `pool post` refuses a POOL_DIR that names no folder (a likely typo).
        make_pool(&t.tmp.path().join("pool"));
        std::fs::create_dir_all(r.join("src")).unwrap();
        for f in ["src/auth.rs", "src/db.rs", "notes.txt"] {
            std::fs::write(r.join(f), format!("{f}: a\n")).unwrap();
        }
        git(&r, &["init", "-q", "-b", "main"]);
        git(&r, &["add", "."]);
        git(&r, &["commit", "-qm", "init"]);
        t
    }

    fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    fn run(
        &self,
        bin: &str,
        instance: &str,
        args: &[&str],
        stdin: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = Command::new(exe(bin));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("POOL_DIR", self.tmp.path().join("pool"))
            .env("CLAUDE_INSTANCE", instance)
            .current_dir(self.repo())
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = feed(&mut cmd, stdin.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{bin}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn claim(&self, instance: &str, topic: &str, affects: &str) {
        self.run(
            "pool",
            instance,
            &[
                "post",
                "--action",
                "claimed",
                "--topic",
                topic,
                "--affects",
                affects,
            ],
            "",
            &[],
        );
    }

    /// The guard's answer to a Bash call of `session` running `command` in `cwd`.
    fn bash_in(
        &self,
        instance: &str,
        session: &str,
        cwd: &Path,
        command: &str,
        env: &[(&str, &str)],
    ) -> Option<Value> {
        let input = json!({"session_id": session, "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": format!("call-{command}"), "tool_input": {"command": command, "description": "x"}, "cwd": cwd});
        let out = self.run("pool-guard", instance, &[], &input.to_string(), env);
        let text = String::from_utf8(out.stdout).unwrap();
        (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
    }

    fn bash(&self, instance: &str, session: &str, command: &str) -> Option<Value> {
        self.bash_in(instance, session, &self.repo(), command, &[])
    }

    fn post_tool(&self, instance: &str, session: &str, command: &str) {
        let input = json!({"session_id": session, "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": format!("call-{command}"), "tool_input": {"command": command}, "tool_response": {"stdout": "", "stderr": "", "interrupted": false}, "cwd": self.repo()});
        self.run("pool-post-tool", instance, &[], &input.to_string(), &[]);
    }

    fn edit(&self, instance: &str, session: &str, file: &Path) -> Option<Value> {
        let input = json!({"session_id": session, "hook_event_name": "PreToolUse", "tool_name": "Edit", "tool_input": {"file_path": file, "old_string": "a", "new_string": "b"}, "cwd": self.repo()});
        let out = self.run("pool-guard", instance, &[], &input.to_string(), &[]);
        let text = String::from_utf8(out.stdout).unwrap();
        (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
    }
}

fn denied(out: Option<Value>) -> String {
    let out = out.expect("a decision");
    assert_eq!(
        out["hookSpecificOutput"]["permissionDecision"], "deny",
        "{out}"
    );
    out["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_shell_write_of_a_claimed_file_is_refused_once_in_every_spelling() {
    let t = Team::new();
    t.claim("B", "Auth token refresh", "src/auth.rs");
    let why = denied(t.bash("A", "sa", "sed -i s/a/b/ src/auth.rs"));
    assert!(
        why.contains("B claimed src/auth.rs")
            && why.contains("Auth token refresh")
            && why.contains("src/auth.rs (sed -i)")
            && why.contains("run it again within 5 minutes"),
        "{why}"
    );
    // The retry goes through.
    assert_eq!(t.bash("A", "sa", "sed -i s/a/b/ src/auth.rs"), None);
    for (session, cmd) in [
        ("s1", "echo x > src/auth.rs"),
        ("s2", "cd src && echo x >> auth.rs"),
        ("s3", "cat <<'EOF' | tee -a \"src/auth.rs\"\nhello\nEOF"),
        ("s4", "ls; cp notes.txt src/auth.rs"),
        ("s5", "rm -rf src"),
        ("s6", "git checkout -- src/auth.rs"),
        ("s7", "git restore src/auth.rs"),
        ("s8", "rustfmt src/auth.rs"),
        ("s9", "mv src/auth.rs src/old.rs"),
    ] {
        let why = denied(t.bash("A", session, cmd));
        assert!(why.contains("B claimed src/auth.rs"), "{cmd}: {why}");
    }
    // Reading it, or writing another file, says nothing.
    for cmd in [
        "cat src/auth.rs",
        "grep a src/auth.rs > notes.txt",
        "echo 'x > src/auth.rs'",
        "cargo test",
    ] {
        assert_eq!(t.bash("A", "s10", cmd), None, "{cmd}");
    }
    // The claimer itself is not refused.
    assert_eq!(t.bash("B", "sb", "echo x > src/auth.rs"), None);
    // Block refuses every time; warn lets it through with a note.
    let block = [("POOL_CLAIMS", "block")];
    let r = t.repo();
    denied(t.bash_in("E", "se", &r, "echo x > src/auth.rs", &block));
    let why = denied(t.bash_in("E", "se", &r, "echo x > src/auth.rs", &block));
    assert!(why.contains("POOL_CLAIMS=block"), "{why}");
    let warn = t
        .bash_in(
            "F",
            "sf",
            &r,
            "echo x > src/auth.rs",
            &[("POOL_CLAIMS", "warn")],
        )
        .unwrap();
    assert!(
        warn["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .unwrap()
            .contains("B claimed"),
        "{warn}"
    );
}

#[test]
fn what_a_shell_command_changed_counts_as_a_recent_edit() {
    let t = Team::new();
    let file = t.repo().join("src/db.rs");
    // A's command passes (nobody claims the file), then changes it.
    let cmd = "sed -i s/a/b/ src/db.rs && touch untouched-by-this-test";
    assert_eq!(t.bash("A", "sa", cmd), None);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&file, "changed\n").unwrap();
    t.post_tool("A", "sa", cmd);
    // Now C's edit of that file is refused: A edited it.
    let why = denied(t.edit("C", "sc", &file));
    assert!(why.contains("A edited src/db.rs"), "{why}");
    // A command that named a file but did not change it records nothing.
    let cmd = "sed -i s/zzz/y/ notes.txt";
    assert_eq!(t.bash("A", "sa", cmd), None);
    t.post_tool("A", "sa", cmd);
    assert_eq!(t.edit("C", "sc", &t.repo().join("notes.txt")), None);
}

#[test]
fn a_commit_that_would_take_a_claimed_file_is_refused_before_it_exists() {
    let t = Team::new();
    let r = t.repo();
    t.claim("B", "Auth", "src/auth.rs");
    // Staged: plain `git commit` takes it.
    std::fs::write(r.join("src/auth.rs"), "mine\n").unwrap();
    git(&r, &["add", "src/auth.rs"]);
    let why = denied(t.bash("A", "sa", "git commit -m 'wip'"));
    assert!(
        why.contains("git commit would take src/auth.rs") && why.contains("B claimed src/auth.rs"),
        "{why}"
    );
    // A commit of other files only is fine.
    std::fs::write(r.join("notes.txt"), "more\n").unwrap();
    assert_eq!(t.bash("A", "sa2", "git commit -m x notes.txt"), None);
    git(&r, &["reset", "-q", "src/auth.rs"]);
    // Not staged: plain commit leaves it, `-a` takes it, so does naming it.
    assert_eq!(t.bash("A", "sa3", "git commit -m x"), None);
    let why = denied(t.bash("A", "sa4", "git commit -am x"));
    assert!(why.contains("src/auth.rs"), "{why}");
    let why = denied(t.bash("A", "sa5", "cd src && git commit -m x auth.rs"));
    assert!(why.contains("src/auth.rs"), "{why}");
    // Nothing was committed by any of this.
    let log = Command::new("git")
        .args(["rev-list", "--count", "HEAD"])
        .current_dir(&r)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "1");
}

#[test]
fn branch_switches_and_pushes_under_another_live_session_are_refused_once() {
    let t = Team::new();
    let r = t.repo();
    // B works in the same worktree (any hook call records where).
    assert_eq!(t.bash("B", "sb", "ls"), None);
    assert_eq!(t.edit("B", "sb", &r.join("src/db.rs")), None);
    for (session, cmd) in [
        ("s1", "git checkout -b other"),
        ("s2", "git switch main"),
        ("s3", "git reset --hard HEAD"),
        ("s4", "git stash"),
        ("s5", "git rebase main"),
        ("s6", "git clean -fd"),
    ] {
        let why = denied(t.bash("A", session, cmd));
        assert!(
            why.contains("B (session sb") && why.contains("on branch main"),
            "{cmd}: {why}"
        );
    }
    // The retry goes through; a read-only git command never stops.
    assert_eq!(t.bash("A", "s1", "git checkout -b other"), None);
    assert_eq!(t.bash("A", "s7", "git status && git log -1"), None);
    // In a worktree of its own, A's switch is its own business.
    let wt = t.tmp.path().join("wt");
    git(
        &r,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feature",
            wt.to_str().unwrap(),
        ],
    );
    assert_eq!(t.bash_in("A", "s8", &wt, "git checkout -b mine", &[]), None);
    // A forced push of the branch B has checked out is refused, of A's own not.
    git(&wt, &["checkout", "-q", "feature"]);
    let why = denied(t.bash_in("A", "s8", &wt, "git push --force origin main", &[]));
    assert!(
        why.contains("git push --force of branch main") && why.contains("works on branch main"),
        "{why}"
    );
    assert_eq!(
        t.bash_in("A", "s8", &wt, "git push --force origin feature", &[]),
        None
    );
    // HEAD did not move under B.
    let head = std::fs::read_to_string(r.join(".git/HEAD")).unwrap();
    assert_eq!(head.trim(), "ref: refs/heads/main");
}
