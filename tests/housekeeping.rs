//! Housekeeping loses nothing (issue 12, part 5), end to end with the real
//! binaries: `pool gc` interrupted by kill -9 or a full disk at any step, a
//! symlink planted at its temp name, the long-TTL index after an
//! interruption, and `pool post`'s exit status when the disk fills.

// Unix only: kill -9, /dev/full, symlinks and /proc.
#![cfg(unix)]

mod common;
use common::{make_pool, now};

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

fn cmd(bin: &str, pool: &Path) -> Command {
    let exe = match bin {
        "pool" => env!("CARGO_BIN_EXE_pool"),
        "pool-session-start" => env!("CARGO_BIN_EXE_pool-session-start"),
        "pool-stop" => env!("CARGO_BIN_EXE_pool-stop"),
        _ => unreachable!(),
    };
    let mut c = Command::new(exe);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("POOL_DIR", pool)
        .env("HOME", pool.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A pool log of `n` entries: every other one expired ten days ago, and a
/// few 7-day handoffs to X from three days ago. Returns every id.
fn fill(pool: &Path, n: usize) -> Vec<String> {
    std::fs::create_dir_all(pool).unwrap();
    std::fs::set_permissions(pool, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // The entries name no repository: readers here show every repository's.
    std::fs::write(pool.join("config.json"), r#"{"scopes": {"all": ["*"]}}"#).unwrap();
    let mut text = String::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("e{i:06}");
        let mut v = json!({"id": id, "source_instance": "A", "action": "completed",
                           "topic": format!("entry {i}"), "summary": "x".repeat(200)});
        if i % 50 == 7 {
            v["timestamp"] = json!(now() - 3 * 86_400);
            v["ttl"] = json!(7 * 86_400);
            v["to"] = json!("X");
            v["topic"] = json!(format!("handoff {i}"));
        } else if i % 2 == 0 {
            v["timestamp"] = json!(now() - 10 * 86_400);
        } else {
            v["timestamp"] = json!(now() - 60);
            v["ttl"] = json!(30 * 86_400);
        }
        text.push_str(&v.to_string());
        text.push('\n');
        ids.push(id);
    }
    std::fs::write(pool.join("instance_state.jsonl"), text).unwrap();
    ids
}

/// Every entry id in the live log and the archive, with its count, and the
/// lines anywhere that are not entries.
fn census(pool: &Path) -> (HashMap<String, usize>, Vec<String>) {
    let mut files = vec![pool.join("instance_state.jsonl")];
    if let Ok(rd) = std::fs::read_dir(pool.join("archive")) {
        for e in rd.flatten() {
            if !e.file_name().to_string_lossy().starts_with('.') {
                files.push(e.path());
            }
        }
    }
    let mut ids = HashMap::new();
    let mut bad = Vec::new();
    for f in files {
        for l in std::fs::read_to_string(&f).unwrap_or_default().lines() {
            match serde_json::from_str::<Value>(l) {
                Ok(v) => {
                    *ids.entry(v["id"].as_str().unwrap_or("").to_string())
                        .or_default() += 1
                }
                Err(_) if l.trim().is_empty() => {}
                Err(_) => bad.push(format!("{}: {l:.80}", f.display())),
            }
        }
    }
    (ids, bad)
}

fn assert_each_once(pool: &Path, ids: &[String]) {
    let (seen, bad) = census(pool);
    assert!(bad.is_empty(), "partial or glued lines: {bad:?}");
    for id in ids {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "entry {id} is not there exactly once"
        );
    }
}

fn leftovers(pool: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in [pool.to_path_buf(), pool.join("archive")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.contains(".rewrite.")
                    || n.ends_with(".part")
                    || n.ends_with(".append")
                    || n.ends_with(".new")
                {
                    out.push(n);
                }
            }
        }
    }
    out
}

fn gc(pool: &Path) -> std::process::Output {
    cmd("pool", pool)
        .args(["gc", "--older-than", "1d"])
        .output()
        .unwrap()
}

fn handoffs_shown_to_x(pool: &Path) -> usize {
    let mut c = cmd("pool-session-start", pool);
    c.env("CLAUDE_INSTANCE", "X").stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"session_id":"x","hook_event_name":"SessionStart","source":"startup"}"#)
        .unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    out.lines().filter(|l| l.contains("→ you]")).count()
}

