//! One file, many spellings (issue 23, section 3), end to end with the real
//! binaries: a path through a symlinked folder, a path in another worktree
//! of the repository, and a Codex patch of thousands of files all reach the
//! claim they touch.

mod common;
use common::{exe, git, make_pool};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct Team {
    tmp: tempfile::TempDir,
}

impl Team {
    /// A git repository `repo` with one commit of `src/auth.rs` and `src/db.rs`.
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        // The temporary folder itself may be reached through a symlink (macOS).
        let t = Team { tmp };
        let r = t.repo();
        make_pool(&t.root().join("pool"));
        std::fs::create_dir_all(r.join("src")).unwrap();
        for f in ["src/auth.rs", "src/db.rs"] {
            std::fs::write(r.join(f), format!("{f}: a\n")).unwrap();
        }
        git(&r, &["init", "-q", "-b", "main"]);
        git(&r, &["add", "."]);
        git(&r, &["commit", "-qm", "init"]);
        t
    }

    fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.tmp.path()).unwrap()
    }

    fn repo(&self) -> PathBuf {
        self.root().join("repo")
    }

    fn run(&self, bin: &str, instance: &str, cwd: &Path, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(exe(bin));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root())
            .env("POOL_DIR", self.root().join("pool"))
            .env("CLAUDE_INSTANCE", instance)
            .current_dir(cwd)
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
            "{bin}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `instance` claims `affects`, posting from the main worktree.
    fn claim(&self, instance: &str, affects: &str) {
        let args = [
            "post",
            "--action",
            "claimed",
            "--topic",
            "Auth",
            "--affects",
            affects,
        ];
        self.run("pool", instance, &self.repo(), &args, "");
    }

    /// The guard's answer to one tool call of `session` in `cwd`.
    fn guard(
        &self,
        instance: &str,
        session: &str,
        cwd: &Path,
        tool: &str,
        input: Value,
    ) -> Option<Value> {
        let call = json!({"session_id": session, "hook_event_name": "PreToolUse", "tool_name": tool, "tool_use_id": "call-1", "tool_input": input, "cwd": cwd});
        let out = self.run("pool-guard", instance, cwd, &[], &call.to_string());
        let text = String::from_utf8(out.stdout).unwrap();
        (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
    }

    fn edit(&self, instance: &str, session: &str, cwd: &Path, file: &Path) -> Option<Value> {
        let input = json!({"file_path": file, "old_string": "a", "new_string": "b"});
        self.guard(instance, session, cwd, "Edit", input)
    }

    fn bash(&self, instance: &str, session: &str, cwd: &Path, command: &str) -> Option<Value> {
        self.guard(instance, session, cwd, "Bash", json!({"command": command}))
    }

    fn patch(&self, instance: &str, session: &str, cwd: &Path, patch: &str) -> Option<Value> {
        self.guard(
            instance,
            session,
            cwd,
            "apply_patch",
            json!({"command": patch}),
        )
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

#[cfg(unix)]
#[test]
fn a_path_through_a_symlinked_folder_is_the_claimed_file() {
    let t = Team::new();
    let link = t.root().join("link");
    std::os::unix::fs::symlink(t.repo(), &link).unwrap();
    t.claim("B", "src/auth.rs, src/gen/");
    // The session works in the real folder and names the file through the link.
    let why = denied(t.edit("A", "sa", &t.repo(), &link.join("src/auth.rs")));
    assert!(why.contains("B claimed src/auth.rs"), "{why}");
    // Its retry goes through and is recorded as the same file.
    assert!(
        t.edit("A", "sa", &t.repo(), &link.join("src/auth.rs"))
            .is_none()
    );
    // The reverse: the session works through the link, the path is the real one.
    let why = denied(t.edit("C", "sc", &link, &t.repo().join("src/auth.rs")));
    assert!(
        why.contains("B claimed src/auth.rs") && why.contains("A edited src/auth.rs"),
        "{why}"
    );
    // A file that does not exist yet, in a folder that does not either.
    denied(t.edit("D", "sd", &link, &link.join("src/gen/new/x.rs")));
    // The shell guard and a Codex patch resolve their paths the same way.
    denied(t.bash("E", "se", &t.repo(), "echo x > ../link/src/auth.rs"));
    let cmd = format!("sed -i s/a/b/ {}/src/auth.rs", t.repo().display());
    denied(t.bash("F", "sf", &link, &cmd));
    let patch = format!(
        "*** Begin Patch\n*** Update File: {}/src/auth.rs\n@@\n-a\n+b\n*** End Patch\n",
        link.display()
    );
    denied(t.patch("G", "sg", &t.repo(), &patch));
    // Another file in the folder is nobody's.
    assert!(
        t.edit("H", "sh", &t.repo(), &link.join("src/db.rs"))
            .is_none()
    );
}

#[test]
fn a_file_of_another_worktree_is_the_claimed_file() {
    let t = Team::new();
    let wt = t.root().join("wt2");
    git(
        &t.repo(),
        &["worktree", "add", "-q", "-b", "two", wt.to_str().unwrap()],
    );
    t.claim("B", "src/auth.rs");
    // A session in the main worktree edits the second worktree's copy.
    let why = denied(t.edit("A", "sa", &t.repo(), &wt.join("src/auth.rs")));
    assert!(why.contains("B claimed src/auth.rs"), "{why}");
    assert!(
        t.edit("A", "sa", &t.repo(), &wt.join("src/auth.rs"))
            .is_none()
    );
    // Recorded relative to the repository: it counts from the other worktree too.
    let why = denied(t.edit("C", "sc", &wt, &t.repo().join("src/auth.rs")));
    assert!(why.contains("A edited src/auth.rs"), "{why}");
    // The shell guard maps it the same way.
    denied(t.bash("D", "sd", &t.repo(), "cp /dev/null ../wt2/src/auth.rs"));
    // A worktree entry whose folder does not name it back maps nothing:
    // a planted `gitdir` cannot make another folder part of the repository.
    let other = t.root().join("other");
    std::fs::create_dir_all(other.join("src")).unwrap();
    std::fs::write(other.join(".git"), "gitdir: /nowhere\n").unwrap();
    let planted = t.repo().join(".git/worktrees/evil");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::write(
        planted.join("gitdir"),
        format!("{}/.git\n", other.display()),
    )
    .unwrap();
    assert!(
        t.edit("E", "se", &t.repo(), &other.join("src/auth.rs"))
            .is_none(),
        "a folder outside the repository"
    );
}

/// Every file of a Codex patch is checked, in one pass over the claims: a
/// 5,000-file patch whose last file is claimed is refused.
#[test]
fn a_patch_of_thousands_of_files_is_checked_to_its_last_file() {
    let t = Team::new();
    t.claim("B", "src/auth.rs, src/db/, docs/*.md");
    let mut patch = String::from("*** Begin Patch\n");
    for i in 0..5000 {
        patch.push_str(&format!("*** Add File: gen/m{i}.rs\n+x\n"));
    }
    let unclaimed = format!("{patch}*** End Patch\n");
    assert!(t.patch("A", "sa", &t.repo(), &unclaimed).is_none());
    patch.push_str("*** Update File: src/auth.rs\n@@\n-a\n+b\n*** End Patch\n");
    let why = denied(t.patch("C", "sc", &t.repo(), &patch));
    // The claim is named first, A's edits of the other 5,000 after it, and
    // the reason stays short.
    assert!(why.contains("B claimed src/auth.rs"), "{why}");
    assert!(why.contains("A edited gen/m0.rs"), "{why}");
    assert!(why.contains("5001 files of this change conflict"), "{why}");
    assert!(why.len() < 2000, "{} bytes", why.len());
    // A's 5,000 recorded edits count for the next session, to the last one.
    let last = "*** Begin Patch\n*** Update File: gen/m4999.rs\n@@\n-x\n+y\n*** End Patch\n";
    let why = denied(t.patch("D", "sd", &t.repo(), last));
    assert!(why.contains("A edited gen/m4999.rs"), "{why}");
}
