//! `pool launch` against real tmux, with a stand-in command in place of
//! Claude Code that writes its environment and working directory to files.
//! Each test runs its own tmux server (`-L`), killed when the test ends.

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

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
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