#[test]
fn gc_killed_at_random_points_loses_and_doubles_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = tmp.path().join("pool");
    let ids = fill(&pool, 4_000);
    // Session start lists at most 5 handoffs, and says how many more.
    let shown_before = handoffs_shown_to_x(&pool);
    assert!(shown_before > 0);
    let mut killed = 0;
    for round in 0..30u64 {
        let mut child = cmd("pool", &pool)
            .args(["gc", "--older-than", "1d"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(500 + (round * 7919) % 25_000));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // New entries keep arriving between passes, stamped by our writer.
        let out = cmd("pool", &pool)
            .args([
                "post",
                "--instance",
                "B",
                "--action",
                "completed",
                "--topic",
            ])
            .arg(format!("round {round}"))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    assert!(killed > 5, "only {killed} passes were interrupted");
    let out = gc(&pool);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_each_once(&pool, &ids);
    assert!(leftovers(&pool).is_empty(), "left: {:?}", leftovers(&pool));
    assert_eq!(handoffs_shown_to_x(&pool), shown_before);
    let doctor = cmd("pool", &pool).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(!text.contains("long-TTL index"), "{text}");
    assert!(!text.contains("interrupted rewrite"), "{text}");
}

#[test]
fn a_symlink_planted_at_the_temp_name_is_not_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = tmp.path().join("pool");
    let ids = fill(&pool, 200);
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // The next few pids, as the kernel hands them out in order.
    let last: u64 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    for pid in last + 1..last + 200 {
        let _ = std::os::unix::fs::symlink(
            &victim,
            pool.join(format!(".instance_state.jsonl.rewrite.{pid}")),
        );
    }
    let out = gc(&pool);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_each_once(&pool, &ids);
    assert!(leftovers(&pool).is_empty(), "left: {:?}", leftovers(&pool));
}

struct Tmpfs(PathBuf);

impl Tmpfs {
    /// A small tmpfs, or None where mounting needs root we do not have.
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    /// Fills the disk but `keep` bytes; returns the filler's path.
    fn fill_but(&self, keep: u64) -> PathBuf {
        let p = self.0.join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        while f.write_all(&[0u8; 4096]).is_ok() {}
        while f.write_all(&[0u8; 1]).is_ok() {}
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(keep)).unwrap();
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn gc_on_a_full_disk_at_any_step_loses_and_doubles_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for keep_kib in [0u64, 4, 12, 24, 40, 60, 90, 130, 200] {
        let mnt = tmp.path().join(format!("m{keep_kib}"));
        let Some(fs) = Tmpfs::mount(&mnt, "2m") else {
            eprintln!("skipped: cannot mount a tmpfs here (not root)");
            return;
        };
        let pool = mnt.join("pool");
        let ids = fill(&pool, 800);
        // A first pass wrote part of an archive before: its month file exists.
        let filler = fs.fill_but(keep_kib * 1024);
        let first = gc(&pool);
        std::fs::remove_file(&filler).unwrap();
        let second = gc(&pool);
        assert!(
            second.status.success(),
            "keep {keep_kib} KiB: first {:?} / second {}",
            String::from_utf8_lossy(&first.stderr),
            String::from_utf8_lossy(&second.stderr)
        );
        assert_each_once(&pool, &ids);
        assert!(leftovers(&pool).is_empty(), "left: {:?}", leftovers(&pool));
        drop(fs);
    }
}

