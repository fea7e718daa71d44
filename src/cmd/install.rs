//! `pool install` / `pool uninstall`: register our hooks in Claude Code's
//! settings (or, with `--codex`, in Codex's `hooks.json`, trusted in its
//! `config.toml`), or take them out, saying what changed; `--dry-run` shows
//! the change as a diff and writes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::agent::settings_file::{self, Changes, HOOKS, HookBins, Scope, SettingsFile};
use crate::cmd::cli::InstallArgs;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::error::{Error, Result};

/// Most lines of context around a change in a `--dry-run` diff.
const DIFF_CONTEXT: usize = 3;
/// Largest number of line pairs the diff compares exactly; past that the
/// changed middle is shown as one block.
const DIFF_MAX_CELLS: usize = 4_000_000;

/// `pool install`: merges our hooks into the settings file. Returns the exit code.
pub fn install_main(args: &InstallArgs) -> i32 {
    finish("pool install", run(args, Action::Install))
}

/// `pool uninstall`: removes our hooks from the settings file. Returns the exit code.
pub fn uninstall_main(args: &InstallArgs) -> i32 {
    finish("pool uninstall", run(args, Action::Uninstall))
}

fn finish(program: &str, r: Result<String>) -> i32 {
    match r {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            EXIT_OK
        }
        Err(e) => {
            eprint_error(program, &e.to_string());
            EXIT_ERROR
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Install,
    Uninstall,
}

/// The folder of the running `pool`, where its sibling binaries are.
pub fn bin_dir() -> Result<PathBuf> {
    let exe = current_pool()?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::Invalid(format!("{}: has no parent folder", exe.display())))
}

/// The running `pool`, a symlink resolved to the file the binaries are beside.
pub fn current_pool() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| Error::io("<current executable>", e))?;
    Ok(std::fs::canonicalize(&exe).unwrap_or(exe))
}

fn run(args: &InstallArgs, action: Action) -> Result<String> {
    if args.codex {
        return run_codex(args, action);
    }
    let scope = if args.project {
        Scope::Project
    } else {
        Scope::User
    };
    let path = settings_file::settings_path_from_env(scope)?;
    let mut file = SettingsFile::load(&path)?;
    let changes = match action {
        Action::Install => {
            let pool = current_pool()?;
            let bins = HookBins::of(&pool, is_executable);
            settings_file::merge_specs(&mut file.value, HOOKS, bins, "")
        }
        Action::Uninstall => settings_file::remove(&mut file.value),
    }
    .map_err(|e| Error::Invalid(format!("{}: {e}; left it untouched", path.display())))?;
    let shown = path.display();
    if changes.is_empty() {
        return Ok(match action {
            Action::Install => format!("pool install: hooks already registered in {shown}\n"),
            Action::Uninstall => format!("pool uninstall: no pool hooks in {shown}\n"),
        });
    }
    let after = file.rendered()?;
    if args.dry_run {
        let before = String::from_utf8_lossy(file.original.as_deref().unwrap_or(b""));
        let from = if file.original.is_some() {
            format!("{shown}")
        } else {
            "/dev/null".to_string()
        };
        let mut out = unified_diff(
            &before,
            &String::from_utf8_lossy(&after),
            &from,
            &format!("{shown} (after)"),
        );
        out.push_str(&format!("(dry run: {} not written)\n", shown));
        return Ok(out);
    }
    let mode = if scope == Scope::User { 0o600 } else { 0o644 };
    let backup = file.save(mode)?;
    let mut out = describe(action, &changes, &path);
    if let Some(b) = backup {
        out.push_str(&format!("  backup of the original: {}\n", b.display()));
    }
    Ok(out)
}

