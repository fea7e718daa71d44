//! The hooks and `pool install --codex` for Codex, run for real: the built
//! binaries fed the stdin the real Codex 0.171.0 sent them
//! (`tests/fixtures/codex/`), against a temp pool, HOME and CODEX_HOME.
//! The same binaries serve Claude Code; these tests hold the Codex side.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use claude_pool::agent::codex_settings::{self, CODEX_HOOKS, trust_hash};
use claude_pool::agent::settings_file;
use serde_json::{Value, json};

fn bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pool"))
        .parent()
        .unwrap()
        .join(name)
}

/// The fixture rollout with every line's timestamp set to now, so its
/// blocks are live (older ones are history, never pooled).
fn fresh_rollout() -> String {
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    fixture("rollout-0.171.0.jsonl")
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["timestamp"] = json!(now);
            v.to_string() + "\n"
        })
        .collect()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/codex")
            .join(name),
    )
    .unwrap()
}

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        for d in ["home", "codex", "pool", "proj"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        World { _tmp: tmp, root }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn run(&self, program: &str, args: &[&str], instance: &str, stdin: &str) -> Output {
        let mut c = Command::new(bin(program));
        c.args(args)
            .current_dir(self.p("proj"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.p("home"))
            .env("CODEX_HOME", self.p("codex"))
            .env("POOL_DIR", self.p("pool"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !instance.is_empty() {
            c.env("CLAUDE_INSTANCE", instance);
        }
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// A Codex hook input from the fixtures, pointed at this world's copy of
    /// the rollout and project folder.
    fn input(&self, name: &str) -> String {
        let mut v: Value = serde_json::from_str(&fixture(name)).unwrap();
        v["transcript_path"] = json!(self.p("rollout-2026-11-30T05-57-04-x.jsonl"));
        v["cwd"] = json!(self.p("proj"));
        v.to_string()
    }

    /// The pool's entries from blocks (not the automatic ones, such as the
    /// session digest written at SessionEnd).
    fn entries(&self) -> Vec<Value> {
        let out = self.run("pool-query", &["--json", "--all"], "", "");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["origin"] != "auto")
            .collect()
    }
}

#[test]
fn codex_blocks_are_pooled_once_from_the_rollout_and_the_stop_message() {
    let w = World::new();
    let rollout = w.p("rollout-2026-11-30T05-57-04-x.jsonl");
    // Stop fires before the rollout shows the final message: the block comes
    // from last_assistant_message, keyed by the turn.
    let full = fresh_rollout();
    let cut = full.find("\"Done.").unwrap();
    let cut = full[..cut].rfind('\n').unwrap() + 1;
    std::fs::write(&rollout, &full[..cut]).unwrap();
    for args in [&["--agent", "codex"][..], &[][..]] {
        let out = w.run("pool-stop", args, "C", &w.input("hook-Stop.json"));
        assert!(out.status.success());
    }
    // Then the file catches up; SessionEnd and a later Stop read it.
    std::fs::write(&rollout, &full).unwrap();
    w.run(
        "pool-stop",
        &["--agent", "codex"],
        "C",
        &w.input("hook-SessionEnd.json"),
    );
    w.run(
        "pool-stop",
        &["--agent", "codex"],
        "C",
        &w.input("hook-Stop.json"),
    );
    let e = w.entries();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["topic"], "Codex probe");
    assert_eq!(e[0]["source_instance"], "C");
    assert_eq!(e[0]["session_id"], "01a22b07-3c13-7853-b3f0-7ccec35ff23f");
    assert!(!w.p("pool/errors.log").exists() || fixture_free_errors(&w));
}

#[test]
fn a_block_only_in_the_rollout_is_pooled() {
    // SessionEnd carries no last message: the rollout is the only source.
    let w = World::new();
    std::fs::write(w.p("rollout-2026-11-30T05-57-04-x.jsonl"), fresh_rollout()).unwrap();
    let out = w.run("pool-stop", &[], "C", &w.input("hook-SessionEnd.json"));
    assert!(out.status.success());
    let e = w.entries();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["topic"], "Codex probe");
}

fn fixture_free_errors(w: &World) -> bool {
    std::fs::read_to_string(w.p("pool/errors.log"))
        .unwrap()
        .trim()
        .is_empty()
}

#[test]
fn the_guard_checks_every_file_of_an_apply_patch_and_answers_in_codexs_envelope() {
    let w = World::new();
    let readme = w.p("proj/README.md");
    let post = w.run(
        "pool",
        &[
            "post",
            "--action",
            "claimed",
            "--topic",
            "Docs rewrite",
            "--affects",
            readme.to_str().unwrap(),
        ],
        "A",
        "",
    );
    assert!(post.status.success(), "{post:?}");
    for (env_ask, agent_args) in [(false, &["--agent", "codex"][..]), (true, &[][..])] {
        let input = w.input("hook-PreToolUse.json");
        let out = {
            // POOL_CLAIMS=warn, then ask: Codex refuses "ask", so an attended
            // session's ask is a warning there.
            let mut cmd = Command::new(bin("pool-guard"));
            cmd.args(agent_args)
                .current_dir(w.p("proj"))
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", w.p("home"))
                .env("POOL_DIR", w.p("pool"))
                .env("CLAUDE_INSTANCE", "C")
                .env("POOL_CLAIMS", if env_ask { "ask" } else { "warn" })
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        };
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let hso = &v["hookSpecificOutput"];
        assert_eq!(hso["hookEventName"], "PreToolUse");
        assert!(hso.get("permissionDecision").is_none(), "{v}");
        let ctx = hso["additionalContext"].as_str().unwrap();
        assert!(
            ctx.contains("A claimed") && ctx.contains("Docs rewrite"),
            "{ctx}"
        );
    }
    let edits = std::fs::read_to_string(w.p("pool/edits.log")).unwrap();
    for f in ["notes.txt", "README.md"] {
        let path = w.p("proj").join(f);
        assert!(
            edits.contains(&format!(
                "\tC\t01a22b07-3c13-7853-b3f0-7ccec35ff23f\t{}\t",
                path.display()
            )),
            "{edits}"
        );
    }
    // The shell tool edits nothing the guard can name: no output, no record.
    let out = w.run(
        "pool-guard",
        &["--agent", "codex"],
        "C",
        &w.input("hook-PreToolUse-2.json"),
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn presence_records_the_agent() {
    let w = World::new();
    w.run(
        "pool-session-start",
        &["--agent", "codex"],
        "C",
        &w.input("hook-SessionStart.json"),
    );
    let status = w.run("pool", &["status", "--json"], "", "");
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["instances"][0]["sessions"][0]["agent"], "codex", "{v}");
    let text = String::from_utf8(w.run("pool", &["status"], "", "").stdout).unwrap();
    assert!(text.contains("(Codex)"), "{text}");
}

const USER_CONFIG: &str = "# mine\nmodel = \"o3\"\n\n[features]\nhooks = true\n";

#[test]
fn install_codex_is_idempotent_order_preserving_backed_up_and_undone() {
    let w = World::new();
    let hooks = w.p("codex/hooks.json");
    let config = w.p("codex/config.toml");
    let user_hooks = json!({"description": "mine", "hooks": {"Stop": [
        {"hooks": [{"type": "command", "command": "/usr/bin/true mine"}]}]}});
    std::fs::write(&hooks, serde_json::to_string_pretty(&user_hooks).unwrap()).unwrap();
    std::fs::write(&config, USER_CONFIG).unwrap();

    let out = w.run("pool", &["install", "--codex", "--dry-run"], "", "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("+[hooks.state."));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), USER_CONFIG);

    let out = w.run("pool", &["install", "--codex"], "", "");
    assert!(out.status.success(), "{out:?}");
    let first = (
        std::fs::read(&hooks).unwrap(),
        std::fs::read(&config).unwrap(),
    );
    let v: Value = serde_json::from_slice(&first.0).unwrap();
    // The user's key and hook stay first; ours come after, with --agent codex.
    assert_eq!(v.as_object().unwrap().keys().next().unwrap(), "description");
    assert_eq!(
        v["hooks"]["Stop"][0]["hooks"][0]["command"],
        "/usr/bin/true mine"
    );
    for spec in CODEX_HOOKS {
        let groups = v["hooks"][spec.event].as_array().unwrap();
        let (gi, g) = groups
            .iter()
            .enumerate()
            .find(|(_, g)| g.to_string().contains(spec.binary))
            .unwrap();
        let h = &g["hooks"][0];
        assert!(h["command"].as_str().unwrap().ends_with(" --agent codex"));
        // config.toml trusts exactly this handler at this position.
        let key = format!(
            "[hooks.state.\"{}:{}:{gi}:0\"]\ntrusted_hash = \"{}\"",
            hooks.display(),
            claude_pool::agent::codex_settings::event_label(spec.event).unwrap(),
            trust_hash(spec.event, spec.matcher, h).unwrap()
        );
        assert!(
            String::from_utf8_lossy(&first.1).contains(&key),
            "{key}\n{}",
            String::from_utf8_lossy(&first.1)
        );
    }
    assert!(String::from_utf8_lossy(&first.1).starts_with(USER_CONFIG));
    assert_eq!(
        std::fs::read_to_string(w.p("codex/config.toml.pool-backup")).unwrap(),
        USER_CONFIG
    );
    assert!(w.p("codex/hooks.json.pool-backup").exists());

    let out = w.run("pool", &["install", "--codex"], "", "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("already registered"));
    assert_eq!(std::fs::read(&hooks).unwrap(), first.0);
    assert_eq!(std::fs::read(&config).unwrap(), first.1);

    let out = w.run("pool", &["uninstall", "--codex"], "", "");
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), USER_CONFIG);
    let v: Value = serde_json::from_slice(&std::fs::read(&hooks).unwrap()).unwrap();
    assert_eq!(v, user_hooks);
}

#[test]
fn doctor_checks_the_codex_hooks_and_their_trust() {
    let w = World::new();
    let doctor = |w: &World| -> Option<Value> {
        let out = w.run("pool", &["doctor", "--json"], "", "");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "codex")
            .cloned()
    };
    assert!(doctor(&w).is_none(), "no Codex hooks, no Codex check");
    w.run("pool", &["install", "--codex"], "", "");
    assert_eq!(doctor(&w).unwrap()["status"], "ok");
    let config = w.p("codex/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let tampered = text.replacen("trusted_hash = \"sha256:", "trusted_hash = \"sha256:0", 1);
    std::fs::write(&config, tampered).unwrap();
    let c = doctor(&w).unwrap();
    assert_eq!(c["status"], "warn", "{c}");
    assert_eq!(c["details"].as_array().unwrap().len(), 1);
}

#[test]
fn install_codex_refuses_a_config_toml_it_cannot_parse() {
    let w = World::new();
    std::fs::write(w.p("codex/config.toml"), "model = = \"x\"\n").unwrap();
    let out = w.run("pool", &["install", "--codex"], "", "");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml") && err.contains("not valid TOML"),
        "{err}"
    );
    assert!(!w.p("codex/hooks.json").exists(), "nothing written");
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `.codex-plugin/plugin.json` names `hooks/codex.json` explicitly: without
/// a `hooks` key Codex loads `hooks/hooks.json` (Claude Code's, without
/// `--agent codex`), and with both the hooks would run twice. Checked on the
/// real Codex by tests/e2e/codex.sh (plugin installed from a local marketplace).
#[test]
fn the_codex_plugin_names_its_own_hooks_file_which_matches_the_table() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("plugin/.codex-plugin/plugin.json")).unwrap(),
    )
    .unwrap();
    let claude: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("plugin/.claude-plugin/plugin.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["name"], claude["name"]);
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        manifest["hooks"],
        format!("./{}", codex_settings::PLUGIN_HOOKS_FILE)
    );
    let path = repo()
        .join("plugin")
        .join(codex_settings::PLUGIN_HOOKS_FILE);
    let want = codex_settings::plugin_hooks();
    if std::env::var_os("UPDATE_PLUGIN_HOOKS").is_some() {
        std::fs::write(&path, settings_file::render(&want, b"  ")).unwrap();
    }
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        got, want,
        "hooks/codex.json is out of date; rerun with UPDATE_PLUGIN_HOOKS=1"
    );
    let root = repo().join("plugin").to_string_lossy().into_owned();
    for (event, groups) in got["hooks"].as_object().unwrap() {
        for g in groups.as_array().unwrap() {
            for h in g["hooks"].as_array().unwrap() {
                let cmd = h["command"]
                    .as_str()
                    .unwrap()
                    .replace("${PLUGIN_ROOT}", &root);
                let words = settings_file::command_words(&cmd, 4);
                assert_eq!(
                    Path::new(&words[0]),
                    repo().join("plugin").join(settings_file::LAUNCHER)
                );
                assert!(bin(&words[1]).exists(), "{event}: {}", words[1]);
                assert_eq!(words[2..], ["--agent", "codex"], "{event}");
            }
        }
    }
}
