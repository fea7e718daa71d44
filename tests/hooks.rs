//! End-to-end tests of the hook binaries on real Claude Code transcripts:
//! `pool-stop` extraction (exactly once, from every source) and
//! `pool-session-start` injection, run as Claude Code runs them.

mod common;
use common::{exe, make_pool};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/corpus");

struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn pool(&self) -> PathBuf {
        self.tmp.path().join("pool")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn command(&self, bin: &str, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(exe(bin));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path().join("home"))
            .env("POOL_DIR", self.pool())
            .current_dir(self.tmp.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, bin: &str, stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut child = self.command(bin, env).spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        // A hook may exit before reading all of its input; that is fine.
        let _ = pipe.write_all(stdin.as_bytes());
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    fn stop(&self, input: &Value, instance: &str) {
        let out = self.run(
            "pool-stop",
            &input.to_string(),
            &[("CLAUDE_INSTANCE", instance)],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "stop printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// The entries blocks made; the automatic digest SessionEnd posts
    /// (`origin: "auto"`, tested in `tests/auto.rs`) is left out.
    fn entries(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.pool().join("instance_state.jsonl")) {
            Ok(s) => s
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|e| e["origin"] != "auto")
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .entries()
            .iter()
            .map(|e| e["topic"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(self.pool().join("errors.log")).unwrap_or_default()
    }
}

fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Makes a corpus transcript usable as a live session: the corpus blocks
/// (`alpha: 1`, …) get a TOPIC, and every line is stamped now, so nothing is
/// old history. Everything else stays as Claude Code wrote it.
fn freshen(text: &str) -> String {
    freshen_at(text, &now_iso())
}

/// [`freshen`] with a given time, for files that must share one (a fork
/// copies its history with the original times).
fn freshen_at(text: &str, now: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v.get("timestamp").is_some_and(Value::is_string) {
            v["timestamp"] = json!(now);
        }
        out.push_str(&add_topics(&v.to_string()));
        out.push('\n');
    }
    out
}

fn add_topics(s: &str) -> String {
    let mut s = s.to_string();
    for (raw, topic) in [
        ("alpha: 1", "alpha"),
        ("beta: 2", "beta"),
        ("gamma: 3", "gamma"),
        ("b1: 1", "b1"),
        ("b2: 2", "b2"),
    ] {
        s = s.replace(raw, &format!("TOPIC: {topic}"));
    }
    s
}

fn corpus(rel: &str) -> String {
    std::fs::read_to_string(Path::new(CORPUS).join(rel)).unwrap()
}

fn hook_input(rel: &str, transcript: &Path, session: &str) -> Value {
    let mut v: Value = serde_json::from_str(&add_topics(&corpus(rel))).unwrap();
    v["transcript_path"] = json!(transcript);
    v["session_id"] = json!(session);
    v
}

fn stop_input(session: &str, transcript: &Path) -> Value {
    json!({"session_id": session, "transcript_path": transcript, "cwd": "/proj", "hook_event_name": "Stop", "stop_hook_active": false})
}

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            jsonl_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_transcript_passes_without_inventing_entries() {
    let mut files = Vec::new();
    jsonl_files(Path::new(CORPUS), &mut files);
    assert!(files.len() >= 14, "corpus has {} transcripts", files.len());
    let sb = Sandbox::new();
    for (i, f) in files.iter().enumerate() {
        let input = stop_input(&format!("corpus-{i}"), f);
        sb.stop(&input, "A");
        sb.stop(&input, "A");
    }
    // The corpus's own blocks (`alpha: 1`) name no TOPIC or SUMMARY: nothing is written, and each is logged.
    assert_eq!(sb.entries().len(), 0);
    for line in sb.errors().lines() {
        assert!(
            line.contains("without TOPIC or SUMMARY"),
            "unexpected error: {line}"
        );
    }
}

#[test]
fn only_assistant_text_of_the_main_thread_counts() {
    let sb = Sandbox::new();
    let t = sb.path("placed.jsonl");
    let block = |name: &str| format!("```pool\nACTION: completed\nTOPIC: {name}\n```");
    let now = now_iso();
    let lines = [
        json!({"type": "user", "uuid": "u1", "promptId": "p1", "timestamp": now, "message": {"role": "user", "content": block("user text")}}),
        json!({"type": "assistant", "uuid": "a1", "timestamp": now, "message": {"id": "m1", "role": "assistant", "content": [{"type": "thinking", "thinking": block("thinking"), "signature": "x"}]}}),
        json!({"type": "assistant", "uuid": "a2", "timestamp": now, "message": {"id": "m1", "role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": block("tool input")}}]}}),
        json!({"type": "user", "uuid": "u2", "promptId": "p1", "timestamp": now, "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": block("tool result")}]}, "toolUseResult": {"stdout": block("tool result")}}),
        json!({"type": "progress", "uuid": "g1", "timestamp": now, "data": {"type": "agent_progress", "message": {"type": "assistant", "message": {"content": [{"type": "text", "text": block("subagent progress")}]}}}}),
        json!({"type": "assistant", "uuid": "s1", "isSidechain": true, "timestamp": now, "message": {"id": "m9", "role": "assistant", "content": [{"type": "text", "text": block("sidechain")}]}}),
        json!({"type": "assistant", "uuid": "a3", "timestamp": now, "message": {"id": "m2", "role": "assistant", "content": [{"type": "text", "text": format!("Done.\n\n{}\n", block("assistant text"))}]}}),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&t, body).unwrap();
    sb.stop(&stop_input("s1", &t), "A");
    assert_eq!(sb.topics(), ["assistant text"]);
    let e = &sb.entries()[0];
    assert_eq!(e["source_instance"], "A");
    assert_eq!(e["action"], "completed");
    assert_eq!(e["session_id"], "s1");
}

