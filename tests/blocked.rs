//! Blocked as a state, end to end with the real binaries: a `blocked` entry
//! shows in other instances' session start, in `pool status` (text and
//! JSON) and in the bulletin until it is answered, and the answer reaches the
//! blocked instance at its next prompt whatever its domain.

mod common;
use common::exe;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct Pool {
    tmp: tempfile::TempDir,
}

impl Pool {
    fn new() -> Self {
        Pool {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, bin: &str, instance: &str, domain: &str, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new(exe(bin))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("POOL_DIR", self.tmp.path().join("pool"))
            .env("CLAUDE_INSTANCE", instance)
            .env("CLAUDE_INSTANCE_DOMAIN", domain)
            .current_dir(self.tmp.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let out: Output = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn post(&self, instance: &str, args: &[&str]) -> String {
        let mut all = vec!["post"];
        all.extend_from_slice(args);
        self.run("pool", instance, "", &all, "")
            .trim()
            .trim_start_matches("posted ")
            .to_string()
    }

    fn hook(&self, bin: &str, instance: &str, domain: &str, session: &str) -> String {
        let event = if bin == "pool-prompt" {
            "UserPromptSubmit"
        } else {
            "SessionStart"
        };
        let input = json!({"session_id": session, "hook_event_name": event, "source": "startup", "prompt": "go"});
        self.run(bin, instance, domain, &[], &input.to_string())
    }

    fn status_json(&self) -> Value {
        serde_json::from_str(&self.run("pool", "", "", &["status", "--json"], "")).unwrap()
    }
}

fn blocked_of(status: &Value, instance: &str) -> Vec<Value> {
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == instance)
        .map(|i| i["blocked"].as_array().unwrap().clone())
        .unwrap_or_default()
}

#[test]
fn a_blocked_instance_is_shown_as_blocked_until_its_blocker_is_answered() {
    let p = Pool::new();
    // B works on the database; its session has looked at the pool once.
    p.hook("pool-session-start", "B", "database,migrations", "sb");
    p.post(
        "B",
        &[
            "--action",
            "blocked",
            "--topic",
            "Auth API",
            "--summary",
            "need the token format before the session table",
        ],
    );
    // Another instance, whatever its domain, sees that B is blocked.
    let a_start = p.hook("pool-session-start", "A", "ui,css", "sa");
    assert!(
        ["0s", "1s", "2s"].iter().any(|d| a_start.contains(&format!(
            "- **Blocked**: [B] on: Auth API, for {d} — need the token format"
        ))),
        "{a_start}"
    );
    let own_start = p.hook("pool-session-start", "B", "database", "sb2");
    assert!(
        !own_start.contains("**Blocked**: [B]"),
        "not shown to itself: {own_start}"
    );
    let status = p.run("pool", "", "", &["status"], "");
    assert!(
        ["0s", "1s", "2s"]
            .iter()
            .any(|d| status.contains(&format!("BLOCKED on \"Auth API\" for {d}"))),
        "{status}"
    );
    assert!(status.contains("1 blocked"), "{status}");
    assert_eq!(blocked_of(&p.status_json(), "B").len(), 1);
    let bulletin = p.run("pool", "", "", &["bulletin"], "");
    assert!(
        ["0s", "1s", "2s"].iter().any(
            |d| bulletin.contains(&format!("## Blocked\n\n- B is blocked on Auth API for {d}"))
        ),
        "{bulletin}"
    );

    // A completes the topic: B's next prompt says so, though "Auth API"
    // matches nothing in B's domain.
    p.post(
        "A",
        &[
            "--action",
            "completed",
            "--topic",
            "auth api",
            "--summary",
            "tokens are JWTs",
        ],
    );
    let unrelated = p.post("C", &["--action", "completed", "--topic", "CSS grid"]);
    assert!(!unrelated.is_empty());
    let b_prompt = p.hook("pool-prompt", "B", "database,migrations", "sb");
    assert!(b_prompt.contains("## Pool: unblocked"), "{b_prompt}");
    assert!(
        b_prompt.contains("- [A] completed: auth api — ends your block on: Auth API"),
        "{b_prompt}"
    );
    assert!(
        !b_prompt.contains("CSS grid"),
        "other news stays filtered: {b_prompt}"
    );
    // And B is no longer blocked anywhere.
    assert!(blocked_of(&p.status_json(), "B").is_empty());
    let a_again = p.hook("pool-session-start", "A", "ui,css", "sa2");
    assert!(!a_again.contains("**Blocked**"), "{a_again}");
}

#[test]
fn a_ref_from_anyone_ends_the_block_and_reaches_the_waiter() {
    let p = Pool::new();
    p.hook("pool-session-start", "B", "database", "sb");
    let id = p.post("B", &["--action", "blocked", "--topic", "Which queue?"]);
    assert_eq!(blocked_of(&p.status_json(), "B").len(), 1);
    // An answer on another topic that names the block.
    p.post(
        "LEAD",
        &[
            "--action",
            "decided",
            "--topic",
            "Use the Redis queue",
            "--ref",
            &id,
        ],
    );
    let b_prompt = p.hook("pool-prompt", "B", "database", "sb");
    assert!(
        b_prompt
            .contains("- [LEAD] decided: Use the Redis queue — ends your block on: Which queue?"),
        "{b_prompt}"
    );
    assert!(blocked_of(&p.status_json(), "B").is_empty());
    // Its own completed on the topic ends a block too.
    p.post("B", &["--action", "blocked", "--topic", "Schema lock"]);
    assert_eq!(blocked_of(&p.status_json(), "B").len(), 1);
    p.post("b", &["--action", "released", "--topic", "schema lock"]);
    assert!(blocked_of(&p.status_json(), "B").is_empty());
}

/// Issue 24: prompts after the first read only what is new, carrying the
/// session's open blocks from one to the next; a block posted between two
/// prompts, its answer and a handoff still reach the session, once.
#[test]
fn later_prompts_carry_blocks_and_see_answers_and_handoffs_once() {
    let p = Pool::new();
    p.hook("pool-session-start", "B", "database", "sb");
    assert!(
        !p.hook("pool-prompt", "B", "database", "sb")
            .contains("unblocked")
    );
    let carried = p.tmp.path().join("pool/sessions");
    let files: Vec<String> = std::fs::read_dir(&carried)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(".blocks")),
        "the prompt carries its blocks: {files:?}"
    );
    p.post("B", &["--action", "blocked", "--topic", "Queue choice"]);
    assert!(
        !p.hook("pool-prompt", "B", "database", "sb")
            .contains("unblocked")
    );
    p.post("A", &["--action", "completed", "--topic", "queue choice"]);
    p.post("A", &["--to", "B", "--topic", "Take the schema"]);
    let prompt = p.hook("pool-prompt", "B", "database", "sb");
    assert!(
        prompt.contains("- [A] completed: queue choice — ends your block on: Queue choice"),
        "{prompt}"
    );
    assert!(prompt.contains("Take the schema"), "{prompt}");
    let again = p.hook("pool-prompt", "B", "database", "sb");
    assert!(
        !again.contains("unblocked") && !again.contains("Take the schema"),
        "{again}"
    );
}

