//! Editing Claude Code's `settings.json`: which hooks we register (one
//! table, [`HOOKS`]), merging them in without disturbing anything else, and
//! taking exactly them out again.
//!
//! The edit is a pure function over a [`serde_json::Value`] (whose maps keep
//! the file's key order, through serde_json's `preserve_order`); reading,
//! backing up and writing the file happen in [`SettingsFile`].
//!
//! Rules, so that install and uninstall never surprise:
//! - A handler is *ours* when its command runs one of our hook binaries
//!   (by any path), `pool stop` / `pool session-start`, or the plugin's
//!   launcher with one of our binaries as its argument. So re-installing after
//!   the binaries moved updates the entry in place instead of adding a second.
//! - Install keeps an entry of ours that is already in the right event (and
//!   matcher group) where it is, rewriting only its command; any other entry of
//!   ours is removed; missing ones are appended as new matcher groups.
//! - Uninstall removes every entry of ours. A matcher group, an event's list
//!   or the `hooks` object is dropped only when that removal emptied it;
//!   containers the user left empty stay. (So install then uninstall gives
//!   back the original, except that a `"hooks": {}` the user had left empty
//!   before the install is gone too.)
//! - A file that is not valid JSON, or whose `hooks` is not an object, is
//!   never written.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::json_edit;
use crate::error::{Error, Result};
use crate::store::fsio;

/// One hook we register: the Claude Code event, the binary it runs, and the
/// tool matcher (for tool events; `None` matches everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookSpec {
    /// Claude Code hook event (`SessionStart`, `Stop`, …).
    pub event: &'static str,
    /// Name of the binary run, installed next to `pool`.
    pub binary: &'static str,
    /// Matcher of the group the handler goes in; `None` for "all".
    pub matcher: Option<&'static str>,
    /// How long Claude Code lets the hook run, in seconds.
    pub timeout: u64,
}

/// Every hook we register, in the order they are added. A new hook is one
/// line here (and `plugin/hooks/hooks.json`, which a test keeps in step).
pub const HOOKS: &[HookSpec] = &[
    HookSpec {
        event: "SessionStart",
        binary: "pool-session-start",
        matcher: None,
        timeout: 10,
    },
    HookSpec {
        event: "Stop",
        binary: "pool-stop",
        matcher: None,
        timeout: 10,
    },
    HookSpec {
        event: "UserPromptSubmit",
        binary: "pool-prompt",
        matcher: None,
        timeout: 10,
    },
    HookSpec {
        event: "PreToolUse",
        binary: "pool-guard",
        matcher: Some("Edit|Write|MultiEdit|NotebookEdit|Bash"),
        timeout: 10,
    },
    HookSpec {
        event: "PostToolUse",
        binary: "pool-post-tool",
        matcher: Some("Bash"),
        timeout: 10,
    },
    HookSpec {
        event: "SessionEnd",
        binary: "pool-stop",
        matcher: None,
        timeout: 10,
    },
];

/// The binaries `install/install.sh` installs, all in one folder.
pub const BINARIES: &[&str] = &[
    "pool",
    "pool-stop",
    "pool-session-start",
    "pool-prompt",
    "pool-guard",
    "pool-post-tool",
    "pool-query",
];

/// The plugin's name, in `plugin/.claude-plugin/plugin.json` and `enabledPlugins`.
/// Claude Code reserves plugin names starting with `claude-`, so the plugin
/// is `session-pool`; the marketplace keeps the project's name.
pub const PLUGIN_NAME: &str = "session-pool";

/// The plugin's launcher script, relative to the plugin root.
pub const LAUNCHER: &str = "hooks/launch";

/// Suffix of the backup of a settings file, made before its first edit.
pub const BACKUP_SUFFIX: &str = ".pool-backup";

/// `pool` subcommands that run a hook (the umbrella's hidden ones).
const POOL_HOOK_SUBCOMMANDS: &[&str] = &["stop", "session-start"];

/// Which settings file to edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`.
    User,
    /// `.claude/settings.json` under the project folder.
    Project,
}

/// The user's settings file: `$CLAUDE_CONFIG_DIR/settings.json` when that
/// variable is set (made absolute), else `<home>/.claude/settings.json`.
/// Fails when neither can be formed.
pub fn user_settings_path(
    claude_config_dir: Option<&Path>,
    home: Option<&Path>,
) -> Result<PathBuf> {
    if let Some(c) = claude_config_dir.filter(|c| !c.as_os_str().is_empty()) {
        let c = std::path::absolute(c).unwrap_or_else(|_| c.to_path_buf());
        return Ok(c.join("settings.json"));
    }
    home.map(|h| h.join(".claude").join("settings.json"))
        .ok_or(Error::NoHome)
}

/// The project's shared settings file under `project`.
pub fn project_settings_path(project: &Path) -> PathBuf {
    project.join(".claude").join("settings.json")
}

/// The project's personal, uncommitted settings file under `project`.
pub fn project_local_settings_path(project: &Path) -> PathBuf {
    project.join(".claude").join("settings.local.json")
}