/// `--codex`: our hooks in `$CODEX_HOME/hooks.json` (same merge rules as
/// for Claude Code's settings), and their trust entries in `config.toml`.
/// Each file is written atomically, with a backup before its first edit;
/// `hooks.json` first, so a failure in between leaves hooks Codex asks the
/// user to review, never trust for hooks that are not there.
fn run_codex(args: &InstallArgs, action: Action) -> Result<String> {
    use crate::agent::codex_settings::{
        AGENT_ARGS, CODEX_HOOKS, ConfigToml, apply_trust, codex_home_from_env, config_toml_path,
        hooks_json_path, our_trust,
    };
    let home = codex_home_from_env()?;
    let hooks_path = hooks_json_path(&home);
    let config_path = config_toml_path(&home);
    let mut hooks = SettingsFile::load(&hooks_path)?;
    let mut config = ConfigToml::load(&config_path)?;
    let trusted_before = our_trust(&hooks.value, &hooks_path);
    let changes = match action {
        Action::Install => {
            let pool = current_pool()?;
            let bins = HookBins::of(&pool, is_executable);
            settings_file::merge_specs(&mut hooks.value, CODEX_HOOKS, bins, AGENT_ARGS)
        }
        Action::Uninstall => settings_file::remove(&mut hooks.value),
    }
    .map_err(|e| Error::Invalid(format!("{}: {e}; left it untouched", hooks_path.display())))?;
    let trusted_after = our_trust(&hooks.value, &hooks_path);
    let trust = apply_trust(&mut config.doc, &trusted_before, &trusted_after).map_err(|e| {
        Error::Invalid(format!("{}: {e}; left it untouched", config_path.display()))
    })?;
    let program = match action {
        Action::Install => "pool install --codex",
        Action::Uninstall => "pool uninstall --codex",
    };
    if changes.is_empty() && trust.is_empty() {
        return Ok(match action {
            Action::Install => format!(
                "{program}: hooks already registered in {} and trusted in {}\n",
                hooks_path.display(),
                config_path.display()
            ),
            Action::Uninstall => format!("{program}: no pool hooks in {}\n", hooks_path.display()),
        });
    }
    if args.dry_run {
        let mut out = String::new();
        for (path, original, after) in [
            (&hooks_path, hooks.original.as_deref(), hooks.rendered()?),
            (&config_path, config.original.as_deref(), config.rendered()),
        ] {
            let before = String::from_utf8_lossy(original.unwrap_or(b""));
            let from = if original.is_some() {
                path.display().to_string()
            } else {
                "/dev/null".to_string()
            };
            out.push_str(&unified_diff(
                &before,
                &String::from_utf8_lossy(&after),
                &from,
                &format!("{} (after)", path.display()),
            ));
        }
        out.push_str(&format!(
            "(dry run: {} and {} not written)\n",
            hooks_path.display(),
            config_path.display()
        ));
        return Ok(out);
    }
    let mut backups = Vec::new();
    if !changes.is_empty() {
        backups.extend(hooks.save(0o600)?);
    }
    if !trust.is_empty() {
        backups.extend(config.save()?);
    }
    let mut out = describe_for(action, &changes, &hooks_path, CODEX_HOOKS, program);
    match action {
        Action::Install => out.push_str(&format!(
            "  trusted {} hook{} in {} ([hooks.state]); Codex asks again if they change\n",
            trusted_after.len(),
            if trusted_after.len() == 1 { "" } else { "s" },
            config_path.display()
        )),
        Action::Uninstall if trust.removed > 0 => out.push_str(&format!(
            "  removed {} trust entr{} from {}\n",
            trust.removed,
            if trust.removed == 1 { "y" } else { "ies" },
            config_path.display()
        )),
        Action::Uninstall => {}
    }
    for b in backups {
        out.push_str(&format!("  backup of the original: {}\n", b.display()));
    }
    Ok(out)
}

/// Whether `p` is a file with an execute bit (on Windows: a file, as
/// Windows runs any file it can read as a program by its extension).
pub fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| {
        m.is_file() && crate::store::fsio::mode_bits(&m).is_none_or(|mode| mode & 0o111 != 0)
    })
}

fn describe(action: Action, c: &Changes, path: &Path) -> String {
    let program = match action {
        Action::Install => "pool install",
        Action::Uninstall => "pool uninstall",
    };
    describe_for(action, c, path, HOOKS, program)
}

