//! Coordination beyond the log, end to end with the real binaries: claims and
//! the PreToolUse guard, recent edits and `pool who`, handoffs until
//! acknowledged, news mid-session, and durable knowledge.

mod common;
use common::{exe, feed, make_pool};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

struct Team {
    tmp: tempfile::TempDir,
}

impl Team {
    fn new() -> Self {
        let t = Team {
            tmp: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(t.repo().join("src")).unwrap();
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
        if bin == "pool" && args.first() == Some(&"post") {
            make_pool(&self.tmp.path().join("pool"));
        }
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
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn post(&self, instance: &str, args: &[&str]) -> String {
        let mut all = vec!["post"];
        all.extend_from_slice(args);
        let out = self.run("pool", instance, &all, "", &[]);
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .trim_start_matches("posted ")
            .to_string()
    }

    fn guard(
        &self,
        instance: &str,
        session: &str,
        tool: &str,
        file: &Path,
        env: &[(&str, &str)],
    ) -> Option<Value> {
        let key = if tool == "NotebookEdit" {
            "notebook_path"
        } else {
            "file_path"
        };
        let input = json!({"session_id": session, "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": {key: file, "old_string": "a", "new_string": "b"}, "cwd": self.repo()});
        let out = self.run("pool-guard", instance, &[], &input.to_string(), env);
        let text = String::from_utf8(out.stdout).unwrap();
        (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
    }

    fn hook(&self, bin: &str, instance: &str, session: &str, event: &str) -> String {
        let input = json!({"session_id": session, "hook_event_name": event, "source": "startup", "prompt": "go"});
        String::from_utf8(self.run(bin, instance, &[], &input.to_string(), &[]).stdout).unwrap()
    }
}

#[test]
fn the_default_guard_refuses_the_first_edit_of_a_claimed_file_and_lets_the_retry_through() {
    let t = Team::new();
    let file = t.repo().join("src/auth.rs");
    t.post(
        "B",
        &[
            "--action",
            "claimed",
            "--topic",
            "Auth token refresh",
            "--affects",
            "src/auth.rs",
        ],
    );
    let deny = |out: Option<Value>| {
        let out = out.expect("a decision");
        assert_eq!(
            out["hookSpecificOutput"]["permissionDecision"], "deny",
            "{out}"
        );
        out["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let why = deny(t.guard("A", "sa", "Edit", &file, &[]));
    assert!(
        common::contains_secs_ago(&why, "B claimed src/auth.rs 0s ago: \"Auth token refresh\"")
            && why.contains("unchanged")
            && why.contains("again within 5 minutes"),
        "{why}"
    );
    // The same session's retry goes through silently, and later edits too.
    assert!(t.guard("A", "sa", "Edit", &file, &[]).is_none());
    assert!(t.guard("A", "sa", "Write", &file, &[]).is_none());
    // A subagent of that session is another model: refused once as well.
    let sub = |t: &Team| {
        let input = json!({"session_id": "sa", "agent_id": "agent-1", "agent_type": "general-purpose", "hook_event_name": "PreToolUse", "tool_name": "Edit", "tool_input": {"file_path": file, "old_string": "a", "new_string": "b"}, "cwd": t.repo()});
        let out = t.run("pool-guard", "A", &[], &input.to_string(), &[]);
        let text = String::from_utf8(out.stdout).unwrap();
        (!text.is_empty()).then(|| serde_json::from_str::<Value>(&text).unwrap())
    };
    deny(sub(&t));
    assert!(sub(&t).is_none());
    // Another session of another instance is told too, and of A's edit now as well.
    let why = deny(t.guard("C", "sc", "Edit", &file, &[]));
    assert!(
        why.contains("B claimed") && why.contains("A edited"),
        "{why}"
    );
    // Ask mode without anyone attending falls back to refusing once.
    let unattended = [
        ("POOL_CLAIMS", "ask"),
        ("CLAUDE_CODE_SESSION_ATTENDED", "0"),
    ];
    let why = deny(t.guard("D", "sd", "Edit", &file, &unattended));
    assert!(why.contains("nobody is attending"), "{why}");
    assert!(t.guard("D", "sd", "Edit", &file, &unattended).is_none());
    // Block mode refuses every time.
    let block = [("POOL_CLAIMS", "block")];
    deny(t.guard("E", "se", "Edit", &file, &block));
    deny(t.guard("E", "se", "Edit", &file, &block));
}

#[test]
fn warn_mode_notes_a_claimed_file_and_ask_mode_asks_the_user() {
    const W: [(&str, &str); 1] = [("POOL_CLAIMS", "warn")];
    let t = Team::new();
    let file = t.repo().join("src/auth.rs");
    assert!(
        t.guard("A", "sa", "Edit", &file, &W).is_none(),
        "nothing claimed yet"
    );
    t.post(
        "B",
        &[
            "--action",
            "claimed",
            "--topic",
            "Auth token refresh",
            "--affects",
            "src/auth.rs, src/session/",
        ],
    );
    let out = t.guard("A", "sa", "Edit", &file, &W).expect("a warning");
    let ctx = out["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert_eq!(out["hookSpecificOutput"]["hookEventName"], "PreToolUse");
    assert!(
        common::contains_secs_ago(ctx, "B claimed src/auth.rs 0s ago: \"Auth token refresh\""),
        "{ctx}"
    );
    // Under a claimed folder, through Write and NotebookEdit too.
    assert!(
        t.guard(
            "A",
            "sa",
            "Write",
            &t.repo().join("src/session/store.rs"),
            &W
        )
        .is_some()
    );
    assert!(
        t.guard(
            "A",
            "sa",
            "NotebookEdit",
            &t.repo().join("src/session/nb.ipynb"),
            &W
        )
        .is_some()
    );
    assert!(
        t.guard("A", "sa", "Read", &file, &W).is_none(),
        "reads are not guarded"
    );
    // Never about one's own claims (A's recent edit still counts).
    let own = t.guard("B", "sb", "Edit", &file, &W).unwrap();
    let ctx = own["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(
        !ctx.contains("B claimed") && ctx.contains("A edited"),
        "{ctx}"
    );
    // Asking the user instead.
    let out = t
        .guard(
            "C",
            "sc",
            "MultiEdit",
            &file,
            &[
                ("POOL_CLAIMS", "ask"),
                ("CLAUDE_CODE_SESSION_ATTENDED", "1"),
            ],
        )
        .unwrap();
    assert_eq!(out["hookSpecificOutput"]["permissionDecision"], "ask");
    assert!(
        out["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("B claimed")
    );
    // Released by completing the same topic: only recent edits remain.
    t.post(
        "B",
        &["--action", "completed", "--topic", "auth token refresh"],
    );
    let out = t.guard("D", "sd", "Edit", &file, &W).unwrap();
    let ctx = out["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(!ctx.contains("claimed"), "{ctx}");
    assert!(
        ctx.contains("A edited") && ctx.contains("C edited"),
        "{ctx}"
    );
}

#[test]
fn pool_who_answers_from_claims_and_recorded_edits() {
    let t = Team::new();
    let file = t.repo().join("src/lib.rs");
    t.guard("A", "sa", "Edit", &file, &[]);
    t.post(
        "B",
        &[
            "--action",
            "claimed",
            "--topic",
            "Lib cleanup",
            "--affects",
            "src/*.rs",
        ],
    );
    let out = t.run("pool", "Z", &["who", "src/lib.rs"], "", &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("B claimed src/*.rs: \"Lib cleanup\""),
        "{text}"
    );
    assert!(text.contains("A edited"), "{text}");
    let out = t.run("pool", "Z", &["who", "README.md"], "", &[]);
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("nobody"));
}

#[test]
fn handoffs_stay_on_top_until_acknowledged() {
    let t = Team::new();
    let id = t.post(
        "A",
        &[
            "--action",
            "completed",
            "--topic",
            "Parser ready for review",
            "--to",
            "DEV",
            "--summary",
            "see src/parser.rs",
        ],
    );
    t.post(
        "A",
        &["--action", "completed", "--topic", "Unrelated broadcast"],
    );
    let start = t.hook("pool-session-start", "DEV", "d1", "SessionStart");
    let handoffs_at = start.find("### Handoffs for you").expect(&start);
    assert!(
        handoffs_at < start.find("### Recent Activity").unwrap(),
        "handoffs come first"
    );
    assert!(start.contains(&format!("[A → you] completed: Parser ready for review — see src/parser.rs (acknowledge: `pool ack {id}`")), "{start}");
    // Other instances do not get it as a handoff.
    assert!(
        !t.hook("pool-session-start", "OTHER", "o1", "SessionStart")
            .contains("Handoffs for you")
    );
    // The session's conversation holds it now: its next prompt does not add it again.
    let prompt = t.hook("pool-prompt", "DEV", "d1", "UserPromptSubmit");
    assert!(!prompt.contains("Parser ready for review"), "{prompt}");
    // A handoff arriving mid-session is added once, under handoffs and not under news.
    let second = t.post(
        "A",
        &[
            "--action",
            "signaling",
            "--topic",
            "Lexer ready too",
            "--to",
            "DEV",
        ],
    );
    let prompt = t.hook("pool-prompt", "DEV", "d1", "UserPromptSubmit");
    assert_eq!(prompt.matches("Lexer ready too").count(), 1, "{prompt}");
    assert!(
        prompt.contains("handoffs for you") && !prompt.contains("news since"),
        "{prompt}"
    );
    let prompt = t.hook("pool-prompt", "DEV", "d1", "UserPromptSubmit");
    assert!(!prompt.contains("Lexer ready too"), "{prompt}");
    t.run("pool", "DEV", &["ack", &second], "", &[]);
    // The entry lives 7 days.
    let q = t.run("pool", "DEV", &["query", "--json", "--limit", "5"], "", &[]);
    let ttl = String::from_utf8(q.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == id.as_str())
        .unwrap()["ttl"]
        .clone();
    assert_eq!(ttl, 7 * 86_400);
    t.run("pool", "DEV", &["ack", &id], "", &[]);
    let start = t.hook("pool-session-start", "DEV", "d2", "SessionStart");
    assert!(!start.contains("Handoffs for you"), "{start}");
    // Acknowledged: no longer shown to DEV at all, not even as recent activity.
    assert!(
        !start.contains("Parser ready") && !start.contains("Lexer ready"),
        "{start}"
    );
    assert!(start.contains("Unrelated broadcast"), "{start}");
    // Others still see it as what it is.
    let other = t.hook("pool-session-start", "OTHER", "o2", "SessionStart");
    assert!(other.contains("Parser ready"), "{other}");
    assert!(
        !t.hook("pool-prompt", "DEV", "d1", "UserPromptSubmit")
            .contains("Parser ready")
    );
}

#[test]
fn news_arrives_once_before_the_next_prompt() {
    let t = Team::new();
    t.hook("pool-session-start", "B", "b1", "SessionStart");
    assert_eq!(
        t.hook("pool-prompt", "B", "b1", "UserPromptSubmit"),
        "",
        "nothing new"
    );
    t.post(
        "A",
        &[
            "--action",
            "blocked",
            "--topic",
            "Waiting on the schema",
            "--summary",
            "need the users table",
        ],
    );
    t.post("B", &["--action", "completed", "--topic", "My own work"]);
    let news = t.hook("pool-prompt", "B", "b1", "UserPromptSubmit");
    assert!(
        news.contains("## Pool news since your last prompt (1 new)"),
        "{news}"
    );
    assert!(news.contains("- [A] blocked: Waiting on the schema — need the users table"));
    assert!(!news.contains("My own work"));
    assert!(news.len() <= 2000);
    assert_eq!(
        t.hook("pool-prompt", "B", "b1", "UserPromptSubmit"),
        "",
        "delivered once"
    );
    // Relevance filters news, but critical entries reach everyone.
    let env = [("CLAUDE_INSTANCE_DOMAIN", "frontend")];
    let input = json!({"session_id": "b1", "hook_event_name": "UserPromptSubmit"}).to_string();
    t.post(
        "A",
        &["--action", "completed", "--topic", "Database index tuning"],
    );
    t.post(
        "A",
        &[
            "--action",
            "signaling",
            "--topic",
            "Main is broken, do not merge",
            "--priority",
            "critical",
        ],
    );
    let news = String::from_utf8(t.run("pool-prompt", "B", &[], &input, &env).stdout).unwrap();
    assert!(
        news.contains("[A] [critical] signaling: Main is broken"),
        "{news}"
    );
    assert!(!news.contains("Database index"), "{news}");
}

#[test]
fn a_resumed_session_gets_as_news_what_its_session_start_left_out() {
    // bench/outcome found it: a resumed session (`claude -p --resume`) runs
    // SessionStart again, which shows only the newest entries; the claims and
    // completions it left out must still reach the next prompt as news.
    let t = Team::new();
    t.hook("pool-session-start", "B", "b1", "SessionStart");
    assert_eq!(t.hook("pool-prompt", "B", "b1", "UserPromptSubmit"), "");
    for i in 0..8 {
        t.post(
            "A",
            &[
                "--action",
                "claimed",
                "--topic",
                &format!("Backlog task {i}"),
                "--affects",
                &format!("src/t{i}.rs"),
            ],
        );
    }
    let start = t.hook("pool-session-start", "B", "b1", "SessionStart");
    assert!(start.contains("more entries not shown"), "{start}");
    assert!(!start.contains("Backlog task 0"), "{start}");
    let news = t.hook("pool-prompt", "B", "b1", "UserPromptSubmit");
    assert!(news.contains("[A] claimed: Backlog task 0"), "{news}");
    assert!(news.contains("[A] claimed: Backlog task 7"), "{news}");
    assert_eq!(
        t.hook("pool-prompt", "B", "b1", "UserPromptSubmit"),
        "",
        "delivered once"
    );
}

#[test]
fn knowledge_has_its_own_section_and_everything_fits_the_cap() {
    let t = Team::new();
    for i in 0..60 {
        t.post(
            "A",
            &[
                "--action",
                "completed",
                "--topic",
                &format!("Task {i} {}", "x".repeat(100)),
                "--summary",
                &"s".repeat(2000),
            ],
        );
    }
    for i in 0..12 {
        t.post(
            "A",
            &["--action", "decided", "--topic", &format!("Decision {i}")],
        );
        t.post(
            "C",
            &[
                "--action",
                "completed",
                "--topic",
                &format!("Handoff {i}"),
                "--to",
                "B",
            ],
        );
    }
    t.post(
        "A",
        &[
            "--action",
            "learned",
            "--topic",
            "Retry the flaky test once",
        ],
    );
    for compact in ["1", "0"] {
        let input = json!({"session_id": "b", "hook_event_name": "SessionStart"}).to_string();
        let out = t.run(
            "pool-session-start",
            "B",
            &[],
            &input,
            &[("POOL_COMPACT", compact)],
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.chars().count() < 10_000,
            "{} chars",
            text.chars().count()
        );
        for section in [
            "## Session Context",
            "### Handoffs for you",
            "### Learned and decided",
            "more entries not shown — run `pool-query`",
            "info string is `pool`",
        ] {
            assert!(
                text.contains(section),
                "missing {section} in compact={compact}:\n{text}"
            );
        }
        assert!(text.contains("- [A] learned: Retry the flaky test once"));
        assert!(text.contains("- 7 more handoffs"), "{text}");
    }
}

/// Issue 23 §4: an entry appended in the same second as a session's last
/// look, with the log rewritten before its next prompt (`pool doctor
/// --repair` quarantining a torn line or stamping a stray one, `pool gc`
/// stamping a stray one), reaches that prompt, once. The clock is frozen
/// (faketime) so the look and the posts share their second in every run.
/// Unix only: faketime, and the log's inode shows the rewrite happened.
#[cfg(unix)]
#[test]
fn news_posted_in_the_second_of_the_last_look_survives_a_rewrite() {
    use std::io::Write;
    use std::process::Stdio;
    assert!(
        Command::new("faketime")
            .args(["-f", "+0", "true"])
            .status()
            .is_ok_and(|s| s.success()),
        "faketime is not installed (apt-get install faketime)"
    );
    let stray = |n: usize| {
        format!(
            "{{\"id\":\"stray-{n}\",\"timestamp\":{},\"source_instance\":\"C\",\"action\":\"completed\",\"topic\":\"Stray {n}\"}}\n",
            chrono::Utc::now().timestamp() - 3600
        )
    };
    let rewrites: [(&str, &[&str]); 4] = [
        ("torn", &["doctor", "--repair"]),
        ("stray", &["doctor", "--repair"]),
        ("stray", &["gc", "--quiet"]),
        ("both", &["doctor", "--repair"]),
    ];
    let mut lost = Vec::new();
    for (run, (what, rewrite)) in rewrites.iter().enumerate() {
        let t = Team::new();
        make_pool(&t.tmp.path().join("pool"));
        let log = t.tmp.path().join("pool/instance_state.jsonl");
        // Frozen a minute back, so no stamp is ahead of the real clock.
        let frozen = (chrono::Utc::now() - chrono::Duration::seconds(60))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        let at = |bin: &str, instance: &str, args: &[&str], stdin: &str| {
            let mut all = vec![frozen.as_str(), exe(bin)];
            all.extend_from_slice(args);
            let mut cmd = Command::new("faketime");
            cmd.env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", t.tmp.path())
                .env("POOL_DIR", t.tmp.path().join("pool"))
                .env("CLAUDE_INSTANCE", instance)
                .current_dir(t.repo())
                .args(&all)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{bin} {args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        // Some history, so the mark is not at the very start of the log.
        at(
            "pool",
            "A",
            &["post", "--action", "completed", "--topic", "Old work"],
            "",
        );
        let look =
            json!({"session_id": "b1", "hook_event_name": "UserPromptSubmit", "prompt": "go"})
                .to_string();
        at(
            "pool-session-start",
            "B",
            &[],
            &json!({"session_id": "b1", "hook_event_name": "SessionStart", "source": "startup"})
                .to_string(),
        );
        assert_eq!(
            at("pool-prompt", "B", &[], &look),
            "",
            "run {run}: nothing new yet"
        );
        // The last look and these posts share their (frozen) second.
        at(
            "pool",
            "A",
            &[
                "post",
                "--action",
                "signaling",
                "--topic",
                &format!("Main is broken, run {run}"),
                "--priority",
                "critical",
            ],
            "",
        );
        at(
            "pool",
            "A",
            &[
                "post",
                "--action",
                "completed",
                "--topic",
                &format!("Login form done, run {run}"),
            ],
            "",
        );
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        match *what {
            "torn" => f.write_all(b"{\"id\":\"torn\",\"timesta\n").unwrap(),
            "stray" => f.write_all(stray(run).as_bytes()).unwrap(),
            _ => {
                f.write_all(b"not json\n").unwrap();
                f.write_all(stray(run).as_bytes()).unwrap();
            }
        }
        drop(f);
        let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&log).unwrap());
        // `pool doctor` exits 1 here (no hooks installed): its repair is what counts.
        let out = Command::new(exe("pool"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", t.tmp.path())
            .env("POOL_DIR", t.tmp.path().join("pool"))
            .current_dir(t.repo())
            .args(*rewrite)
            .output()
            .unwrap();
        assert!(out.status.code().is_some(), "{out:?}");
        assert_ne!(
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&log).unwrap()),
            ino,
            "run {run}: {rewrite:?} rewrote the log"
        );
        let news = t.hook("pool-prompt", "B", "b1", "UserPromptSubmit");
        if !news.contains(&format!(
            "[A] [critical] signaling: Main is broken, run {run}"
        )) || !news.contains(&format!("Login form done, run {run}"))
        {
            lost.push(format!("run {run} ({what}, {rewrite:?}): {news:?}"));
            continue;
        }
        assert!(!news.contains("Old work"), "run {run}: seen before: {news}");
        let again = t.hook("pool-prompt", "B", "b1", "UserPromptSubmit");
        assert!(
            !again.contains("Main is broken"),
            "run {run}: delivered twice: {again}"
        );
    }
    assert!(
        lost.is_empty(),
        "news lost in {} of 4 runs: {lost:#?}",
        lost.len()
    );
}
