//! Helpers shared by the integration tests (each test file is its own
//! crate: `mod common;` at its top brings these in; not every file uses
//! every helper, hence the `dead_code` allowance).
#![allow(dead_code)]

/// Whether `text` contains `pattern`, where every `0s ago` in `pattern`
/// stands for any `Ns ago`: an entry posted just before a view is read is
/// `0s ago` on an idle machine and `1s ago` (or more) on a loaded one, and
/// the rest of the line is asserted to the letter.
pub fn contains_secs_ago(text: &str, pattern: &str) -> bool {
    let re = pattern
        .split("0s ago")
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(r"\d+s ago");
    regex::Regex::new(&re).unwrap().is_match(text)
}

/// Creates the pool folder (0700) before `pool post`, which refuses a
/// `POOL_DIR` that names no folder (a likely typo) where hooks create it.
pub fn make_pool(p: &std::path::Path) {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(p).unwrap();
}

/// A finished command's status, stdout and stderr, for an assertion's message.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The path of one of the crate's binaries, by name.
pub fn exe(bin: &str) -> &'static str {
    match bin {
        "pool" => env!("CARGO_BIN_EXE_pool"),
        "pool-guard" => env!("CARGO_BIN_EXE_pool-guard"),
        "pool-post-tool" => env!("CARGO_BIN_EXE_pool-post-tool"),
        "pool-prompt" => env!("CARGO_BIN_EXE_pool-prompt"),
        "pool-query" => env!("CARGO_BIN_EXE_pool-query"),
        "pool-session-start" => env!("CARGO_BIN_EXE_pool-session-start"),
        "pool-stop" => env!("CARGO_BIN_EXE_pool-stop"),
        other => panic!("unknown binary {other}"),
    }
}

/// Runs `cmd` with `stdin` written to its standard input, and collects
/// its output (a child that exits without reading is no error).
pub fn feed(cmd: &mut std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// Runs git in `dir` with a fixed author, asserting it succeeds.
pub fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}