fn describe_for(
    action: Action,
    c: &Changes,
    path: &Path,
    specs: &[settings_file::HookSpec],
    program: &str,
) -> String {
    let mut out = String::new();
    let shown = path.display();
    match action {
        Action::Install => {
            out.push_str(&format!("{program}: updated {shown}\n"));
            for spec in specs {
                let verb = if c.added.contains(&spec.event) {
                    "added"
                } else if c.updated.contains(&spec.event) {
                    "updated"
                } else {
                    "kept"
                };
                out.push_str(&format!("  {verb:<7} {} -> {}\n", spec.event, spec.binary));
            }
            if c.removed > 0 {
                out.push_str(&format!(
                    "  removed {} stale pool hook entr{}\n",
                    c.removed,
                    if c.removed == 1 { "y" } else { "ies" }
                ));
            }
        }
        Action::Uninstall => out.push_str(&format!(
            "{program}: removed {} pool hook entr{} from {shown}\n",
            c.removed,
            if c.removed == 1 { "y" } else { "ies" }
        )),
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

/// A unified diff of two texts, line by line, with three lines
/// of context; empty when they are equal.
pub fn unified_diff(old: &str, new: &str, from: &str, to: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = diff_ops(&a, &b);
    if ops.iter().all(|o| *o == Op::Same) {
        return String::new();
    }
    let mut out = format!("--- {from}\n+++ {to}\n");
    // Walk the edit script, cutting it into hunks of changes with context.
    let mut i = 0;
    while i < ops.len() {
        let Some(first) = ops[i..].iter().position(|o| *o != Op::Same).map(|p| p + i) else {
            break;
        };
        let start = first.saturating_sub(DIFF_CONTEXT);
        let mut end = first;
        let mut same_run = 0;
        let mut k = first;
        while k < ops.len() {
            if ops[k] == Op::Same {
                same_run += 1;
                if same_run > 2 * DIFF_CONTEXT {
                    break;
                }
            } else {
                same_run = 0;
                end = k;
            }
            k += 1;
        }
        let stop = (end + 1 + DIFF_CONTEXT).min(ops.len());
        let (mut ai, mut bi) = (0, 0);
        for o in &ops[..start] {
            match o {
                Op::Same => {
                    ai += 1;
                    bi += 1;
                }
                Op::Del => ai += 1,
                Op::Add => bi += 1,
            }
        }
        let count = |want: Op| {
            ops[start..stop]
                .iter()
                .filter(|o| **o == Op::Same || **o == want)
                .count()
        };
        let (na, nb) = (count(Op::Del), count(Op::Add));
        let line_no = |idx: usize, n: usize| if n == 0 { idx } else { idx + 1 };
        out.push_str(&format!(
            "@@ -{},{na} +{},{nb} @@\n",
            line_no(ai, na),
            line_no(bi, nb)
        ));
        for o in &ops[start..stop] {
            match o {
                Op::Same => {
                    out.push_str(&format!(" {}\n", a[ai]));
                    ai += 1;
                    bi += 1;
                }
                Op::Del => {
                    out.push_str(&format!("-{}\n", a[ai]));
                    ai += 1;
                }
                Op::Add => {
                    out.push_str(&format!("+{}\n", b[bi]));
                    bi += 1;
                }
            }
        }
        i = stop;
    }
    out
}

/// The edit script turning `a` into `b`: common prefix and suffix, and a
/// longest-common-subsequence alignment of the middle.
fn diff_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops = vec![Op::Same; pre];
    if ma.len().saturating_mul(mb.len()) > DIFF_MAX_CELLS {
        ops.extend(std::iter::repeat_n(Op::Del, ma.len()));
        ops.extend(std::iter::repeat_n(Op::Add, mb.len()));
    } else {
        let (n, m) = (ma.len(), mb.len());
        // lcs[i][j]: length of the LCS of ma[i..] and mb[j..].
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                ops.push(Op::Same);
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
                // Deletions first, as diff(1) prints them.
                ops.push(Op::Del);
                i += 1;
            } else {
                ops.push(Op::Add);
                j += 1;
            }
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suf));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_of_equal_texts_is_empty() {
        assert_eq!(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn diff_shows_hunks_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n";
        let d = unified_diff(old, new, "a", "b");
        assert_eq!(
            d,
            "--- a\n+++ b\n@@ -2,9 +2,10 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n+11\n"
        );
        let d = unified_diff("", "{}\n", "/dev/null", "b");
        assert_eq!(d, "--- /dev/null\n+++ b\n@@ -0,0 +1,1 @@\n+{}\n");
    }

    #[test]
    fn distant_changes_make_separate_hunks() {
        let old: String = (0..30).map(|i| format!("line{i}\n")).collect();
        let new = old.replace("line3\n", "three\n").replace("line25\n", "x\n");
        let d = unified_diff(&old, &new, "a", "b");
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
        assert!(d.contains("-line3\n+three\n") && d.contains("-line25\n+x\n"));
    }
}