/// The recorded transcript with two text blocks (four pool blocks: alpha,
/// b1, b2, gamma), freshened into the sandbox, and its Stop input (session s2).
fn two_text_blocks(sb: &Sandbox) -> Value {
    let t = sb.path("two.jsonl");
    std::fs::write(
        &t,
        freshen(&corpus("generated/cc2.1.329-mock-two-text-blocks.jsonl")),
    )
    .unwrap();
    hook_input(
        "generated/hook-inputs/2.1.329/two-text-blocks-06_Stop.json",
        &t,
        "s2",
    )
}

#[test]
fn two_text_blocks_and_repeated_runs_yield_each_block_once() {
    let sb = Sandbox::new();
    let input = two_text_blocks(&sb);
    let t = input["transcript_path"].as_str().unwrap().to_string();
    for _ in 0..3 {
        sb.stop(&input, "A");
        sb.run(
            "pool-stop",
            &json!({"session_id": "s2", "transcript_path": t, "hook_event_name": "SessionEnd"})
                .to_string(),
            &[("CLAUDE_INSTANCE", "A")],
        );
    }
    assert_eq!(sb.topics(), ["alpha", "b1", "b2", "gamma"]);
}

/// `pool hook NAME` (how the npm package's one binary runs every hook) is
/// the hook binary itself: it extracts from the same cursor (each block
/// once, whichever of the two runs) and prints the same session start.
#[test]
fn pool_hook_is_each_hook_binary() {
    let sb = Sandbox::new();
    let input = two_text_blocks(&sb).to_string();
    let via_pool = |hook: &str, stdin: &str, env: &[(&str, &str)]| {
        let mut child = sb
            .command("pool", env)
            .args(["hook", hook])
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    };
    let out = via_pool("pool-stop", &input, &[("CLAUDE_INSTANCE", "A")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(sb.topics(), ["alpha", "b1", "b2", "gamma"]);
    sb.stop(&serde_json::from_str(&input).unwrap(), "A");
    assert_eq!(sb.topics(), ["alpha", "b1", "b2", "gamma"]);
    // (Those blocks are in the transcript's repository; this one is here.)
    let out = sb
        .command("pool", &[])
        .args(["post", "--instance", "A", "--action", "completed"])
        .args(["--topic", "Shared work"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let start = json!({"session_id": "b1", "hook_event_name": "SessionStart", "source": "startup"})
        .to_string();
    let env = [("CLAUDE_INSTANCE", "B")];
    let direct = sb.run("pool-session-start", &start, &env);
    let hooked = via_pool("pool-session-start", &start, &env);
    assert_eq!(hooked.status.code(), Some(0));
    let text = String::from_utf8(hooked.stdout).unwrap();
    assert!(text.contains("[A] completed: Shared work"), "{text}");
    assert_eq!(text, String::from_utf8(direct.stdout).unwrap());
    assert_eq!(sb.errors(), "");
}

#[test]
fn a_lagging_transcript_and_the_last_message_give_each_block_once() {
    let sb = Sandbox::new();
    let t = sb.path("lag.jsonl");
    let full = freshen(&corpus("generated/cc2.1.329-mock-two-text-blocks.jsonl"));
    let snapshot_len = freshen(&corpus(
        "generated/cc2.1.329-mock-two-text-blocks.snapshot-at-first-Stop-hook.jsonl",
    ))
    .len();
    assert_eq!(
        &full[..snapshot_len].lines().count(),
        &corpus("generated/cc2.1.329-mock-two-text-blocks.snapshot-at-first-Stop-hook.jsonl")
            .lines()
            .count()
    );
    // First Stop: the file holds neither text block of the final message;
    // `last_assistant_message` holds only the second (b2).
    std::fs::write(&t, &full[..snapshot_len]).unwrap();
    let first = hook_input(
        "generated/hook-inputs/2.1.329/two-text-blocks-05_Stop.json",
        &t,
        "s3",
    );
    sb.stop(&first, "A");
    sb.stop(&first, "A");
    assert_eq!(
        sb.topics(),
        ["alpha", "b2"],
        "b2 is visible only through last_assistant_message"
    );
    // The file catches up to just before the last message; the second Stop's
    // last message (gamma) is again ahead of the file.
    let before_gamma = full.rfind("Continuing after stop hook feedback").unwrap();
    let cut = full[..before_gamma].rfind('\n').unwrap() + 1;
    std::fs::write(&t, &full[..cut]).unwrap();
    let second = hook_input(
        "generated/hook-inputs/2.1.329/two-text-blocks-06_Stop.json",
        &t,
        "s3",
    );
    sb.stop(&second, "A");
    assert_eq!(sb.topics(), ["alpha", "b1", "b2", "gamma"]);
    // Then the whole file, caught up on SessionEnd and again on a later Stop.
    std::fs::write(&t, &full).unwrap();
    sb.stop(
        &json!({"session_id": "s3", "transcript_path": t, "hook_event_name": "SessionEnd"}),
        "A",
    );
    sb.stop(&second, "A");
    assert_eq!(sb.topics(), ["alpha", "b1", "b2", "gamma"]);
    // A fork copies the history (same line uuids, new session id and prompt
    // ids): nothing is appended twice, including blocks first seen through
    // last_assistant_message.
    let fork = sb.path("fork.jsonl");
    let forked: String = full
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v.get("sessionId").is_some() {
                v["sessionId"] = json!("fork-session");
            }
            if v.get("promptId").is_some() {
                v["promptId"] = json!("fork-prompt");
            }
            format!("{v}\n")
        })
        .collect();
    std::fs::write(&fork, forked).unwrap();
    sb.stop(&stop_input("fork-session", &fork), "A");
    assert_eq!(sb.topics(), ["alpha", "b1", "b2", "gamma"]);
}

#[test]
fn a_block_seen_before_the_transcript_exists_is_pooled_once() {
    // Seen with the real Claude Code in -p mode: at the first Stop the
    // session's transcript file does not exist yet.
    let sb = Sandbox::new();
    let t = sb.path("late.jsonl");
    let full = freshen(&corpus("generated/cc2.1.329-mock-turn.jsonl"));
    let stop = hook_input("generated/hook-inputs/2.1.329/05_Stop.json", &t, "s7");
    sb.stop(&stop, "A");
    assert_eq!(sb.topics(), ["beta"]);
    let cut = full.find("Continuing after stop hook feedback").unwrap();
    let cut = full[..cut].rfind('\n').unwrap() + 1;
    std::fs::write(&t, &full[..cut]).unwrap();
    sb.stop(
        &json!({"session_id": "s7", "transcript_path": t, "hook_event_name": "UserPromptSubmit"}),
        "A",
    );
    std::fs::write(&t, &full).unwrap();
    sb.stop(
        &json!({"session_id": "s7", "transcript_path": t, "hook_event_name": "SessionEnd"}),
        "A",
    );
    assert_eq!(sb.topics(), ["alpha", "beta", "gamma"]);
}

#[test]
fn resumed_and_forked_sessions_append_each_block_once() {
    let sb = Sandbox::new();
    let t = sb.path("resume.jsonl");
    // One time for both files: Claude Code's fork keeps its history's
    // timestamps, and a later one (a second boundary crossed between two
    // freshen calls on a slow machine) would put the copied blocks after
    // their own append stamps, past the duplicate check's look-back.
    let now = now_iso();
    let full = freshen_at(
        &corpus("generated/cc2.1.329-mock-startup-then-resume.jsonl"),
        &now,
    );
    // The first run, then the resumed run appended to the same file.
    let second_start = full.find("\"again\"").unwrap();
    let cut = full[..second_start].rfind('\n').unwrap() + 1;
    std::fs::write(&t, &full[..cut]).unwrap();
    sb.stop(&stop_input("11111111-2222-4333-8444-555555555555", &t), "A");
    assert_eq!(sb.entries().len(), 3);
    std::fs::write(&t, &full).unwrap();
    sb.stop(&stop_input("11111111-2222-4333-8444-555555555555", &t), "A");
    assert_eq!(
        sb.topics(),
        ["alpha", "alpha", "beta", "beta", "gamma", "gamma"]
    );
    // The fork Claude Code wrote: the history again under a new session id, then one new turn.
    let fork = sb.path("fork.jsonl");
    let fork_text = freshen_at(
        &corpus("generated/cc2.1.329-mock-fork-of-resume.jsonl"),
        &now,
    );
    std::fs::write(&fork, &fork_text).unwrap();
    let start = hook_input(
        "generated/hook-inputs/2.1.329/resume-fork-16_SessionStart.json",
        &fork,
        "37d1ac58-9182-456b-b5e4-c2a46a06c76e",
    );
    let out = sb.run(
        "pool-session-start",
        &start.to_string(),
        &[("CLAUDE_INSTANCE", "A")],
    );
    assert_eq!(out.status.code(), Some(0));
    sb.stop(
        &stop_input("37d1ac58-9182-456b-b5e4-c2a46a06c76e", &fork),
        "A",
    );
    assert_eq!(sb.entries().len(), 9, "{:?}", sb.topics());
    let ids: std::collections::HashSet<String> = sb
        .entries()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 9);
}

#[test]
fn a_rewritten_transcript_is_rescanned_without_duplicates() {
    let sb = Sandbox::new();
    let t = sb.path("t.jsonl");
    let full = freshen(&corpus("generated/cc2.1.329-mock-turn.jsonl"));
    std::fs::write(&t, &full).unwrap();
    sb.stop(&stop_input("s4", &t), "A");
    assert_eq!(sb.topics(), ["alpha", "beta", "gamma"]);
    // Truncated in place, then rewritten (as after an error), and moved.
    std::fs::write(&t, &full[..full.len() / 2]).unwrap();
    sb.stop(&stop_input("s4", &t), "A");
    std::fs::write(&t, &full).unwrap();
    sb.stop(&stop_input("s4", &t), "A");
    let moved = sb.path("moved.jsonl");
    std::fs::rename(&t, &moved).unwrap();
    sb.stop(&stop_input("s4", &moved), "A");
    assert_eq!(sb.topics(), ["alpha", "beta", "gamma"]);
}

#[test]
fn instance_comes_from_the_environment_then_the_block() {
    let sb = Sandbox::new();
    let t = sb.path("t.jsonl");
    std::fs::write(&t, "").unwrap();
    let mut input = stop_input("s5", &t);
    // Without CLAUDE_INSTANCE a session takes part only where `pool init`
    // opted its folder in; the block's INSTANCE then beats the derived name.
    let proj = sb.path("proj");
    std::fs::create_dir_all(proj.join(".claude")).unwrap();
    std::fs::write(proj.join(".claude/pool.json"), "{\"claude-pool\": 1}\n").unwrap();
    input["cwd"] = json!(proj);
    input["last_assistant_message"] =
        json!("```pool\nINSTANCE: LEGION\nACTION: done\nTOPIC: from block\n```");
    let out = sb.run("pool-stop", &input.to_string(), &[]);
    assert_eq!(out.status.code(), Some(0));
    input["session_id"] = json!("s6");
    input["last_assistant_message"] =
        json!("```pool\nINSTANCE: LEGION\nACTION: dancing\nTOPIC: from env\n```");
    sb.stop(&input, "DEV");
    let who: Vec<(String, String, String)> = sb
        .entries()
        .iter()
        .map(|e| {
            (
                e["topic"].as_str().unwrap().into(),
                e["source_instance"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("from block".into(), "LEGION".into(), "completed".into()),
            ("from env".into(), "DEV".into(), "signaling".into())
        ]
    );
    assert!(sb.errors().contains("unknown ACTION \"dancing\""));
}

#[test]
fn session_start_shows_others_entries_by_relevance() {
    let sb = Sandbox::new();
    make_pool(&sb.pool());
    let post = |inst: &str, action: &str, topic: &str, extra: &[&str]| {
        let mut args = vec![
            "post",
            "--instance",
            inst,
            "--action",
            action,
            "--topic",
            topic,
        ];
        args.extend_from_slice(extra);
        let out = sb.command("pool", &[]).args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    post(
        "A",
        "completed",
        "Auth token refresh",
        &["--affects", "src/auth/token.rs"],
    );
    post("A", "claimed", "Pipeline orchestration", &[]);
    post(
        "C",
        "blocked",
        "Waiting on schema",
        &["--blocks", "B can migrate"],
    );
    post("B", "signaling", "My own note", &[]);
    let start = json!({"session_id": "b1", "hook_event_name": "SessionStart", "source": "startup"})
        .to_string();
    let out = sb.run(
        "pool-session-start",
        &start,
        &[
            ("CLAUDE_INSTANCE", "B"),
            ("CLAUDE_INSTANCE_DOMAIN", "auth,token"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("## Session Context\n- **Instance**: B\n- **Pool**: 3 recent (1 own, 2 others)\n- **Status**: 1 completed, 1 blocked\n"), "{text}");
    assert!(text.contains("- [A] completed: Auth token refresh\n"));
    assert!(text.contains("- [C] blocked: Waiting on schema\n"));
    assert!(text.contains("- [B] signaling: My own note\n"));
    assert!(!text.contains("Pipeline"), "irrelevant entry shown: {text}");
    // No domain: everything; full output.
    let out = sb.run(
        "pool-session-start",
        &start,
        &[
            ("CLAUDE_INSTANCE", "B"),
            ("POOL_COMPACT", "0"),
            ("POOL_REMINDER", "0"),
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("**[A] 🔒 claimed: Pipeline orchestration**"),
        "{text}"
    );
    assert!(text.contains("**[YOU] 📡 signaling: My own note**"));
    assert!(text.contains("  Unblocks: B can migrate"));
    assert!(text.contains("ago | Relevance: 100%"));
    assert!(!text.contains("```pool"));
}

#[test]
fn session_start_is_quiet_with_nothing_to_say() {
    let sb = Sandbox::new();
    let out = sb.run(
        "pool-session-start",
        "",
        &[("CLAUDE_INSTANCE", "B"), ("POOL_REMINDER", "0")],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let out = sb.run("pool-session-start", "", &[("CLAUDE_INSTANCE", "B")]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("info string is `pool`")
    );
}

#[test]
fn bad_input_never_breaks_the_session() {
    let sb = Sandbox::new();
    let cases: Vec<String> = vec![
        String::new(),
        "not json".into(),
        "[1,2,3]".into(),
        "{\"session_id\": 5}".into(),
        "[".repeat(100_000),
        json!({"session_id": "x", "transcript_path": "/nonexistent/t.jsonl", "hook_event_name": "Stop"}).to_string(),
        "\u{0}\u{1}\u{ff}".into(),
    ];
    for c in &cases {
        for bin in ["pool-stop", "pool-session-start"] {
            let out = sb.run(bin, c, &[("CLAUDE_INSTANCE", "A"), ("POOL_REMINDER", "0")]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{bin} on {:?}",
                &c[..c.len().min(20)]
            );
            assert!(out.stdout.is_empty(), "{bin} printed on bad input");
        }
    }
    let errors = sb.errors();
    assert!(
        errors.contains("pool-stop: hook input is not the JSON object expected"),
        "{errors}"
    );
    assert!(
        errors.contains("cannot read transcript /nonexistent/t.jsonl"),
        "{errors}"
    );
    // A pool "folder" that is a file: the hook still exits 0.
    let file_pool = sb.path("pool-file");
    std::fs::write(&file_pool, "x").unwrap();
    let out = sb.run(
        "pool-stop",
        "{}",
        &[("POOL_DIR", file_pool.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn pool_query_lists_filters_and_handles_a_closed_pipe() {
    let sb = Sandbox::new();
    // No pool folder yet: said so, not "No pool entries found".
    let out = sb.command("pool-query", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("does not exist: check the spelling of POOL_DIR"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::create_dir_all(sb.pool()).unwrap();
    let out = sb.command("pool-query", &[]).output().unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("No pool entries found in "),
    );
    assert_eq!(out.status.code(), Some(0));
    for i in 0..30 {
        let inst = if i % 2 == 0 { "A" } else { "B" };
        let action = if i % 3 == 0 { "completed" } else { "claimed" };
        let out = sb
            .command("pool", &[])
            .args([
                "post",
                "--instance",
                inst,
                "--action",
                action,
                "--topic",
                &format!("task {i}"),
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let q = |args: &[&str]| {
        let out = sb.command("pool-query", &[]).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(q(&[]).lines().count(), 20);
    assert!(q(&[]).lines().next().unwrap().contains("task 29"));
    assert_eq!(q(&["--count"]).trim(), "30");
    assert_eq!(q(&["--count", "--instance", "a"]).trim(), "15");
    assert_eq!(q(&["--count", "--action", "done"]).trim(), "10");
    assert_eq!(
        q(&["--limit", "3", "--json"])
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["topic"]
                .as_str()
                .unwrap()
                .to_string())
            .collect::<Vec<_>>(),
        ["task 29", "task 28", "task 27"]
    );
    assert!(q(&["--verbose", "--limit", "1"]).contains("    id: "));
    // `pool-query | head -1`: the reader goes away; we exit 0 without a word.
    let mut child = sb
        .command("pool-query", &[])
        .args(["--limit", "100000", "--all", "--since", "30d"])
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let stdout = child.stdout.take().unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bad flags are usage errors.
    let out = sb
        .command("pool-query", &[])
        .args(["--since", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn pool_query_follow_streams_new_entries() {
    use std::io::BufRead;
    let sb = Sandbox::new();
    // The log does not exist yet when following starts.
    let mut child = sb
        .command("pool-query", &[])
        .args(["--follow", "--json"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    make_pool(&sb.pool());
    for topic in ["first", "second"] {
        let out = sb
            .command("pool", &[])
            .args([
                "post",
                "--instance",
                "A",
                "--action",
                "done",
                "--topic",
                topic,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut topics = Vec::new();
    while topics.len() < 2 {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("followed entries arrive");
        let v: Value = serde_json::from_str(&line).unwrap();
        topics.push(v["topic"].as_str().unwrap().to_string());
    }
    assert_eq!(topics, ["first", "second"]);
    let _ = child.kill();
    let _ = child.wait();
}

/// Issue 15: Claude Code 2.1.329 fires the first Stop of a text-only turn
/// before the transcript file exists. That race is expected: nothing is
/// logged as an error, and the block it carried is pooled once, also after
/// the file appears.
#[test]
fn first_stop_before_the_transcript_exists_is_no_error() {
    let sb = Sandbox::new();
    let t = sb.path("later.jsonl");
    let mut input = stop_input("race", &t);
    input["prompt_id"] = json!("p-race");
    input["last_assistant_message"] =
        json!("Done.\n```pool\nACTION: completed\nTOPIC: early stop\n```");
    sb.stop(&input, "A");
    assert_eq!(sb.topics(), ["early stop"]);
    assert!(
        !sb.errors().contains("cannot read transcript"),
        "{}",
        sb.errors()
    );
    // The file appears with the same turn: still one entry, still no error.
    let line = json!({"type": "assistant", "uuid": "u-race", "promptId": "p-race", "message": {"id": "m1", "content": [{"type": "text", "text": "Done.\n```pool\nACTION: completed\nTOPIC: early stop\n```"}]}});
    std::fs::write(&t, format!("{line}\n")).unwrap();
    sb.stop(&input, "A");
    assert_eq!(sb.topics(), ["early stop"]);
    assert!(sb.errors().is_empty(), "{}", sb.errors());
}

/// The inode and modification time of a file: a write by rename changes
/// the first, any write the second.
fn file_id(path: &Path) -> (u64, std::time::SystemTime) {
    let m = std::fs::metadata(path).unwrap();
    // Windows has no inode here: the modification time tells a write.
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    (ino, m.modified().unwrap())
}

/// Issue 24: a Stop with nothing new leaves the session's cursor as it is
/// (no write, no rename), and a real change still moves it: the next block
/// is pooled once.
#[test]
fn a_stop_with_nothing_new_writes_nothing() {
    let sb = Sandbox::new();
    let input = two_text_blocks(&sb);
    sb.stop(&input, "A");
    let cursor = std::fs::read_dir(sb.pool().join("sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a cursor");
    let before = file_id(&cursor);
    std::thread::sleep(std::time::Duration::from_millis(20));
    sb.stop(&input, "A");
    sb.stop(&input, "A");
    assert_eq!(file_id(&cursor), before, "a repeat Stop rewrote the cursor");
    // A new block in the transcript: read once, the cursor moves.
    let t = PathBuf::from(input["transcript_path"].as_str().unwrap());
    let line = json!({"type": "assistant", "timestamp": now_iso(), "uuid": "u-late",
        "message": {"role": "assistant", "content": [{"type": "text",
        "text": "```pool\nACTION: completed\nTOPIC: delta\n```"}]}});
    let mut f = std::fs::OpenOptions::new().append(true).open(&t).unwrap();
    writeln!(f, "{line}").unwrap();
    drop(f);
    let mut late = input.clone();
    late["last_assistant_message"] = json!("");
    sb.stop(&late, "A");
    sb.stop(&late, "A");
    assert_ne!(file_id(&cursor), before);
    assert_eq!(sb.topics(), ["alpha", "b1", "b2", "delta", "gamma"]);
}