/// The settings file of `scope`, from the process environment.
pub fn settings_path_from_env(scope: Scope) -> Result<PathBuf> {
    match scope {
        Scope::User => {
            let cfg = std::env::var_os("CLAUDE_CONFIG_DIR").map(PathBuf::from);
            user_settings_path(cfg.as_deref(), dirs::home_dir().as_deref())
        }
        Scope::Project => {
            let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
            Ok(project_settings_path(&cwd))
        }
    }
}

/// Quotes `s` for a POSIX shell when it needs quoting.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@,%=".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Where the hooks' programs are, and how they are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookBins<'a> {
    /// One binary per hook (`pool-stop`, …) in this folder: a checkout's
    /// build, `cargo install`, a release archive.
    Separate(&'a Path),
    /// Only this `pool`, which runs as any hook (`pool hook pool-stop`):
    /// the npm package.
    OneBinary(&'a Path),
}

impl<'a> HookBins<'a> {
    /// The layout around the running `pool`: [`HookBins::Separate`] when
    /// every hook binary is in its folder (as `is_executable` says), else
    /// [`HookBins::OneBinary`].
    pub fn of(pool: &'a Path, is_executable: impl Fn(&Path) -> bool) -> Self {
        match pool.parent() {
            Some(dir)
                if HOOKS
                    .iter()
                    .all(|s| is_executable(&dir.join(exe_name(s.binary)))) =>
            {
                HookBins::Separate(dir)
            }
            _ => HookBins::OneBinary(pool),
        }
    }
}

/// The file name of the hook binary `binary` on this platform (`.exe` on
/// Windows).
fn exe_name(binary: &str) -> String {
    format!("{binary}{}", std::env::consts::EXE_SUFFIX)
}

/// The command a settings entry runs for the hook binary `binary`.
pub fn hook_command(bins: HookBins, binary: &str) -> String {
    match bins {
        HookBins::Separate(dir) => shell_quote(&dir.join(exe_name(binary)).to_string_lossy()),
        HookBins::OneBinary(pool) => {
            format!("{} hook {binary}", shell_quote(&pool.to_string_lossy()))
        }
    }
}

/// The handler object for `spec` with binaries in `bin_dir`.
pub fn handler(spec: &HookSpec, bin_dir: &Path) -> Value {
    handler_with_command(spec, hook_command(HookBins::Separate(bin_dir), spec.binary))
}

fn handler_with_command(spec: &HookSpec, command: String) -> Value {
    let mut h = Map::new();
    h.insert("type".into(), "command".into());
    h.insert("command".into(), command.into());
    h.insert("timeout".into(), spec.timeout.into());
    Value::Object(h)
}

fn group(spec: &HookSpec, handler: Value) -> Value {
    let mut g = Map::new();
    if let Some(m) = spec.matcher {
        g.insert("matcher".into(), m.into());
    }
    g.insert("hooks".into(), Value::Array(vec![handler]));
    Value::Object(g)
}

/// What `plugin/hooks/hooks.json` must hold: [`HOOKS`] run through the plugin's
/// launcher, under `${CLAUDE_PLUGIN_ROOT}`.
pub fn plugin_hooks() -> Value {
    let mut hooks = Map::new();
    for spec in HOOKS {
        let cmd = format!("\"${{CLAUDE_PLUGIN_ROOT}}/{LAUNCHER}\" {}", spec.binary);
        let g = group(spec, handler_with_command(spec, cmd));
        if let Value::Array(a) = hooks
            .entry(spec.event)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            a.push(g);
        }
    }
    let mut root = Map::new();
    root.insert(
        "description".into(),
        "claude-pool: share what parallel sessions completed, claimed, are blocked on or discovered"
            .into(),
    );
    root.insert("hooks".into(), Value::Object(hooks));
    Value::Object(root)
}

/// Splits the first `n` words off a shell command: quotes and backslashes are
/// honoured, leading `NAME=value` assignments skipped. Enough to recognise
/// which program a hook runs; not a shell parser.
pub fn command_words(cmd: &str, n: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = cmd.chars().peekable();
    while words.len() < n {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none_or(|c| matches!(c, ';' | '&' | '|')) {
            break;
        }
        let mut w = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || matches!(c, ';' | '&' | '|') {
                break;
            }
            chars.next();
            match c {
                '\'' => w.extend(chars.by_ref().take_while(|&c| c != '\'')),
                '"' => {
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' if chars.peek().is_some_and(|n| "\"\\$`".contains(*n)) => {
                                w.extend(chars.next());
                            }
                            _ => w.push(c),
                        }
                    }
                }
                '\\' => w.extend(chars.next()),
                _ => w.push(c),
            }
        }
        let is_assignment = words.is_empty()
            && w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !k.starts_with(|c: char| c.is_ascii_digit())
            });
        if !is_assignment {
            words.push(w);
        }
    }
    words
}

