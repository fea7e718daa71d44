//! `pool install`, `pool uninstall`, `pool doctor`, the plugin files and the
//! install script, run for real: the built binaries against settings files in
//! a temp folder that stands in for HOME and CLAUDE_CONFIG_DIR.

// Unix only: checks mode bits, symlinks and the sh install script.
#![cfg(unix)]

mod common;
use common::make_pool;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use claude_pool::agent::settings_file::{self, BINARIES, HOOKS, LAUNCHER, PLUGIN_NAME};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The plugin's own folder, which the marketplace at the repository root
/// points to and Claude Code copies into its plugin cache.
fn plugin_root() -> PathBuf {
    repo().join("plugin")
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pool"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Writes an executable shell script.
fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// This machine's npm platform package folder under a plugin, as the
/// launcher looks for it: `node_modules/@claude-pool/cli-<os>-<cpu>/bin`.
fn npm_bin_of(plugin: &Path) -> PathBuf {
    let (os, cpu) = match (std::env::consts::OS, std::env::consts::ARCH) {
        (os, "x86_64") => (os, "x64"),
        (os, "aarch64") => (os, "arm64"),
        (os, cpu) => (os, cpu),
    };
    plugin.join(format!("node_modules/@claude-pool/cli-{os}-{cpu}/bin"))
}

/// A temp HOME, CLAUDE_CONFIG_DIR, pool folder and project folder.
struct World {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    config: PathBuf,
    project: PathBuf,
    pool: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let w = World {
            home: root.join("home"),
            config: root.join("config"),
            project: root.join("proj"),
            pool: root.join("pool"),
            _tmp: tmp,
        };
        for d in [&w.home, &w.config, &w.project] {
            std::fs::create_dir_all(d).unwrap();
        }
        w
    }

    fn settings(&self) -> PathBuf {
        self.config.join("settings.json")
    }

    fn cmd(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", &self.config)
            .env("POOL_DIR", &self.pool)
            .env_remove("CLAUDE_INSTANCE")
            .env_remove("CLAUDE_PROJECT_DIR")
            .env_remove("CARGO_HOME")
            .stdin(Stdio::null());
        c
    }

    fn pool(&self, args: &[&str]) -> Output {
        self.cmd(Path::new(env!("CARGO_BIN_EXE_pool")), args)
            .output()
            .unwrap()
    }

    fn pool_ok(&self, args: &[&str]) -> String {
        let out = self.pool(args);
        assert!(
            out.status.success(),
            "pool {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A settings file as Claude Code writes it, with keys and hooks of its own.
const USER_SETTINGS: &str = r#"{
  "theme": "dark",
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/local/bin/guard-bash"
          }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "notify-send 'Claude is done'"
          }
        ]
      }
    ]
  },
  "permissions": {
    "allow": [
      "Bash(cargo test:*)"
    ],
    "deny": []
  },
  "env": {
    "ZED": "1",
    "ALPHA": "2"
  },
  "model": "opus"
}
"#;

fn commands(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (event, groups) in v["hooks"].as_object().unwrap() {
        for g in groups.as_array().unwrap() {
            for h in g["hooks"].as_array().unwrap() {
                out.push((event.clone(), h["command"].as_str().unwrap().to_string()));
            }
        }
    }
    out
}

// ----------------------------------------------------------------------------
// The plugin files.

