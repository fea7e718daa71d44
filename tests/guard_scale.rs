//! The guard on a pool far past team scale (issue 24): more open claims in
//! the window than its index reads. It answers, from the newest claims, and
//! says in the error log what it left out.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Claims in the window: more than the index's walk reads (50,000 lines).
const CLAIMS: usize = 60_000;

fn write_pool(pool: &Path, repo: &Path, now: i64) {
    std::fs::create_dir_all(pool).unwrap();
    let cwd = repo.to_string_lossy();
    let mut out = String::with_capacity(CLAIMS * 260);
    for i in 0..CLAIMS {
        // Oldest first; every claim lives four hours.
        let ts = now - 1800 + (1800 * i as i64) / CLAIMS as i64;
        out.push_str(&format!(
            "{{\"id\":\"c{i}\",\"timestamp\":{ts},\"source_instance\":\"B{}\",\"session_id\":\"s{}\",\
             \"action\":\"claimed\",\"topic\":\"Work item {i}\",\"summary\":\"\",\
             \"affects\":\"src/f{i}.rs\",\"cwd\":\"{cwd}\",\"ttl\":14400}}\n",
            i % 100,
            i % 100
        ));
    }
    std::fs::write(pool.join("instance_state.jsonl"), out).unwrap();
}

fn guard(home: &Path, pool: &Path, repo: &Path, file: &str) -> String {
    let input = serde_json::json!({
        "session_id": "S-a",
        "hook_event_name": "PreToolUse",
        "tool_name": "Edit",
        "tool_input": {"file_path": repo.join(file), "old_string": "a", "new_string": "b"},
        "cwd": repo,
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_pool-guard"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("POOL_DIR", pool)
        .env("CLAUDE_INSTANCE", "A")
        // A debug build on a busy machine: the budget is the release build's concern.
        .env("POOL_HOOK_TIMEOUT", "300s")
        .current_dir(repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn past_its_bound_the_guard_answers_from_the_newest_claims_and_says_what_it_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (pool, repo) = (tmp.path().join("pool"), tmp.path().join("repo"));
    std::fs::create_dir_all(repo.join("src")).unwrap();
    let now = chrono::Utc::now().timestamp();
    write_pool(&pool, &repo, now);
    // The newest claim is found and refused once.
    let newest = guard(tmp.path(), &pool, &repo, &format!("src/f{}.rs", CLAIMS - 1));
    assert!(newest.contains("\"deny\""), "{newest}");
    let errors = std::fs::read_to_string(pool.join("errors.log")).unwrap_or_default();
    assert!(
        errors.contains("read only the newest") && errors.contains("older claims were not checked"),
        "the error log says what the guard left out: {errors:?}"
    );
    // The next call reads the index the first one wrote.
    let newest2 = guard(tmp.path(), &pool, &repo, &format!("src/f{}.rs", CLAIMS - 2));
    assert!(newest2.contains("\"deny\""), "{newest2}");
}

fn who(home: &Path, pool: &Path, repo: &Path, file: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pool"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("POOL_DIR", pool)
        .current_dir(repo)
        .args(["who", file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `pool who FILE` answers from the guard's index, as the guard checks the
/// file (issue 24: at team scale it walked the whole window, 265 M
/// instructions for one file): it builds the index, finds the newest
/// claims, and of a claim older than the index's bound says what it left
/// out instead of walking the window for it.
#[test]
fn pool_who_on_a_file_answers_from_the_guards_index_and_says_what_it_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (pool, repo) = (tmp.path().join("pool"), tmp.path().join("repo"));
    std::fs::create_dir_all(repo.join("src")).unwrap();
    let now = chrono::Utc::now().timestamp();
    write_pool(&pool, &repo, now);
    let newest = CLAIMS - 1;
    let text = who(tmp.path(), &pool, &repo, &format!("src/f{newest}.rs"));
    assert!(
        text.contains(&format!(
            "claimed src/f{newest}.rs: \"Work item {newest}\" (id c{newest})"
        )),
        "{text}"
    );
    let built = std::fs::read_dir(pool.join("guard"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(built >= 2, "pool who wrote the guard's index");
    let oldest = who(tmp.path(), &pool, &repo, "src/f0.rs");
    assert!(
        oldest.contains("busy pool: ") && oldest.contains("older claims were not checked"),
        "{oldest}"
    );
}