#[test]
fn a_post_whose_entry_reached_the_log_exits_0_on_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("m");
    let Some(fs) = Tmpfs::mount(&mnt, "256k") else {
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        return;
    };
    let pool = mnt.join("pool");
    make_pool(&pool);
    let post = |topic: &str, extra: &[&str]| {
        cmd("pool", &pool)
            .args([
                "post",
                "--instance",
                "A",
                "--action",
                "completed",
                "--topic",
                topic,
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(post("first", &[]).status.success());
    // The index is gone (never written, or lost): its next line needs a new
    // page, while the log's last page has room for one more line.
    let _ = std::fs::remove_file(pool.join("long_ttl.idx"));
    let filler = fs.fill_but(0);
    let out = post("handoff", &["--to", "X", "--ttl", "7d"]);
    let log = std::fs::read_to_string(pool.join("instance_state.jsonl")).unwrap();
    let copies = log.lines().filter(|l| l.contains("\"handoff\"")).count();
    if copies == 1 {
        assert_eq!(
            out.status.code(),
            Some(0),
            "the entry is in the log, yet: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert_eq!(copies, 0);
        assert_eq!(out.status.code(), Some(1));
    }
    std::fs::remove_file(&filler).unwrap();
    let doctor =
        String::from_utf8(cmd("pool", &pool).arg("doctor").output().unwrap().stdout).unwrap();
    assert!(doctor.contains("long-TTL index"), "{doctor}");
    assert!(gc(&pool).status.success());
    let doctor =
        String::from_utf8(cmd("pool", &pool).arg("doctor").output().unwrap().stdout).unwrap();
    assert!(!doctor.contains("long-TTL index"), "{doctor}");
    assert_eq!(
        copies, 1,
        "the log's last page had no room: the test set-up needs adjusting"
    );
}

/// Runs the Stop hook with the log's size limit at `max` bytes.
fn stop_hook(pool: &Path, max: u64) {
    let mut child = cmd("pool-stop", pool)
        .env("POOL_MAX_BYTES", max.to_string())
        .env("CLAUDE_INSTANCE", "A")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 24: a log over `POOL_MAX_BYTES` whose entries are all within
/// their week makes the Stop hook start no pass: there is nothing to archive
/// until the first of them is due.
#[test]
fn a_large_live_week_starts_no_pass_until_something_is_due() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = tmp.path().join("pool");
    fill(&pool, 200);
    // The expired half goes; what stays is live or younger than a week.
    let week_gc = || cmd("pool", &pool).arg("gc").output().unwrap();
    assert!(week_gc().status.success());
    let log = pool.join("instance_state.jsonl");
    let before = std::fs::metadata(&log).unwrap();
    stop_hook(&pool, 1000);
    assert!(
        !pool.join("gc.stamp").exists(),
        "the Stop hook started a pass with nothing to archive"
    );
    // A second pass by hand finds nothing due: the log is not touched.
    let out = week_gc();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("archived 0 entries"));
    let after = std::fs::metadata(&log).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
    // Once something is due, the hook starts one again.
    let next = std::fs::read_to_string(pool.join("gc.next")).unwrap();
    let mut f: Vec<String> = next.split_whitespace().map(String::from).collect();
    f[1] = (now() - 1).to_string();
    std::fs::write(pool.join("gc.next"), f.join(" ")).unwrap();
    stop_hook(&pool, 1000);
    assert!(pool.join("gc.stamp").exists(), "a due pass is started");
}

/// Issue 24: `edits.log` stays bounded: past its size the Stop hook moves
/// it aside (one generation kept, so recent edits are still read).
#[test]
fn the_edit_log_stays_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = tmp.path().join("pool");
    fill(&pool, 10);
    let edits = pool.join("edits.log");
    let total = || {
        ["edits.log", "edits.log.1"]
            .iter()
            .map(|f| std::fs::metadata(pool.join(f)).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    for round in 0..3 {
        // Nine MiB of edits from two hours ago.
        let t = now() - 2 * 3600;
        let mut text = String::new();
        while text.len() < 9 << 20 {
            text.push_str(&format!(
                "{t}\tA\ts1\t/w/src/file{round}.rs\tr\tsrc/file.rs\n"
            ));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&edits)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        stop_hook(&pool, 1 << 40);
        assert!(
            total() <= 2 * (9 << 20) + 4096,
            "round {round}: {}",
            total()
        );
    }
    assert!(std::fs::metadata(&edits).map_or(0, |m| m.len()) < 8 << 20);
}

/// Issue 24: `pool gc` by hand after a pass that found nothing due does not
/// read the log again, and says so; our own appends since keep it that way,
/// a line another program appended (no append stamp) makes it run a pass.
#[test]
fn gc_by_hand_with_nothing_due_reads_nothing_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = tmp.path().join("pool");
    fill(&pool, 200);
    let week_gc = || {
        let out = cmd("pool", &pool).arg("gc").output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(week_gc().starts_with("archived 100 entries, kept 100 lines"));
    let skipped = week_gc();
    assert!(
        skipped.starts_with("archived 0 entries: nothing is due before ")
            && skipped.contains(" bytes were not read)"),
        "{skipped}"
    );
    let post = cmd("pool", &pool)
        .env("CLAUDE_INSTANCE", "A")
        .args(["post", "--action", "completed", "--topic", "Since the pass"])
        .output()
        .unwrap();
    assert!(post.status.success(), "{post:?}");
    assert!(week_gc().starts_with("archived 0 entries: nothing is due before "));
    // Another program's line has no stamp: the pass runs (and stamps it).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(pool.join("instance_state.jsonl"))
        .unwrap();
    writeln!(
        f,
        "{}",
        json!({"id": "stray", "timestamp": now(), "source_instance": "B",
               "action": "completed", "topic": "Written by hand"})
    )
    .unwrap();
    assert!(
        week_gc().starts_with("archived 0 entries, kept 102 lines"),
        "a stray line makes the pass run"
    );
    assert!(week_gc().starts_with("archived 0 entries: nothing is due before "));
}