#[test]
fn plugin_manifests_parse_and_agree() {
    let plugin = read_json(&plugin_root().join(".claude-plugin/plugin.json"));
    assert_eq!(plugin["name"], PLUGIN_NAME);
    assert_eq!(plugin["version"], env!("CARGO_PKG_VERSION"));
    // hooks/hooks.json is loaded by convention; naming it again in the
    // manifest makes Claude Code report a duplicate hooks file.
    assert!(plugin.get("hooks").is_none());
    let market = read_json(&repo().join(".claude-plugin/marketplace.json"));
    assert!(market["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(market["owner"]["name"].as_str().is_some());
    let entries = market["plugins"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["name"], PLUGIN_NAME);
    assert_eq!(entries[0]["source"], "./plugin");
}

/// `hooks/hooks.json` is [`settings_file::plugin_hooks`] rendered; set
/// `UPDATE_PLUGIN_HOOKS=1` to rewrite it after changing the table.
#[test]
fn plugin_hooks_json_matches_the_hook_table() {
    let path = plugin_root().join("hooks/hooks.json");
    let want = settings_file::plugin_hooks();
    if std::env::var_os("UPDATE_PLUGIN_HOOKS").is_some() {
        std::fs::write(&path, settings_file::render(&want, b"  ")).unwrap();
    }
    let got = read_json(&path);
    assert_eq!(
        got, want,
        "hooks/hooks.json is out of date with settings_file::HOOKS; rerun with UPDATE_PLUGIN_HOOKS=1"
    );
    for spec in HOOKS {
        assert!(
            commands(&got)
                .iter()
                .any(|(e, c)| e == spec.event && c.ends_with(spec.binary)),
            "{} missing",
            spec.event
        );
    }
}

#[test]
fn every_command_in_hooks_json_exists() {
    let v = read_json(&plugin_root().join("hooks/hooks.json"));
    let root = plugin_root().to_string_lossy().into_owned();
    let cmds = commands(&v);
    assert!(!cmds.is_empty());
    for (event, cmd) in cmds {
        let resolved = cmd.replace("${CLAUDE_PLUGIN_ROOT}", &root);
        let words = settings_file::command_words(&resolved, 2);
        let program = Path::new(&words[0]);
        assert!(
            program.starts_with(plugin_root()) && is_executable(program),
            "{event}: {} is not an executable in the plugin",
            program.display()
        );
        assert_eq!(program, plugin_root().join(LAUNCHER));
        let binary = &words[1];
        assert!(BINARIES.contains(&binary.as_str()), "{event}: {binary}");
        assert!(
            is_executable(&bin_dir().join(binary)),
            "{event}: {binary} is not a binary this crate builds"
        );
    }
}

#[test]
fn launcher_runs_the_binary_it_finds_on_path() {
    let w = World::new();
    let path_dir = w.home.join("bin");
    std::fs::create_dir_all(&path_dir).unwrap();
    std::os::unix::fs::symlink(bin_dir().join("pool-stop"), path_dir.join("pool-stop")).unwrap();
    let mut c = w.cmd(&plugin_root().join(LAUNCHER), &["pool-stop"]);
    c.env("PATH", format!("{}:/usr/bin:/bin", path_dir.display()))
        // A member session (else the hook exits at once, logging nothing).
        .env("CLAUDE_INSTANCE", "A")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // Not JSON: pool-stop logs it, which proves the launcher ran it.
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"not json").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let log = std::fs::read_to_string(w.pool.join("errors.log")).unwrap();
    assert!(log.contains("pool-stop: hook input is not"), "{log}");
}

#[test]
fn launcher_finds_cargo_bin_and_explains_a_missing_binary_in_one_line() {
    let w = World::new();
    // Missing everywhere: one line on stderr, nothing on stdout, exit 0.
    let out = w
        .cmd(&plugin_root().join(LAUNCHER), &["pool-session-start"])
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("pool-session-start is not installed") && err.contains("cargo install"));
    // In ~/.cargo/bin: found even though PATH lacks it.
    let cargo_bin = w.home.join(".cargo/bin");
    std::fs::create_dir_all(&cargo_bin).unwrap();
    std::os::unix::fs::symlink(
        bin_dir().join("pool-session-start"),
        cargo_bin.join("pool-session-start"),
    )
    .unwrap();
    let out = w
        .cmd(&plugin_root().join(LAUNCHER), &["pool-session-start"])
        .env("PATH", "/usr/bin:/bin")
        .env("CLAUDE_INSTANCE", "A")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // pool-session-start ran: it always prints something for the model.
    assert!(!out.stdout.is_empty());
    // Not one of ours: refused, still exit 0.
    let out = w
        .cmd(&plugin_root().join(LAUNCHER), &["../../bin/sh"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty());
}

#[test]
fn launcher_looks_in_the_documented_order() {
    // A copy of the plugin, so a node_modules folder can be put in it.
    let w = World::new();
    let plugin = w.home.join("plugin");
    copy_dir(&plugin_root(), &plugin);
    let channels = [
        ("explicit", w.home.join("explicit")),
        ("npm", npm_bin_of(&plugin)),
        ("path", w.home.join("on-path")),
        ("archive", w.home.join(".local/bin")),
        ("cargo-home", w.home.join("cargo-home/bin")),
        ("cargo", w.home.join(".cargo/bin")),
    ];
    for (label, dir) in &channels {
        std::fs::create_dir_all(dir).unwrap();
        write_script(&dir.join("pool-stop"), &format!("echo {label} \"$@\""));
    }
    for (i, (label, dir)) in channels.iter().enumerate() {
        let out = w
            .cmd(&plugin.join(LAUNCHER), &["pool-stop", "--x"])
            .env("POOL_BIN_DIR", w.home.join("explicit"))
            .env("CLAUDE_PLUGIN_ROOT", &plugin)
            .env("CARGO_HOME", w.home.join("cargo-home"))
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", w.home.join("on-path").display()),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{label} --x\n"),
            "channel {i} ({label}) should win once the ones before it are gone"
        );
        std::fs::remove_file(dir.join("pool-stop")).unwrap();
    }
}