/// A program's file name without its folder (after either separator) or a
/// Windows `.exe`: `C:\bin\pool-stop.exe` and `/bin/pool-stop` are both
/// `pool-stop`.
fn basename(p: &str) -> &str {
    let name = p.rsplit(['/', '\\']).next().unwrap_or(p);
    name.strip_suffix(".exe")
        .or_else(|| name.strip_suffix(".EXE"))
        .unwrap_or(name)
}

fn is_hook_binary(name: &str) -> bool {
    HOOKS.iter().any(|s| s.binary == name)
}

/// How one of our handlers names its program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurCommand {
    /// The hook binary it runs (`pool-stop`, …); `pool stop` counts as `pool-stop`.
    pub binary: String,
    /// The program as written (a path, or the launcher's path).
    pub program: String,
    /// Whether it goes through the plugin's launcher.
    pub via_launcher: bool,
}

/// Recognises a hook command of ours; `None` for anybody else's.
pub fn our_command(cmd: &str) -> Option<OurCommand> {
    let words = command_words(cmd, 3);
    let program = words.first()?;
    let base = basename(program);
    let second = words.get(1).map(String::as_str).unwrap_or("");
    let third = words.get(2).map(String::as_str).unwrap_or("");
    let (binary, via_launcher) = if is_hook_binary(base) {
        (base.to_string(), false)
    } else if base == "pool" && second == "hook" && is_hook_binary(third) {
        (third.to_string(), false)
    } else if base == "pool" && POOL_HOOK_SUBCOMMANDS.contains(&second) {
        (format!("pool-{second}"), false)
    } else if program.ends_with(&format!("/{LAUNCHER}")) && is_hook_binary(basename(second)) {
        (basename(second).to_string(), true)
    } else {
        return None;
    };
    Some(OurCommand {
        binary,
        program: program.clone(),
        via_launcher,
    })
}

/// Recognises a handler object of ours.
pub fn our_handler(h: &Value) -> Option<OurCommand> {
    h.get("command")
        .and_then(Value::as_str)
        .and_then(our_command)
}

fn matcher_of(group: &Value) -> Option<&str> {
    group
        .get("matcher")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty() && *m != "*")
}

/// What a merge or removal changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Events that got a new handler of ours.
    pub added: Vec<&'static str>,
    /// Events whose handler of ours was rewritten (the binaries moved).
    pub updated: Vec<&'static str>,
    /// Handlers of ours removed (stale duplicates on install; all on uninstall).
    pub removed: usize,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.removed == 0
    }
}

/// Merges our handlers (binaries in `bin_dir`) into a parsed settings file.
/// Fails, changing nothing, when the file is not an object or its `hooks`
/// (or one of the events we use) has the wrong type.
pub fn merge(root: &mut Value, bin_dir: &Path) -> Result<Changes> {
    merge_specs(root, HOOKS, HookBins::Separate(bin_dir), "")
}

