//! `pool launch` against real tmux, with a stand-in command in place of
//! Claude Code that writes its environment and working directory to files.
//! Each test runs its own tmux server (`-L`), killed when the test ends.

mod common;
use common::text;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const POOL: &str = env!("CARGO_BIN_EXE_pool");

/// A tmux server of its own, killed on drop.
struct TmuxServer {
    socket: String,
}

impl TmuxServer {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "tmux is required for this test (apt-get install tmux)");
        TmuxServer {
            socket: format!(
                "pool-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ),
        }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    pool_dir: PathBuf,
    out_dir: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let pool_dir = root.join("pool");
    let out_dir = root.join("out");
    std::fs::create_dir_all(&pool_dir).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(
        pool_dir.join("config.json"),
        r#"{"instances": {"A": {"role": "builder", "domain": ["api", "db"]}, "B": {"role": "reviewer"}}}"#,
    )
    .unwrap();
    Setup {
        _tmp: tmp,
        root,
        pool_dir,
        out_dir,
    }
}

/// The stand-in for `claude`: records what the instance was started with.
const STAND_IN: &str = r#"sh -c "env | grep -E '^(CLAUDE_INSTANCE|POOL_DIR)' | sort > $OUT_DIR/$CLAUDE_INSTANCE.env; pwd > $OUT_DIR/$CLAUDE_INSTANCE.pwd; sleep 30""#;

fn pool(s: &Setup, tmux: &TmuxServer, cwd: &Path, args: &[&str]) -> Output {
    Command::new(POOL)
        .args(args)
        .args(["--socket", &tmux.socket])
        .current_dir(cwd)
        .env("POOL_DIR", &s.pool_dir)
        .env("OUT_DIR", &s.out_dir)
        .env_remove("CLAUDE_INSTANCE")
        .env_remove("CLAUDE_INSTANCE_DOMAIN")
        .output()
        .unwrap()
}

