//! `pool status --watch` in a real tmux pane of 80×20: long entries wrap, and
//! the top of the board (its header, then the blocked instance) must still be
//! on screen. Each test runs its own tmux server (`-L`), killed when it ends.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const POOL: &str = env!("CARGO_BIN_EXE_pool");

/// A tmux server of its own, with no user configuration, killed on drop.
struct TmuxServer {
    socket: String,
}

impl TmuxServer {
    fn new(name: &str) -> Self {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "tmux is required for this test (apt-get install tmux)");
        TmuxServer {
            socket: format!("pool-watch-{}-{name}", std::process::id()),
        }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
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

fn post(home: &Path, pool: &Path, instance: &str, args: &[&str]) {
    let out = Command::new(POOL)
        .arg("post")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("POOL_DIR", pool)
        .env("CLAUDE_INSTANCE", instance)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn watch_keeps_the_header_and_the_blocked_line_in_an_80x20_tmux_pane() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let (home, pool) = (root.join("home"), root.join("p"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&pool).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pool, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // Seven instances whose claims and last entries are each wider than the
    // pane, so every one of them wraps onto two or three rows.
    let long = "word ".repeat(40);
    for i in ["A", "B", "C", "D", "E", "F", "G"] {
        post(
            &home,
            &pool,
            i,
            &[
                "--action",
                "claimed",
                "--topic",
                &format!("Claimed topic for {i} with a long name {long}"),
                "--affects",
                &format!("src/{i}/very/long/path/to/a/module/file_{i}.rs"),
            ],
        );
    }
    // The newest entry: Q is blocked.
    post(
        &home,
        &pool,
        "Q",
        &[
            "--action",
            "blocked",
            "--topic",
            &format!("Waiting for the payment sandbox credentials {long}"),
        ],
    );

    let tmux = TmuxServer::new("fit");
    let cmd = format!("{POOL} status --watch");
    let out = tmux.tmux(&[
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "20",
        "-e",
        &format!("HOME={}", home.display()),
        "-e",
        &format!("POOL_DIR={}", pool.display()),
        "-e",
        "TERM=xterm",
        &cmd,
    ]);
    assert!(out.status.success(), "{out:?}");
    let size = tmux.tmux(&["display-message", "-p", "#{pane_width}x#{pane_height}"]);
    assert_eq!(String::from_utf8_lossy(&size.stdout).trim(), "80x20");

    // Wait for the first snapshot to be drawn (it ends with the "more lines" note).
    let start = Instant::now();
    let screen = loop {
        let cap = tmux.tmux(&["capture-pane", "-p"]);
        let s = String::from_utf8_lossy(&cap.stdout).into_owned();
        if s.contains("more lines") || start.elapsed() > Duration::from_secs(15) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let rows: Vec<&str> = screen.lines().collect();
    assert!(
        rows.first()
            .is_some_and(|r| r.starts_with("pool status — ")),
        "the header scrolled away:\n{screen}"
    );
    assert!(
        screen.contains("BLOCKED on \"Waiting for the payment sandbox"),
        "the blocked line scrolled away:\n{screen}"
    );
    assert!(
        screen.contains("more lines (a taller terminal, or pool status, shows them)"),
        "the board was not cut:\n{screen}"
    );
}