/// Merges the handlers of `specs` (run from `bins`, each command followed by
/// `args` when not empty) into a parsed hooks file of the same shape as
/// Claude Code's settings (Codex's `hooks.json` is one). Fails, changing
/// nothing, as [`merge`] does.
pub fn merge_specs(
    root: &mut Value,
    specs: &'static [HookSpec],
    bins: HookBins,
    args: &str,
) -> Result<Changes> {
    let want: Vec<(&'static HookSpec, Value)> = specs
        .iter()
        .map(|s| {
            let mut cmd = hook_command(bins, s.binary);
            if !args.is_empty() {
                cmd.push(' ');
                cmd.push_str(args);
            }
            (s, handler_with_command(s, cmd))
        })
        .collect();
    reconcile(root, &want)
}

/// Removes every handler of ours from a parsed settings file.
pub fn remove(root: &mut Value) -> Result<Changes> {
    reconcile(root, &[])
}

fn reconcile(root: &mut Value, want: &[(&'static HookSpec, Value)]) -> Result<Changes> {
    let obj = root
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("the settings are not a JSON object".into()))?;
    if let Some(h) = obj.get("hooks")
        && !h.is_object()
    {
        return Err(Error::Invalid("its \"hooks\" is not an object".into()));
    }
    for (spec, _) in want {
        if let Some(ev) = obj.get("hooks").and_then(|h| h.get(spec.event))
            && !ev.is_array()
        {
            return Err(Error::Invalid(format!(
                "its \"hooks\".\"{}\" is not a list",
                spec.event
            )));
        }
    }
    let mut changes = Changes::default();
    let mut placed = vec![false; want.len()];
    let had_hooks = obj.get("hooks").is_some_and(|h| !is_empty_container(h));
    if let Some(Value::Object(hooks)) = obj.get_mut("hooks") {
        let mut emptied_events = Vec::new();
        for (event, groups) in hooks.iter_mut() {
            let Value::Array(groups) = groups else {
                continue;
            };
            let had_groups = !groups.is_empty();
            let mut emptied_groups = vec![false; groups.len()];
            for (gi, g) in groups.iter_mut().enumerate() {
                let matcher = matcher_of(g).map(str::to_string);
                let Some(Value::Array(handlers)) = g.get_mut("hooks") else {
                    continue;
                };
                let had_handlers = !handlers.is_empty();
                handlers.retain_mut(|h| {
                    let Some(ours) = our_handler(h) else {
                        return true;
                    };
                    let slot = want.iter().enumerate().position(|(i, (s, _))| {
                        !placed[i]
                            && s.event == event
                            && s.binary == ours.binary
                            && s.matcher == matcher.as_deref()
                    });
                    match slot {
                        Some(i) => {
                            placed[i] = true;
                            if *h != want[i].1 {
                                *h = want[i].1.clone();
                                changes.updated.push(want[i].0.event);
                            }
                            true
                        }
                        None => {
                            changes.removed += 1;
                            false
                        }
                    }
                });
                emptied_groups[gi] = had_handlers && handlers.is_empty();
            }
            let mut it = emptied_groups.iter();
            groups.retain(|_| !it.next().copied().unwrap_or(false));
            if had_groups && groups.is_empty() {
                emptied_events.push(event.clone());
            }
        }
        for e in emptied_events {
            hooks.shift_remove(&e);
        }
    }
    for (i, (spec, h)) in want.iter().enumerate() {
        if placed[i] {
            continue;
        }
        let hooks = obj
            .entry("hooks")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(hooks) = hooks
            && let Value::Array(groups) = hooks
                .entry(spec.event)
                .or_insert_with(|| Value::Array(Vec::new()))
        {
            groups.push(group(spec, h.clone()));
            changes.added.push(spec.event);
        }
    }
    if had_hooks && obj.get("hooks").is_some_and(is_empty_container) {
        obj.shift_remove("hooks");
    }
    Ok(changes)
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// One handler of ours found in a settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The event it is registered under.
    pub event: String,
    /// The group's matcher, if any.
    pub matcher: Option<String>,
    /// The command as written.
    pub command: String,
    /// What it runs.
    pub ours: OurCommand,
}

/// Every handler of ours in a parsed settings file, in file order.
pub fn registrations(root: &Value) -> Vec<Registration> {
    let mut out = Vec::new();
    let Some(hooks) = root.get("hooks").and_then(Value::as_object) else {
        return out;
    };
    for (event, groups) in hooks {
        for g in groups.as_array().into_iter().flatten() {
            for h in g
                .get("hooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(ours) = our_handler(h) {
                    out.push(Registration {
                        event: event.clone(),
                        matcher: matcher_of(g).map(str::to_string),
                        command: h
                            .get("command")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        ours,
                    });
                }
            }
        }
    }
    out
}

/// The `enabledPlugins` keys of our plugin that are switched on
/// (`claude-pool@<marketplace>`).
pub fn enabled_plugin_ids(root: &Value) -> Vec<String> {
    let prefix = format!("{PLUGIN_NAME}@");
    root.get("enabledPlugins")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            k.starts_with(&prefix)
                && match v {
                    Value::Bool(b) => *b,
                    Value::Array(a) => !a.is_empty(),
                    _ => false,
                }
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Largest settings file read, in bytes: far above any real one, small
/// enough that reading and editing it costs nothing noticeable.
pub const MAX_SETTINGS_BYTES: u64 = 4 << 20;

/// Reads the settings-like file at `target` (named `path` in messages):
/// `None` when it does not exist. Only a regular file is opened (a FIFO, a
/// device or a folder is refused without blocking, see
/// [`fsio::open_regular`]), and one larger than [`MAX_SETTINGS_BYTES`] is
/// refused. Also returns the file's mode bits.
pub fn read_settings_bytes(path: &Path, target: &Path) -> Result<Option<(Vec<u8>, Option<u32>)>> {
    let f = match fsio::open_regular(target) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(Error::Invalid(format!(
                "{}: {e}; pool only edits a regular file, left it untouched",
                path.display()
            )));
        }
        Err(e) => return Err(Error::io(target, e)),
    };
    let mode = f.metadata().ok().and_then(|m| fsio::mode_bits(&m));
    let mut buf = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&f, MAX_SETTINGS_BYTES + 1),
        &mut buf,
    )
    .map_err(|e| Error::io(target, e))?;
    if buf.len() as u64 > MAX_SETTINGS_BYTES {
        return Err(Error::Invalid(format!(
            "{}: larger than {} MiB, not a settings file pool edits; left it untouched",
            path.display(),
            MAX_SETTINGS_BYTES >> 20
        )));
    }
    Ok(Some((buf, mode)))
}

/// Parses settings bytes. Empty (or blank) input is an empty object; input
/// that is not JSON is an error naming `path` and the line, and so is a key
/// that appears twice in one object (JSON readers differ on which one
/// counts, and writing the file back would lose one).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Value> {
    parse_tree(path, bytes).map(|(v, _)| v)
}