/// The npm package holds one binary, `pool`: the launcher runs every hook the
/// plugin registers (Claude Code's and Codex's) as `pool hook <name>`, with
/// the hook's own arguments, and a hook binary of the same name still wins.
#[test]
fn launcher_runs_every_registered_hook_through_the_npm_packages_one_binary() {
    let w = World::new();
    let plugin = w.home.join("plugin");
    copy_dir(&plugin_root(), &plugin);
    let npm = npm_bin_of(&plugin);
    std::fs::create_dir_all(&npm).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_pool"), npm.join("pool")).unwrap();
    let mut names = Vec::new();
    for file in ["hooks/hooks.json", "hooks/codex.json"] {
        let text = std::fs::read_to_string(plugin.join(file)).unwrap();
        for cmd in text.split("hooks/launch\\\" ").skip(1) {
            let name: String = cmd
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    assert!(names.len() >= 5, "{names:?}");
    let run = |name: &str, arg: &str| {
        w.cmd(&plugin.join(LAUNCHER), &[name, arg])
            .env_remove("POOL_BIN_DIR")
            .env("CLAUDE_PLUGIN_ROOT", &plugin)
            .env("CARGO_HOME", w.home.join("no-cargo"))
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for name in &names {
        let out = run(name, "--version");
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{name} {}\n", env!("CARGO_PKG_VERSION")),
            "{name} through `pool hook`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A hook binary beside it is used as it is.
    write_script(&npm.join("pool-stop"), "echo own \"$@\"");
    assert_eq!(
        String::from_utf8_lossy(&run("pool-stop", "--x").stdout),
        "own --x\n"
    );
    // Another platform's package beside it (npm installs one; a copy by hand
    // may hold more): this machine's is still the one run.
    let other = plugin.join("node_modules/@claude-pool/cli-aix-ppc64/bin");
    std::fs::create_dir_all(&other).unwrap();
    write_script(&other.join("pool-stop"), "echo other");
    assert_eq!(
        String::from_utf8_lossy(&run("pool-stop", "--x").stdout),
        "own --x\n"
    );
}

/// On Windows (Git Bash, MSYS, Cygwin: `OS=Windows_NT`, set by Windows
/// itself) the launcher runs `<name>.exe`; elsewhere `<name>`.
#[test]
fn launcher_runs_the_exe_where_windows_says_so() {
    let w = World::new();
    let dir = w.home.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    for (file, label) in [("pool-stop", "plain"), ("pool-stop.exe", "exe")] {
        write_script(&dir.join(file), &format!("echo {label} \"$@\""));
    }
    for (os, want) in [(Some("Windows_NT"), "exe --x\n"), (None, "plain --x\n")] {
        let mut c = w.cmd(&plugin_root().join(LAUNCHER), &["pool-stop", "--x"]);
        c.env("POOL_BIN_DIR", &dir).env_remove("OS");
        if let Some(os) = os {
            c.env("OS", os);
        }
        let out = c.output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "OS={os:?}");
    }
}

/// The plugin folder is what Claude Code copies into its cache: the hooks,
/// the manifest and the launcher, never the sources or a build.
#[test]
fn plugin_folder_holds_only_the_plugin() {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                walk(&e.path(), out);
            } else {
                out.push((e.path(), m.len()));
            }
        }
    }
    let mut files = Vec::new();
    walk(&plugin_root(), &mut files);
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| {
            p.strip_prefix(plugin_root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ".claude-plugin/plugin.json",
            ".codex-plugin/plugin.json",
            "hooks/codex.json",
            "hooks/hooks.json",
            "hooks/launch"
        ],
        "only the plugin's own files"
    );
    let total: u64 = files.iter().map(|(_, n)| n).sum();
    assert!(total < 64 * 1024, "{total} bytes");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

// ----------------------------------------------------------------------------
// pool install / uninstall.

#[test]
fn install_writes_commands_that_exist_by_absolute_path() {
    let w = World::new();
    let out = w.pool_ok(&["install"]);
    assert!(out.contains("added"), "{out}");
    assert!(
        !w.home.join(".claude").exists(),
        "CLAUDE_CONFIG_DIR ignored"
    );
    let v = read_json(&w.settings());
    let regs = settings_file::registrations(&v);
    assert_eq!(regs.len(), HOOKS.len());
    for spec in HOOKS {
        let r: Vec<_> = regs.iter().filter(|r| r.event == spec.event).collect();
        assert_eq!(r.len(), 1, "{}", spec.event);
        let words = settings_file::command_words(&r[0].command, 1);
        let program = Path::new(&words[0]);
        assert!(program.is_absolute(), "{}", r[0].command);
        assert!(is_executable(program), "{}", r[0].command);
        assert_eq!(program, bin_dir().join(spec.binary));
    }
    let bytes = std::fs::read(w.settings()).unwrap();
    assert!(bytes.ends_with(b"}\n"));
    assert!(bytes.starts_with(b"{\n  \"hooks\": {\n    \"SessionStart\""));
}

#[test]
fn install_keeps_keys_order_and_other_hooks_and_is_idempotent() {
    let w = World::new();
    std::fs::write(w.settings(), USER_SETTINGS).unwrap();
    let out = w.pool_ok(&["install"]);
    let backup = w.config.join("settings.json.pool-backup");
    assert!(out.contains(&backup.display().to_string()), "{out}");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), USER_SETTINGS);

    let v = read_json(&w.settings());
    let keys: Vec<_> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["theme", "hooks", "permissions", "env", "model"]);
    let env_keys: Vec<_> = v["env"].as_object().unwrap().keys().collect();
    assert_eq!(env_keys, ["ZED", "ALPHA"]);
    let events: Vec<_> = v["hooks"].as_object().unwrap().keys().collect();
    assert_eq!(
        events,
        [
            "PreToolUse",
            "Stop",
            "SessionStart",
            "UserPromptSubmit",
            "PostToolUse",
            "SessionEnd"
        ]
    );
    // The user's own hooks stay first, in their order; ours follow.
    let bins = bin_dir();
    let theirs: Vec<_> = commands(&v)
        .into_iter()
        .filter(|(_, c)| !c.contains(bins.to_str().unwrap()))
        .collect();
    assert_eq!(
        theirs[0],
        ("PreToolUse".into(), "/usr/local/bin/guard-bash".into())
    );
    assert_eq!(
        theirs[1],
        ("Stop".into(), "notify-send 'Claude is done'".into())
    );
    let pre = v["hooks"]["PreToolUse"].as_array().unwrap();
    assert_eq!(pre[0]["hooks"][0]["command"], "/usr/local/bin/guard-bash");
    assert_eq!(
        pre.last().unwrap()["matcher"],
        "Edit|Write|MultiEdit|NotebookEdit|Bash"
    );
    assert_eq!(
        v["permissions"],
        json!({"allow": ["Bash(cargo test:*)"], "deny": []})
    );

    let first = std::fs::read(w.settings()).unwrap();
    let out = w.pool_ok(&["install"]);
    assert!(out.contains("already registered"), "{out}");
    assert_eq!(
        std::fs::read(w.settings()).unwrap(),
        first,
        "second install changed the file"
    );
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        USER_SETTINGS,
        "backup rewritten"
    );

    // Uninstall gives back exactly the original, and keeps the backup.
    let out = w.pool_ok(&["uninstall"]);
    assert!(
        out.contains(&format!("removed {} pool hook entries", HOOKS.len())),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(w.settings()).unwrap(),
        USER_SETTINGS
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), USER_SETTINGS);
    let out = w.pool_ok(&["uninstall"]);
    assert!(out.contains("no pool hooks"), "{out}");
}