fn file_id(path: &std::path::Path) -> (u64, std::time::SystemTime) {
    let m = std::fs::metadata(path).unwrap();
    // Windows has no inode here: the modification time tells a write.
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    (ino, m.modified().unwrap())
}

fn session_file(p: &Pool, ext: &str) -> std::path::PathBuf {
    std::fs::read_dir(p.tmp.path().join("pool/sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|x| x == ext))
        .unwrap_or_else(|| panic!("no .{ext} file"))
}

/// Issue 24: a prompt with nothing new writes neither its news mark nor
/// its carried blocks (no write, no rename), and what is new after that is
/// still news, once, with the block it ends.
#[test]
fn a_prompt_with_nothing_new_writes_nothing() {
    let p = Pool::new();
    p.hook("pool-session-start", "B", "database", "sb");
    p.post("B", &["--action", "blocked", "--topic", "Queue choice"]);
    p.hook("pool-prompt", "B", "database", "sb");
    // The mark's time moves on once past the second of the newest entry.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.hook("pool-prompt", "B", "database", "sb");
    let (seen, blocks) = (session_file(&p, "seen"), session_file(&p, "blocks"));
    let before = (file_id(&seen), file_id(&blocks));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for _ in 0..2 {
        assert_eq!(p.hook("pool-prompt", "B", "database", "sb").trim(), "");
    }
    assert_eq!(
        (file_id(&seen), file_id(&blocks)),
        before,
        "a repeat prompt rewrote its files"
    );
    p.post("A", &["--action", "completed", "--topic", "queue choice"]);
    let prompt = p.hook("pool-prompt", "B", "database", "sb");
    assert!(
        prompt.contains("- [A] completed: queue choice — ends your block on: Queue choice"),
        "{prompt}"
    );
    assert_ne!(file_id(&seen), before.0);
    assert!(
        !p.hook("pool-prompt", "B", "database", "sb")
            .contains("queue choice")
    );
}

/// Issue 24: a session's first prompt without a mark (installed
/// mid-session) reads the window once and carries its blocks, so that the
/// next prompt reads only what is new; a block it had open before still
/// ends at that next prompt.
#[test]
fn the_first_prompt_without_a_mark_carries_its_blocks() {
    let p = Pool::new();
    p.hook("pool-session-start", "A", "", "sa");
    p.post("B", &["--action", "blocked", "--topic", "Schema lock"]);
    p.hook("pool-prompt", "B", "database", "fresh");
    let blocks = std::fs::read_to_string(session_file(&p, "blocks")).unwrap();
    assert!(blocks.contains("Schema lock"), "{blocks}");
    p.post("A", &["--action", "completed", "--topic", "schema lock"]);
    let prompt = p.hook("pool-prompt", "B", "database", "fresh");
    assert!(
        prompt.contains("ends your block on: Schema lock"),
        "{prompt}"
    );
}