fn wait_for(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn launch_starts_one_window_per_instance_and_stop_ends_it() {
    let s = setup();
    let tmux = TmuxServer::new();
    let out = pool(
        &s,
        &tmux,
        &s.root,
        &[
            "launch",
            "A",
            "B",
            "C",
            "--session",
            "team",
            "--command",
            STAND_IN,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("A (builder), B (reviewer), C"), "{stdout}");
    assert!(stdout.contains("attach: tmux -L"), "{stdout}");

    let pool_dir = s.pool_dir.display();
    assert_eq!(
        wait_for(&s.out_dir.join("A.env")),
        format!("CLAUDE_INSTANCE=A\nCLAUDE_INSTANCE_DOMAIN=api,db\nPOOL_DIR={pool_dir}\n")
    );
    assert_eq!(
        wait_for(&s.out_dir.join("B.env")),
        format!("CLAUDE_INSTANCE=B\nCLAUDE_INSTANCE_DOMAIN=\nPOOL_DIR={pool_dir}\n"),
        "B does not inherit A's domain"
    );
    assert!(wait_for(&s.out_dir.join("C.env")).starts_with("CLAUDE_INSTANCE=C\n"));
    assert_eq!(
        wait_for(&s.out_dir.join("A.pwd")).trim(),
        s.root.display().to_string()
    );

    let windows = tmux.tmux(&["list-windows", "-t", "=team", "-F", "#W"]);
    assert_eq!(String::from_utf8_lossy(&windows.stdout), "A\nB\nC\n");

    let again = pool(&s, &tmux, &s.root, &["launch", "A", "--session", "team"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already running"),
        "{}",
        text(&again)
    );

    let stop = pool(
        &s,
        &tmux,
        &s.root,
        &["launch", "--stop", "--session", "team"],
    );
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(!tmux.tmux(&["has-session", "-t", "=team"]).status.success());
    let twice = pool(
        &s,
        &tmux,
        &s.root,
        &["launch", "--stop", "--session", "team"],
    );
    assert_eq!(twice.status.code(), Some(1), "{}", text(&twice));
}

#[test]
fn instances_default_to_config_and_session_to_pool() {
    let s = setup();
    let tmux = TmuxServer::new();
    let out = pool(&s, &tmux, &s.root, &["launch", "--command", STAND_IN]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for(&s.out_dir.join("A.env"));
    wait_for(&s.out_dir.join("B.env"));
    let windows = tmux.tmux(&["list-windows", "-t", "=pool", "-F", "#W"]);
    assert_eq!(String::from_utf8_lossy(&windows.stdout), "A\nB\n");
    let bad = pool(
        &s,
        &tmux,
        &s.root,
        &["launch", "no/slash", "--session", "x"],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn worktrees_give_each_instance_its_own_checkout_and_branch() {
    let s = setup();
    let tmux = TmuxServer::new();
    let repo = s.root.join("app");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("src/lib.rs"), "// app\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);

    let args = [
        "launch",
        "A",
        "B",
        "--worktrees",
        "--session",
        "wt",
        "--command",
        STAND_IN,
    ];
    let out = pool(&s, &tmux, &repo.join("src"), &args);
    assert!(out.status.success(), "{}", text(&out));
    for inst in ["A", "B"] {
        let wt = s.root.join(format!("app-{inst}"));
        assert_eq!(
            wait_for(&s.out_dir.join(format!("{inst}.pwd"))).trim(),
            wt.display().to_string()
        );
        assert_eq!(
            git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]),
            format!("pool/{inst}")
        );
        assert!(wt.join("src/lib.rs").is_file());
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("created worktree"));

    // A second launch reuses the worktrees and branches.
    let stop = pool(&s, &tmux, &repo, &["launch", "--stop", "--session", "wt"]);
    assert!(stop.status.success(), "{}", text(&stop));
    std::fs::remove_file(s.out_dir.join("A.pwd")).unwrap();
    let again = pool(&s, &tmux, &repo, &args);
    assert!(again.status.success(), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("using existing worktree"));
    assert_eq!(
        wait_for(&s.out_dir.join("A.pwd")).trim(),
        s.root.join("app-A").display().to_string()
    );
}

#[test]
fn a_command_that_is_missing_or_exits_at_once_is_a_failed_start() {
    let s = setup();
    let tmux = TmuxServer::new();
    for names in [&["A"][..], &["A", "B"][..]] {
        let mut args = vec!["launch"];
        args.extend_from_slice(names);
        args.extend(["--session", "bad", "--command", "no-such-command-xyz"]);
        let out = pool(&s, &tmux, &s.root, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("started"),
            "{}",
            text(&out)
        );
        for n in names {
            assert!(
                err.contains(&format!("instance {n} did not start")),
                "{err}"
            );
        }
        assert!(err.contains("status 127"), "{err}");
        assert!(
            err.contains("no-such-command-xyz"),
            "the command's own output: {err}"
        );
        assert!(!tmux.tmux(&["has-session", "-t", "=bad"]).status.success());
    }
    // One good, one failing: the failing one is named, the other not.
    let out = pool(
        &s,
        &tmux,
        &s.root,
        &[
            "launch",
            "A",
            "B",
            "--session",
            "half",
            "--command",
            r#"sh -c 'if [ "$CLAUDE_INSTANCE" = B ]; then echo "B cannot start: no API key" >&2; exit 3; fi; sleep 30'"#,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(err.contains("instance B did not start"), "{err}");
    assert!(err.contains("status 3"), "{err}");
    assert!(err.contains("B cannot start: no API key"), "{err}");
    assert!(!err.contains("instance A did not start"), "{err}");
    assert!(!tmux.tmux(&["has-session", "-t", "=half"]).status.success());
}

#[test]
fn printed_hints_keep_the_socket_and_work_as_printed() {
    let s = setup();
    let tmux = TmuxServer::new();
    let out = pool(
        &s,
        &tmux,
        &s.root,
        &["launch", "A", "--session", "hinted", "--command", STAND_IN],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let want = format!("pool launch --stop --session hinted -L {}", tmux.socket);
    assert!(stdout.contains(&want), "{stdout}");
    let again = pool(&s, &tmux, &s.root, &["launch", "A", "--session", "hinted"]);
    let err = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(err.contains(&want), "{err}");
    // Follow the hint as printed (it already names the socket).
    let line = stdout.lines().find(|l| l.starts_with("stop:")).unwrap();
    let argv: Vec<&str> = line
        .trim_start_matches("stop:")
        .split_whitespace()
        .skip(1)
        .collect();
    let stop = Command::new(POOL)
        .args(&argv)
        .env("POOL_DIR", &s.pool_dir)
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(
        !tmux
            .tmux(&["has-session", "-t", "=hinted"])
            .status
            .success()
    );
}

#[test]
fn instance_names_match_config_ignoring_case() {
    let s = setup();
    let tmux = TmuxServer::new();
    let out = pool(
        &s,
        &tmux,
        &s.root,
        &["launch", "a", "--session", "lc", "--command", STAND_IN],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("A (builder)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        wait_for(&s.out_dir.join("A.env")),
        format!(
            "CLAUDE_INSTANCE=A\nCLAUDE_INSTANCE_DOMAIN=api,db\nPOOL_DIR={}\n",
            s.pool_dir.display()
        )
    );
}

fn repo(s: &Setup) -> PathBuf {
    let repo = s.root.join("app");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("src/lib.rs"), "// app\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

#[test]
fn existing_folders_are_reused_only_as_this_repositorys_worktree_on_the_branch() {
    let s = setup();
    let tmux = TmuxServer::new();
    let repo = repo(&s);
    let args = [
        "launch",
        "A",
        "--worktrees",
        "--session",
        "chk",
        "--command",
        STAND_IN,
    ];
    // A plain folder where the worktree would go.
    std::fs::create_dir_all(s.root.join("app-A")).unwrap();
    let out = pool(&s, &tmux, &repo, &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a worktree of"),
        "{}",
        text(&out)
    );
    assert!(!tmux.tmux(&["has-session", "-t", "=chk"]).status.success());
    std::fs::remove_dir(s.root.join("app-A")).unwrap();
    // A worktree of this repository on another branch.
    let wt = s.root.join("app-A");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            wt.to_str().unwrap(),
            "-b",
            "feature",
        ],
    );
    let out = pool(&s, &tmux, &repo, &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("on branch feature, not pool/A"),
        "{}",
        text(&out)
    );
    // On the expected branch it is reused.
    git(&wt, &["switch", "-q", "-c", "pool/A"]);
    let out = pool(&s, &tmux, &repo, &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("using existing worktree"));
    // A clone of another repository is not this repository's worktree.
    let other = s.root.join("other");
    std::fs::create_dir_all(&other).unwrap();
    git(&other, &["init", "-q", "-b", "pool/B"]);
    git(&other, &["commit", "-q", "--allow-empty", "-m", "x"]);
    std::fs::rename(&other, s.root.join("app-B")).unwrap();
    let out = pool(
        &s,
        &tmux,
        &repo,
        &[
            "launch",
            "B",
            "--worktrees",
            "--session",
            "chk2",
            "--command",
            STAND_IN,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a worktree of"),
        "{}",
        text(&out)
    );
}

#[test]
fn stop_clean_removes_what_the_launch_created_and_refuses_uncommitted_work() {
    let s = setup();
    let tmux = TmuxServer::new();
    let repo = repo(&s);
    // B's branch exists before the launch: its worktree is created, the branch kept.
    git(&repo, &["branch", "pool/B"]);
    let args = [
        "launch",
        "A",
        "B",
        "--worktrees",
        "--session",
        "cl",
        "--command",
        STAND_IN,
    ];
    let out = pool(&s, &tmux, &repo, &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--stop --clean --session cl"));
    let (a, b) = (s.root.join("app-A"), s.root.join("app-B"));
    std::fs::write(a.join("src/new.rs"), "// work in progress\n").unwrap();
    let out = pool(
        &s,
        &tmux,
        &repo,
        &["launch", "--stop", "--clean", "--session", "cl"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uncommitted changes"), "{err}");
    assert!(a.join("src/new.rs").is_file(), "uncommitted work is kept");
    assert!(!b.exists(), "B's clean worktree is removed");
    let branches = git(&repo, &["branch", "--format=%(refname:short)"]);
    assert!(
        branches.contains("pool/B"),
        "B's branch existed before: {branches}"
    );
    assert!(branches.contains("pool/A"), "{branches}");
    assert!(!tmux.tmux(&["has-session", "-t", "=cl"]).status.success());
    // Once the work is gone, a second clean removes A's worktree and branch.
    std::fs::remove_file(a.join("src/new.rs")).unwrap();
    let out = pool(
        &s,
        &tmux,
        &repo,
        &["launch", "--stop", "--clean", "--session", "cl"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed worktree"),
        "{}",
        text(&out)
    );
    assert!(!a.exists());
    let branches = git(&repo, &["branch", "--format=%(refname:short)"]);
    assert!(!branches.contains("pool/A"), "{branches}");
    assert!(branches.contains("pool/B"), "{branches}");
    let out = pool(
        &s,
        &tmux,
        &repo,
        &["launch", "--stop", "--clean", "--session", "cl"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no worktrees to remove"),
        "{}",
        text(&out)
    );
}