#[test]
fn install_keeps_four_space_indentation() {
    let w = World::new();
    std::fs::write(w.settings(), "{\n    \"theme\": \"light\"\n}\n").unwrap();
    w.pool_ok(&["install"]);
    let s = std::fs::read_to_string(w.settings()).unwrap();
    assert!(
        s.starts_with("{\n    \"theme\": \"light\",\n    \"hooks\": {\n        \"SessionStart\""),
        "{s}"
    );
}

/// `npm install -g claude-pool` puts one binary, `pool`, in npm's folder:
/// `pool install` (and `--codex`) registers `pool hook <name>` for every
/// hook, the commands run, a second install changes nothing, doctor is green,
/// and uninstall removes them.
#[test]
fn install_from_the_npm_packages_one_binary_registers_pool_hook() {
    let w = World::new();
    let npm = w
        .home
        .join("npm-global/lib/node_modules/@claude-pool/cli-linux-x64/bin");
    std::fs::create_dir_all(&npm).unwrap();
    let pool = npm.join("pool");
    std::fs::copy(env!("CARGO_BIN_EXE_pool"), &pool).unwrap();
    let run = |args: &[&str]| {
        // A freshly copied executable is "busy" (ETXTBSY, 26) for a moment
        // when another test thread forked while its write descriptor was
        // open; that is the test harness, not the pool: try again.
        let mut tries = 0;
        let out = loop {
            match w
                .cmd(&pool, args)
                .env("CODEX_HOME", w.home.join(".codex"))
                .output()
            {
                Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.unwrap(),
            }
        };
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = run(&["install"]);
    assert!(out.contains("added"), "{out}");
    let quoted = pool.display().to_string();
    let v = read_json(&w.settings());
    let regs = settings_file::registrations(&v);
    assert_eq!(regs.len(), HOOKS.len(), "{regs:#?}");
    for spec in HOOKS {
        let r: Vec<_> = regs.iter().filter(|r| r.event == spec.event).collect();
        assert_eq!(r.len(), 1, "{}", spec.event);
        assert_eq!(r[0].command, format!("{quoted} hook {}", spec.binary));
        assert_eq!(r[0].ours.binary, spec.binary);
    }
    assert!(run(&["install"]).contains("already registered"));
    // The registered command runs the hook (here: SessionStart, not a member: silent).
    let ss = regs.iter().find(|r| r.event == "SessionStart").unwrap();
    let out = Command::new("sh")
        .args(["-c", &format!("{} --version", ss.command)])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("pool-session-start {}\n", env!("CARGO_PKG_VERSION"))
    );
    let (code, v, human) = {
        let mut c = w.cmd(&pool, &["doctor", "--json"]);
        let out = c.output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            out.status.code().unwrap(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, 0, "{v:#} {human}");
    assert_eq!(status(&v, "binaries"), "ok");
    assert_eq!(status(&v, "hooks"), "ok");
    // Codex's hooks the same way, with the agent named.
    let out = run(&["install", "--codex"]);
    assert!(out.contains("added"), "{out}");
    let codex = std::fs::read_to_string(w.home.join(".codex/hooks.json")).unwrap();
    assert!(
        codex.contains(&format!("{quoted} hook pool-stop --agent codex")),
        "{codex}"
    );
    let out = run(&["uninstall"]);
    assert!(out.contains("removed"), "{out}");
    assert!(settings_file::registrations(&read_json(&w.settings())).is_empty());
}

#[test]
fn reinstall_after_the_binaries_moved_replaces_instead_of_duplicating() {
    let w = World::new();
    std::fs::write(
        w.settings(),
        r#"{"hooks": {"Stop": [{"hooks": [
            {"type": "command", "command": "/old/place/pool-stop", "timeout": 10},
            {"type": "command", "command": "mine"}
        ]}], "SessionStart": [{"hooks": [{"type": "command", "command": "'/old place/pool-session-start'"}]}]}}"#,
    )
    .unwrap();
    let out = w.pool_ok(&["install"]);
    assert!(out.contains("updated Stop"), "{out}");
    let v = read_json(&w.settings());
    let regs = settings_file::registrations(&v);
    assert_eq!(regs.len(), HOOKS.len(), "{regs:#?}");
    assert!(
        regs.iter()
            .all(|r| r.ours.program.starts_with(bin_dir().to_str().unwrap()))
    );
    assert_eq!(v["hooks"]["Stop"][0]["hooks"][1]["command"], "mine");
}