/// [`parse`], also returning where every part is in the text (`None` for
/// blank input).
pub fn parse_tree(path: &Path, bytes: &[u8]) -> Result<(Value, Option<json_edit::Node>)> {
    if bytes.trim_ascii().is_empty() {
        return Ok((Value::Object(Map::new()), None));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::Invalid(format!(
            "{}:{}: not valid JSON ({e}); left it untouched",
            path.display(),
            e.line()
        ))
    })?;
    if !v.is_object() {
        return Err(Error::Invalid(format!(
            "{}: the settings are not a JSON object; left it untouched",
            path.display()
        )));
    }
    // Valid JSON is valid UTF-8 (serde_json checked).
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::Invalid(format!("{}: not UTF-8; left it untouched", path.display())))?;
    let tree = json_edit::parse(text).map_err(|e| {
        let line = json_edit::line_of(text, e.offset());
        Error::Invalid(match e {
            json_edit::SpanError::Duplicate { key, .. } => format!(
                "{}:{line}: duplicate key {}; pool would lose one of them, so it left the \
                 file untouched: remove one, or add the hooks by hand (pool doctor lists them)",
                path.display(),
                serde_json::to_string(&key).unwrap_or_default()
            ),
            json_edit::SpanError::TooDeep(_) => format!(
                "{}:{line}: nested too deeply; left it untouched",
                path.display()
            ),
            json_edit::SpanError::Syntax(_) => format!(
                "{}:{line}: not valid JSON; left it untouched",
                path.display()
            ),
        })
    })?;
    Ok((v, Some(tree)))
}

/// The indentation of a pretty-printed JSON file: that of its first indented
/// line (spaces or tabs); two spaces, what Claude Code writes, when no line is
/// indented (a new, empty or minified file).
pub fn detect_indent(bytes: &[u8]) -> Vec<u8> {
    for line in bytes.split(|b| *b == b'\n').skip(1) {
        let ws: Vec<u8> = line
            .iter()
            .copied()
            .take_while(|b| *b == b' ' || *b == b'\t')
            .collect();
        if ws.len() < line.trim_ascii_end().len() && !ws.is_empty() {
            return ws;
        }
    }
    b"  ".to_vec()
}

/// Renders settings pretty-printed with `indent`, ending with a newline.
pub fn render(v: &Value, indent: &[u8]) -> Vec<u8> {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serialising a Value into a Vec cannot fail.
    let _ = v.serialize(&mut ser);
    out.push(b'\n');
    out
}

/// Writes `bytes` to `target` (the file `path` names) atomically with
/// `mode`. Before the first edit of an existing file, its `original` bytes
/// are copied to the backup beside `path` (never overwritten later). Returns
/// the backup's path when one was made now. Fails, writing nothing, if the
/// file no longer holds `original` (it changed since it was read).
pub fn save_edit(
    path: &Path,
    target: &Path,
    original: Option<&[u8]>,
    mode: u32,
    bytes: &[u8],
) -> Result<Option<PathBuf>> {
    let now = read_settings_bytes(path, target)?.map(|(b, _)| b);
    if now.as_deref() != original {
        return Err(Error::Invalid(format!(
            "{}: changed while pool was editing it; run the command again",
            path.display()
        )));
    }
    let mut made_backup = None;
    if let Some(orig) = original {
        let backup = backup_path(path);
        if std::fs::symlink_metadata(&backup).is_err() {
            crate::store::fsio::atomic_write(&backup, orig, 0o600)?;
            made_backup = Some(backup);
        }
    } else if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    crate::store::fsio::atomic_write(target, bytes, mode)?;
    Ok(made_backup)
}

/// Path of the backup beside the file at `path`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}

/// Where a file's bytes live: the target when `path` is a symlink (dotfiles
/// repositories link settings files), else `path`.
pub fn edit_target(path: &Path) -> Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).map_err(|e| Error::io(path, e))
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// A settings file read from disk, ready to be edited and written back.
#[derive(Debug)]
pub struct SettingsFile {
    /// The path as named (the backup goes beside it).
    pub path: PathBuf,
    /// Where the bytes live (the target when `path` is a symlink).
    pub target: PathBuf,
    /// The bytes read; `None` when the file does not exist.
    pub original: Option<Vec<u8>>,
    /// The parsed settings (an empty object for a missing file).
    pub value: Value,
    /// The settings as read, and where each part is in `original` (`None`
    /// for a missing or blank file), so writing back keeps the user's bytes.
    tree: Option<(Value, json_edit::Node)>,
    mode: Option<u32>,
}

impl SettingsFile {
    /// Reads and parses `path`. A missing file is an empty object; a file that
    /// is not valid JSON, has a duplicate key, is not a regular file or is
    /// larger than [`MAX_SETTINGS_BYTES`] is an error naming the file (and
    /// the line).
    pub fn load(path: &Path) -> Result<SettingsFile> {
        // Write through a symlink (dotfiles repositories link settings.json)
        // rather than replace the link with a file.
        let target = edit_target(path)?;
        let (original, mode) = match read_settings_bytes(path, &target)? {
            Some((b, mode)) => (Some(b), mode),
            None => (None, None),
        };
        let (value, tree) = match &original {
            Some(b) => {
                let (v, tree) = parse_tree(path, b)?;
                let tree = tree.map(|t| (v.clone(), t));
                (v, tree)
            }
            None => (Value::Object(Map::new()), None),
        };
        Ok(SettingsFile {
            path: path.to_path_buf(),
            target,
            original,
            value,
            tree,
            mode,
        })
    }