#[test]
fn invalid_json_is_left_untouched_with_an_error_naming_file_and_line() {
    let w = World::new();
    let bad = "{\n  \"theme\": \"dark\",\n  \"hooks\": {\n    \"Stop\": [\n  }\n}\n";
    std::fs::write(w.settings(), bad).unwrap();
    for args in [&["install"][..], &["uninstall"], &["install", "--dry-run"]] {
        let out = w.pool(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        let file_line = format!("{}:5:", w.settings().display());
        assert!(err.contains(&file_line), "{args:?}: {err}");
        assert!(err.starts_with(&format!("pool {}: ", args[0])), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(std::fs::read_to_string(w.settings()).unwrap(), bad);
        assert!(!w.config.join("settings.json.pool-backup").exists());
    }
    // A "hooks" that is not an object is refused too.
    std::fs::write(w.settings(), "{\"hooks\": []}").unwrap();
    let out = w.pool(&["install"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"hooks\" is not an object"));
    assert_eq!(
        std::fs::read_to_string(w.settings()).unwrap(),
        "{\"hooks\": []}"
    );
}

#[test]
fn project_scope_writes_the_projects_settings_only() {
    let w = World::new();
    w.pool_ok(&["install", "--project"]);
    let p = w.project.join(".claude/settings.json");
    assert_eq!(
        settings_file::registrations(&read_json(&p)).len(),
        HOOKS.len()
    );
    assert!(!w.settings().exists());
    w.pool_ok(&["uninstall", "--project"]);
    assert_eq!(read_json(&p), json!({}));
}

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let w = World::new();
    std::fs::write(w.settings(), USER_SETTINGS).unwrap();
    let out = w.pool_ok(&["install", "--dry-run"]);
    let shown = w.settings().display().to_string();
    assert!(
        out.starts_with(&format!("--- {shown}\n+++ {shown} (after)\n@@ ")),
        "{out}"
    );
    let cmd = format!(
        "\"command\": \"{}\",",
        bin_dir().join("pool-stop").display()
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with('+') && l.trim_start_matches(['+', ' ']) == cmd),
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with('-') && !l.starts_with("---")),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(w.settings()).unwrap(),
        USER_SETTINGS
    );
    assert!(!w.config.join("settings.json.pool-backup").exists());

    let fresh = World::new();
    let out = fresh.pool_ok(&["install", "--dry-run"]);
    assert!(out.starts_with("--- /dev/null\n"), "{out}");
    assert!(!fresh.settings().exists());
    let out = fresh.pool_ok(&["uninstall", "--dry-run"]);
    assert!(out.contains("no pool hooks"), "{out}");
}

#[test]
fn a_symlinked_settings_file_is_written_through() {
    let w = World::new();
    let real = w.home.join("dotfiles-settings.json");
    std::fs::write(&real, "{}\n").unwrap();
    std::os::unix::fs::symlink(&real, w.settings()).unwrap();
    w.pool_ok(&["install"]);
    assert!(
        std::fs::symlink_metadata(w.settings())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        settings_file::registrations(&read_json(&real)).len(),
        HOOKS.len()
    );
}