    /// The bytes `value` would be written as: the original bytes wherever
    /// the settings did not change ([`json_edit::splice`]), new parts in the
    /// file's indentation; a new or blank file pretty-printed. Fails (the
    /// caller then writes nothing) if the edited text would not read back as
    /// `value`.
    pub fn rendered(&self) -> Result<Vec<u8>> {
        let indent = self
            .original
            .as_deref()
            .map(detect_indent)
            .unwrap_or_else(|| b"  ".to_vec());
        let (Some(bytes), Some((old, tree))) = (&self.original, &self.tree) else {
            return Ok(render(&self.value, &indent));
        };
        let text = std::str::from_utf8(bytes).map_err(|_| {
            Error::Invalid(format!(
                "{}: not UTF-8; left it untouched",
                self.path.display()
            ))
        })?;
        json_edit::splice(text, tree, old, &self.value, &indent)
            .map(String::into_bytes)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: pool could not edit it without changing other settings; left it \
                     untouched (add the hooks by hand)",
                    self.path.display()
                ))
            })
    }

    /// Path of the backup beside the file.
    pub fn backup_path(&self) -> PathBuf {
        backup_path(&self.path)
    }

    /// Writes `value` back atomically. Before the first edit of an existing
    /// file, its original bytes are copied to the backup (never overwritten
    /// later). Returns the backup's path when one was made now. Fails, writing
    /// nothing, if the file changed on disk since it was read.
    pub fn save(&self, new_file_mode: u32) -> Result<Option<PathBuf>> {
        save_edit(
            &self.path,
            &self.target,
            self.original.as_deref(),
            self.mode.unwrap_or(new_file_mode),
            &self.rendered()?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bin() -> PathBuf {
        PathBuf::from("/opt/pool bin")
    }

    #[test]
    fn command_words_handles_quotes_and_assignments() {
        assert_eq!(command_words("/a/pool-stop", 2), ["/a/pool-stop"]);
        assert_eq!(
            command_words("'/x y/pool-stop' --flag", 2),
            ["/x y/pool-stop", "--flag"]
        );
        assert_eq!(
            command_words(r#""${CLAUDE_PLUGIN_ROOT}/hooks/launch" pool-stop"#, 2),
            ["${CLAUDE_PLUGIN_ROOT}/hooks/launch", "pool-stop"]
        );
        assert_eq!(command_words("A=1 B=2 pool stop", 2), ["pool", "stop"]);
        assert_eq!(command_words(r"/x\ y/pool-stop", 1), ["/x y/pool-stop"]);
        assert_eq!(command_words("a;b", 2), ["a"]);
        assert!(command_words("   ", 2).is_empty());
    }

    #[test]
    fn recognises_our_commands_only() {
        let ours = |c: &str| our_command(c).map(|o| o.binary);
        assert_eq!(ours("/x/pool-stop").as_deref(), Some("pool-stop"));
        assert_eq!(
            ours("'/a b/pool-session-start'").as_deref(),
            Some("pool-session-start")
        );
        assert_eq!(ours("pool stop").as_deref(), Some("pool-stop"));
        assert_eq!(
            ours("/u/bin/pool session-start").as_deref(),
            Some("pool-session-start")
        );
        assert_eq!(
            ours(r#""${CLAUDE_PLUGIN_ROOT}/hooks/launch" pool-stop"#).as_deref(),
            Some("pool-stop")
        );
        assert_eq!(
            ours("'/n m/pool' hook pool-post-tool --agent codex").as_deref(),
            Some("pool-post-tool")
        );
        // Windows: backslashes, `.exe` (what `pool install` writes there).
        assert_eq!(
            ours(r"'C:\Users\me\npm\pool.exe' hook pool-stop --agent codex").as_deref(),
            Some("pool-stop")
        );
        assert_eq!(
            ours(r"'C:\Users\me\.local\bin\pool-guard.exe'").as_deref(),
            Some("pool-guard")
        );
        assert_eq!(ours(r"'C:\bin\my-pool-stop.exe'"), None);
        assert_eq!(ours("/x/pool hook pool-query"), None);
        assert_eq!(ours("/x/pool hook"), None);
        assert_eq!(ours("/x/pool-query"), None);
        assert_eq!(ours("/x/pool query"), None);
        assert_eq!(ours("pool"), None);
        assert_eq!(ours("/x/my-pool-stop"), None);
        assert_eq!(ours("echo pool-stop"), None);
        assert_eq!(ours("/x/hooks/launch other"), None);
    }

    #[test]
    fn one_binary_layout_runs_pool_hook() {
        let (dir, pool) = (Path::new("/n m"), Path::new("/n m/pool"));
        let all = HookBins::of(pool, |_| true);
        assert_eq!(all, HookBins::Separate(dir));
        assert_eq!(hook_command(all, "pool-stop"), "'/n m/pool-stop'");
        let only_pool = HookBins::of(pool, |p| p == pool);
        assert_eq!(only_pool, HookBins::OneBinary(pool));
        assert_eq!(
            hook_command(only_pool, "pool-stop"),
            "'/n m/pool' hook pool-stop"
        );
        // One hook binary missing is enough: every command then runs `pool`.
        let partial = HookBins::of(pool, |p| !p.ends_with("pool-post-tool"));
        assert_eq!(partial, HookBins::OneBinary(pool));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/usr/bin/pool-stop"), "/usr/bin/pool-stop");
        assert_eq!(shell_quote("/a b/x"), "'/a b/x'");
        assert_eq!(shell_quote("/it's"), r"'/it'\''s'");
        assert_eq!(command_words(&shell_quote("/it's/a b"), 1), ["/it's/a b"]);
    }

    #[test]
    fn merge_keeps_everything_else_and_is_idempotent() {
        let mut v = json!({
            "model": "opus",
            "hooks": {
                "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
                "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard"}]}]
            },
            "env": {"A": "1"}
        });
        let c = merge(&mut v, &bin()).unwrap();
        assert_eq!(
            c.added,
            [
                "SessionStart",
                "Stop",
                "UserPromptSubmit",
                "PreToolUse",
                "PostToolUse",
                "SessionEnd"
            ]
        );
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["model", "hooks", "env"]);
        let events: Vec<_> = v["hooks"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            events,
            [
                "Stop",
                "PreToolUse",
                "SessionStart",
                "UserPromptSubmit",
                "PostToolUse",
                "SessionEnd"
            ]
        );
        assert_eq!(
            v["hooks"]["Stop"][0]["hooks"][0]["command"],
            "notify-send done"
        );
        assert_eq!(
            v["hooks"]["Stop"][1]["hooks"][0]["command"],
            "'/opt/pool bin/pool-stop'"
        );
        let before = v.clone();
        assert!(merge(&mut v, &bin()).unwrap().is_empty());
        assert_eq!(render(&v, b"  "), render(&before, b"  "));
    }

    #[test]
    fn moved_binaries_are_updated_in_place_and_strays_removed() {
        let mut v = json!({"hooks": {
            "Stop": [{"hooks": [
                {"type": "command", "command": "/old/pool-stop", "timeout": 10},
                {"type": "command", "command": "/older/pool-stop"},
                {"type": "command", "command": "mine"}
            ]}],
            "Notification": [{"hooks": [{"type": "command", "command": "/old/pool-session-start"}]}]
        }});
        let c = merge(&mut v, Path::new("/new")).unwrap();
        assert_eq!(c.updated, ["Stop"]);
        assert_eq!(c.removed, 2);
        let stop = &v["hooks"]["Stop"][0]["hooks"];
        assert_eq!(stop[0]["command"], "/new/pool-stop");
        assert_eq!(stop[1]["command"], "mine");
        assert!(v["hooks"].get("Notification").is_none());
        assert_eq!(registrations(&v).len(), HOOKS.len());
    }

    #[test]
    fn remove_takes_out_only_ours_and_only_what_it_emptied() {
        let orig = json!({
            "hooks": {
                "Stop": [{"hooks": [{"type": "command", "command": "mine"}]}],
                "Notification": []
            },
            "permissions": {"allow": []}
        });
        let mut v = orig.clone();
        merge(&mut v, &bin()).unwrap();
        let c = remove(&mut v).unwrap();
        assert_eq!(c.removed, HOOKS.len());
        assert_eq!(render(&v, b"  "), render(&orig, b"  "));

        let mut v = json!({"a": 1});
        merge(&mut v, &bin()).unwrap();
        remove(&mut v).unwrap();
        assert_eq!(v, json!({"a": 1}));
    }

    #[test]
    fn wrong_shapes_are_refused_untouched() {
        for bad in [
            json!({"hooks": []}),
            json!({"hooks": {"Stop": {}}}),
            json!([1]),
        ] {
            let mut v = bad.clone();
            assert!(merge(&mut v, &bin()).is_err(), "{bad}");
            assert_eq!(v, bad);
        }
    }

    #[test]
    fn matcher_groups_are_respected() {
        static SPEC: HookSpec = HookSpec {
            event: "PreToolUse",
            binary: "pool-stop",
            matcher: Some("Edit|Write"),
            timeout: 5,
        };
        let want = vec![(&SPEC, handler(&SPEC, Path::new("/b")))];
        let mut v = json!({"hooks": {"PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "/b/pool-stop"}, {"type": "command", "command": "x"}]}
        ]}});
        let c = reconcile(&mut v, &want).unwrap();
        assert_eq!((c.added.len(), c.removed), (1, 1));
        assert_eq!(
            v["hooks"]["PreToolUse"][0]["hooks"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(v["hooks"]["PreToolUse"][1]["matcher"], "Edit|Write");
        assert!(reconcile(&mut v, &want).unwrap().is_empty());
    }

    #[test]
    fn indentation_is_detected() {
        assert_eq!(detect_indent(b"{\n    \"a\": 1\n}\n"), b"    ");
        assert_eq!(detect_indent(b"{\n\t\"a\": 1\n}\n"), b"\t");
        assert_eq!(detect_indent(b"{\n\n  \"a\": 1\n}"), b"  ");
        assert_eq!(detect_indent(b"{\"a\":1}"), b"  ");
        let v = json!({"a": [1, {"b": {}}], "c": []});
        let s = render(&v, b"  ");
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": {}\n    }\n  ],\n  \"c\": []\n}\n"
        );
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let e = parse(Path::new("/s.json"), b"{\n  \"a\": 1,\n  oops\n}").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("/s.json:3:"), "{msg}");
        assert!(parse(Path::new("/s.json"), b"  \n").unwrap().is_object());
        assert!(parse(Path::new("/s.json"), b"[]").is_err());
    }

    #[test]
    fn plugin_ids() {
        let v = json!({"enabledPlugins": {"session-pool@claude-pool": true, "session-pool@x": false, "other@y": true}});
        assert_eq!(enabled_plugin_ids(&v), ["session-pool@claude-pool"]);
    }

    /// Writes `v` as JSON with the whitespace between tokens taken in turn
    /// from `ws` (so every layout a person might type comes up).
    fn write_odd(v: &Value, ws: &[&str], k: &mut usize, out: &mut String) {
        fn gap(ws: &[&str], k: &mut usize, out: &mut String) {
            out.push_str(ws[*k % ws.len()]);
            *k += 1;
        }
        match v {
            Value::Object(m) => {
                out.push('{');
                for (i, (key, val)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    gap(ws, k, out);
                    out.push_str(&serde_json::to_string(key).unwrap());
                    gap(ws, k, out);
                    out.push(':');
                    gap(ws, k, out);
                    write_odd(val, ws, k, out);
                }
                gap(ws, k, out);
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, val) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    gap(ws, k, out);
                    write_odd(val, ws, k, out);
                }
                gap(ws, k, out);
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }

    proptest::proptest! {
        /// Whatever the user's layout and hooks, install writes exactly the
        /// merged settings, keeps every byte before our first change, and
        /// uninstall then gives back the original file byte for byte (an
        /// empty object's inner spacing excepted).
        #[test]
        fn install_then_uninstall_gives_back_the_users_bytes(
            keys in proptest::collection::vec(("[a-z]{1,6}", 0u64..u64::MAX), 0..4),
            events in proptest::collection::vec(
                (proptest::sample::select(vec!["Stop", "PreToolUse", "Notification", "SessionEnd"]),
                 proptest::collection::vec("[a-z ]{1,8}", 1..3)),
                0..3),
            layout in proptest::collection::vec(
                proptest::sample::select(vec!["", " ", "\n", "\n  ", "\n\t\t", "  \n    ", "\r\n "]),
                1..8),
            big in proptest::bool::ANY,
        ) {
            let mut root = Map::new();
            for (k, n) in keys.into_iter().filter(|(k, _)| k != "hooks") {
                root.insert(k, Value::from(n));
            }
            let mut hooks = Map::new();
            for (event, cmds) in events {
                let handlers: Vec<Value> = cmds
                    .into_iter()
                    .map(|c| json!({"type": "command", "command": c}))
                    .collect();
                hooks.insert(event.to_string(), json!([{"hooks": handlers}]));
            }
            if !hooks.is_empty() {
                root.insert("hooks".into(), Value::Object(hooks));
            }
            let big = big && !root.is_empty();
            let mut text = String::new();
            write_odd(&Value::Object(root), &layout, &mut 0, &mut text);
            if big {
                // A number serde_json cannot hold exactly.
                text = text.replacen('{', "{\"big\": 123456789012345678901234567890.000,", 1);
            }
            text.push('\n');
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("settings.json");
            std::fs::write(&path, &text).unwrap();
            let mut f = SettingsFile::load(&path).unwrap();
            merge(&mut f.value, &bin()).unwrap();
            let installed = String::from_utf8(f.rendered().unwrap()).unwrap();
            let v: Value = serde_json::from_str(&installed).unwrap();
            proptest::prop_assert_eq!(registrations(&v).len(), HOOKS.len());
            if big {
                proptest::prop_assert!(installed.contains("123456789012345678901234567890.000"));
            }
            std::fs::write(&path, &installed).unwrap();
            let mut f = SettingsFile::load(&path).unwrap();
            remove(&mut f.value).unwrap();
            let back = String::from_utf8(f.rendered().unwrap()).unwrap();
            if text.trim_start_matches('{').trim_start().starts_with('}') {
                // An empty object (`{ }`) comes back as `{}`: nothing else.
                proptest::prop_assert_eq!(back, "{}\n");
            } else {
                proptest::prop_assert_eq!(back, text);
            }
        }
    }
}