// ----------------------------------------------------------------------------
// pool doctor.

fn doctor(w: &World, extra_env: &[(&str, &str)]) -> (i32, Value, String) {
    let mut c = w.cmd(Path::new(env!("CARGO_BIN_EXE_pool")), &["doctor", "--json"]);
    c.envs(extra_env.iter().copied());
    let out = c.output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut c = w.cmd(Path::new(env!("CARGO_BIN_EXE_pool")), &["doctor"]);
    c.envs(extra_env.iter().copied());
    let human = String::from_utf8(c.output().unwrap().stdout).unwrap();
    (out.status.code().unwrap(), v, human)
}

fn status<'a>(v: &'a Value, name: &str) -> &'a str {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {v:#}"))["status"]
        .as_str()
        .unwrap()
}

#[test]
fn doctor_is_green_right_after_install_and_red_without_hooks() {
    let w = World::new();
    let (code, v, human) = doctor(&w, &[]);
    assert_eq!(code, 1, "{human}");
    assert_eq!(status(&v, "hooks"), "fail");
    assert!(human.contains("fix: run pool install"), "{human}");

    w.pool_ok(&["install"]);
    let (code, v, human) = doctor(&w, &[]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(v["ok"], true);
    assert_eq!(status(&v, "binaries"), "ok");
    assert_eq!(status(&v, "hooks"), "ok");
    // No pool folder yet where POOL_DIR points (a warning: maybe a typo),
    // and no CLAUDE_INSTANCE nor `pool init` (not a member here: the normal
    // state, an ok line with a hint).
    assert_eq!(status(&v, "pool"), "warn");
    assert_eq!(status(&v, "membership"), "ok");
    assert!(human.contains("not a pool member here"), "{human}");
    assert!(human.contains("pool doctor: no failures"), "{human}");
}

#[test]
fn doctor_reports_pool_state() {
    let w = World::new();
    w.pool_ok(&["install"]);
    make_pool(&w.pool);
    let post = w
        .cmd(
            Path::new(env!("CARGO_BIN_EXE_pool")),
            &["post", "--topic", "t"],
        )
        .env("CLAUDE_INSTANCE", "A")
        .output()
        .unwrap();
    assert!(
        post.status.success(),
        "{}",
        String::from_utf8_lossy(&post.stderr)
    );
    let log = w.pool.join("instance_state.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, b"{broken\n").unwrap();
    let (code, v, human) = doctor(&w, &[("CLAUDE_INSTANCE", "A")]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(status(&v, "pool"), "ok", "{human}");
    assert_eq!(status(&v, "instance"), "ok");
    assert_eq!(status(&v, "entries"), "warn", "{human}");
    assert!(human.contains("1 entries, 1 line that fail"), "{human}");

    std::fs::write(w.pool.join("config.json"), "{not json").unwrap();
    std::fs::set_permissions(&w.pool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, v, human) = doctor(&w, &[("CLAUDE_INSTANCE", "../x")]);
    assert_eq!(code, 1, "{human}");
    assert_eq!(status(&v, "config"), "fail");
    assert_eq!(status(&v, "instance"), "fail");
    assert_eq!(status(&v, "pool"), "warn", "{human}");
}

#[test]
fn doctor_flags_hooks_that_point_at_missing_binaries_and_invalid_settings() {
    let w = World::new();
    w.pool_ok(&["install"]);
    let s = std::fs::read_to_string(w.settings())
        .unwrap()
        .replace(bin_dir().to_str().unwrap(), "/nowhere");
    std::fs::write(w.settings(), s).unwrap();
    let (code, v, human) = doctor(&w, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&v, "hooks"), "fail");
    assert!(
        human.contains("/nowhere/pool-stop, which is not an executable"),
        "{human}"
    );

    std::fs::write(w.project.join("x"), "").unwrap();
    std::fs::create_dir_all(w.project.join(".claude")).unwrap();
    std::fs::write(w.project.join(".claude/settings.json"), "{\n,\n}").unwrap();
    let (_, v, human) = doctor(&w, &[]);
    assert_eq!(status(&v, "settings"), "fail");
    assert!(human.contains(".claude/settings.json:2:"), "{human}");
}

#[test]
fn doctor_counts_the_plugin_as_registration() {
    let w = World::new();
    std::fs::write(
        w.settings(),
        r#"{"enabledPlugins": {"session-pool@claude-pool": true}}"#,
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", bin_dir().display());
    let (code, v, human) = doctor(&w, &[("PATH", &path)]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(status(&v, "hooks"), "ok");
    // The plugin plus the settings entries: every hook would run twice.
    w.pool_ok(&["install"]);
    let (code, v, human) = doctor(&w, &[("PATH", &path)]);
    assert_eq!(code, 0, "{human}");
    assert_eq!(status(&v, "hooks"), "warn", "{human}");
    // The plugin enabled but no binaries where its launcher looks.
    w.pool_ok(&["uninstall"]);
    let (code, _, human) = doctor(&w, &[("PATH", "/usr/bin:/bin")]);
    assert_eq!(code, 1, "{human}");
    assert!(human.contains("its launcher finds no pool-"), "{human}");
}

// ----------------------------------------------------------------------------
// Completions and the install script.

#[test]
fn completions_for_each_shell() {
    let w = World::new();
    for (shell, marker) in [
        ("bash", "_pool()"),
        ("zsh", "#compdef pool"),
        ("fish", "complete -c pool"),
    ] {
        let out = w.pool_ok(&["completions", shell]);
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(200)]
        );
        assert!(out.contains("doctor"), "{shell}");
    }
    assert_eq!(w.pool(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn install_script_without_cargo_says_so_and_fails() {
    let w = World::new();
    let empty = w.home.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new("/bin/sh")
        .arg(repo().join("install/install.sh"))
        .env_clear()
        .env("PATH", &empty)
        .env("HOME", &w.home)
        .current_dir(&w.project)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("install.sh: cargo not found"), "{err}");
    assert!(err.contains("rustup.rs"), "{err}");
    assert!(is_executable(&repo().join("install/install.sh")));
}

/// Runs install.sh with a fake `cargo` (it records its arguments and
/// installs a `pool` that accepts anything) and a fake `rustup` whose
/// `target list --installed` prints `installed` and whose `target add`
/// exits `add_code`. Returns cargo's recorded argument lines and what it said.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn install_script_with_fakes(
    installed: &str,
    add_code: i32,
    env: &[(&str, &str)],
) -> (String, String) {
    let w = World::new();
    let fake = w.home.join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let root = w.home.join("root");
    let record = w.home.join("cargo-args");
    let write = |name: &str, body: String| {
        let p = fake.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write(
        "cargo",
        format!(
            "#!/bin/sh\necho \"$*\" >>'{}'\nmkdir -p \"$CARGO_INSTALL_ROOT/bin\"\nprintf '#!/bin/sh\\nexit 0\\n' >\"$CARGO_INSTALL_ROOT/bin/pool\"\nchmod +x \"$CARGO_INSTALL_ROOT/bin/pool\"\n",
            record.display()
        ),
    );
    write(
        "rustup",
        format!(
            "#!/bin/sh\ncase \"$2\" in list) printf '%s\\n' '{installed}' ;; add) exit {add_code} ;; esac\n"
        ),
    );
    let mut cmd = Command::new("/bin/sh");
    cmd.arg(repo().join("install/install.sh"))
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", fake.display()))
        .env("HOME", &w.home)
        .env("CARGO_INSTALL_ROOT", &root)
        .current_dir(&w.project)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &err;
    (std::fs::read_to_string(&record).unwrap_or_default(), said)
}

/// Issue 24: on Linux the hooks are built static (musl): they start in
/// about two thirds of the time (docs/benchmarks.md, "Process start").
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn install_script_builds_static_binaries_on_linux_and_falls_back() {
    let musl = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
    // The target is there: cargo builds for it.
    let (args, _) = install_script_with_fakes(&musl, 0, &[]);
    assert!(args.contains(&format!("--target {musl}")), "{args}");
    assert_eq!(args.lines().count(), 1, "{args}");
    // Missing but added by rustup: the same.
    let (args, _) = install_script_with_fakes("wasm32-unknown-unknown", 0, &[]);
    assert!(args.contains(&format!("--target {musl}")), "{args}");
    // Missing and cannot be added (offline): the default target, said once.
    let (args, err) = install_script_with_fakes("wasm32-unknown-unknown", 1, &[]);
    assert!(!args.contains("--target"), "{args}");
    assert!(err.contains("building for the default target"), "{err}");
    // Asked for the host's own target.
    let (args, _) = install_script_with_fakes(&musl, 0, &[("POOL_INSTALL_TARGET", "host")]);
    assert!(!args.contains("--target"), "{args}");
}

/// Runs `pool args` in `w`, killing it after 20 s so a hang fails the test
/// instead of stalling the suite. Returns the exit code (`None`: it hung).
fn pool_bounded(w: &World, args: &[&str], extra_env: &[(&str, &Path)]) -> (Option<i32>, String) {
    let mut c = w.cmd(Path::new(env!("CARGO_BIN_EXE_pool")), args);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (None, String::new());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

/// A settings file that is a FIFO (or any non-regular file) is refused at
/// once with a clear error, for Claude Code's settings and Codex's files;
/// before, `pool install` blocked forever opening it.
#[test]
fn a_settings_file_that_is_not_a_regular_file_is_refused_without_hanging() {
    let w = World::new();
    mkfifo(&w.settings());
    for args in [&["install"][..], &["uninstall"], &["install", "--dry-run"]] {
        let (code, err) = pool_bounded(&w, args, &[]);
        assert_eq!(code, Some(1), "pool {args:?} hung or succeeded: {err}");
        assert!(err.contains("not a regular file (a FIFO)"), "{err}");
        assert!(err.contains(&w.settings().display().to_string()), "{err}");
    }
    let codex = w.home.join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    mkfifo(&codex.join("config.toml"));
    let (code, err) = pool_bounded(&w, &["install", "--codex"], &[("CODEX_HOME", &codex)]);
    assert_eq!(code, Some(1), "hung or succeeded: {err}");
    assert!(err.contains("config.toml: not a regular file"), "{err}");
    assert!(!codex.join("hooks.json").exists());
    std::fs::remove_file(codex.join("config.toml")).unwrap();
    mkfifo(&codex.join("hooks.json"));
    let (code, err) = pool_bounded(&w, &["install", "--codex"], &[("CODEX_HOME", &codex)]);
    assert_eq!(code, Some(1), "hung or succeeded: {err}");
    assert!(err.contains("hooks.json: not a regular file"), "{err}");
    // A settings file far larger than any real one is refused too.
    std::fs::remove_file(w.settings()).unwrap();
    let mut big = b"{\"a\": \"".to_vec();
    big.resize(5 << 20, b'x');
    big.extend_from_slice(b"\"}");
    std::fs::write(w.settings(), &big).unwrap();
    let (code, err) = pool_bounded(&w, &["install"], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("larger than 4 MiB"), "{err}");
}

/// The user's bytes come back unchanged outside our entries: a huge integer
/// (which serde_json read as a float and wrote as `1.2345678901234568e+29`),
/// a precise decimal, escapes, odd spacing and a one-line list; uninstall
/// gives back the original byte for byte.
#[test]
fn install_keeps_the_users_bytes_outside_its_entries() {
    let w = World::new();
    let original = "{\n  \"big\": 123456789012345678901234567890,\n  \"ratio\":   0.10000000000000000001,\n  \"name\": \"caf\\u00e9\",\n  \"list\": [1,2,  3],\n  \"hooks\": {\n    \"Stop\": [ { \"hooks\": [ { \"type\": \"command\", \"command\": \"mine\" } ] } ]\n  }\n}\n";
    std::fs::write(w.settings(), original).unwrap();
    w.pool_ok(&["install"]);
    let after = std::fs::read_to_string(w.settings()).unwrap();
    assert!(
        after.starts_with("{\n  \"big\": 123456789012345678901234567890,\n  \"ratio\":   0.10000000000000000001,\n  \"name\": \"caf\\u00e9\",\n  \"list\": [1,2,  3],\n  \"hooks\": {\n    \"Stop\": [ { \"hooks\": [ { \"type\": \"command\", \"command\": \"mine\" } ] },"),
        "{after}"
    );
    assert_eq!(
        settings_file::registrations(&read_json(&w.settings())).len(),
        HOOKS.len()
    );
    w.pool_ok(&["uninstall"]);
    assert_eq!(std::fs::read_to_string(w.settings()).unwrap(), original);
}

/// A key that appears twice is refused with its line (JSON readers differ on
/// which copy counts, and writing back would drop one); before, the first
/// copy silently vanished.
#[test]
fn a_duplicate_key_is_refused_with_its_line() {
    let w = World::new();
    let dup =
        "{\n  \"env\": {\"A\": \"1\"},\n  \"theme\": \"dark\",\n  \"env\": {\"B\": \"2\"}\n}\n";
    std::fs::write(w.settings(), dup).unwrap();
    for args in [&["install"][..], &["uninstall"]] {
        let out = w.pool(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains(&format!(
                "{}:4: duplicate key \"env\"",
                w.settings().display()
            )),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(w.settings()).unwrap(), dup);
    }
}

/// Codex's `config.toml`: comments and spacing survive an install and
/// uninstall byte for byte; TOML itself forbids a duplicate key and an
/// integer past 64 bits, and such a file is refused, untouched.
#[test]
fn codex_config_keeps_comments_and_refuses_what_toml_forbids() {
    let w = World::new();
    let codex = w.home.join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    let config = codex.join("config.toml");
    let original =
        "# my settings\nmodel   =  \"o3\"   # pinned\n\n[profiles.x]\nbig = 9223372036854775807\n";
    std::fs::write(&config, original).unwrap();
    let env = [("CODEX_HOME", codex.as_path())];
    let (code, err) = pool_bounded(&w, &["install", "--codex"], &env);
    assert_eq!(code, Some(0), "{err}");
    let after = std::fs::read_to_string(&config).unwrap();
    assert!(after.starts_with(original), "{after}");
    let (code, err) = pool_bounded(&w, &["uninstall", "--codex"], &env);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    for bad in ["a = 1\na = 2\n", "big = 123456789012345678901234567890\n"] {
        std::fs::write(&config, bad).unwrap();
        let (code, err) = pool_bounded(&w, &["install", "--codex"], &env);
        assert_eq!(code, Some(1), "{bad}: {err}");
        assert!(err.contains("not valid TOML"), "{err}");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), bad);
    }
}
