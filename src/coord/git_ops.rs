//! What a shell command did in git: the commits, pushes and pull requests a
//! Bash command line asks for (from its text), and the commits a repository
//! recorded (from its reflog, read without running git).
//!
//! Pure parsing plus two small bounded reads (`.git` discovery and the tail
//! of `logs/HEAD`). The command scan is a light shell tokenizer, not a shell:
//! it knows quotes, `&&` `||` `;` `|` `&` newlines and parentheses as
//! separators, comments, here-documents (skipped), leading `VAR=value`
//! assignments, `cd DIR` and `git -C DIR`; a word only counts as a command
//! in command position, so `echo git commit` is not a commit.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::coord::presence::{Head, parse_gitdir_file, parse_head};
use crate::store::fsio;

/// Most bytes of a command line scanned (64 KiB); the rest is ignored.
pub const MAX_COMMAND_SCAN: usize = 64 * 1024;
/// Most bytes read from the end of a reflog (16 KiB).
pub const MAX_REFLOG_TAIL: u64 = 16 * 1024;
/// Most bytes of a small git file (`HEAD`, a `.git` file) read.
const MAX_GIT_FILE: u64 = 4096;
/// Most commits attributed to one command.
pub const MAX_COMMITS_PER_CALL: usize = 8;
/// Most operations taken from one command line.
const MAX_OPS: usize = 16;

/// A git operation a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `git commit` (not `--dry-run`).
    Commit {
        /// Where it runs, relative to the shell's directory (from `cd`, `-C`).
        dir: Option<String>,
        /// `--amend`.
        amend: bool,
    },
    /// `git push` (not `--dry-run` / `-n`).
    Push {
        /// Where it runs, relative to the shell's directory.
        dir: Option<String>,
    },
    /// `gh pr create` (or `gh pr new`).
    PrCreate {
        /// Where it runs, relative to the shell's directory.
        dir: Option<String>,
    },
}

impl Op {
    /// The folder the operation runs in, relative to the shell's directory.
    pub fn dir(&self) -> Option<&str> {
        match self {
            Op::Commit { dir, .. } | Op::Push { dir } | Op::PrCreate { dir } => dir.as_deref(),
        }
    }
}

/// Whether a command could hold a git or gh operation at all: the cheap
/// check made before anything else is read or parsed.
pub fn might_matter(command: &str) -> bool {
    let b = &command.as_bytes()[..command.len().min(MAX_COMMAND_SCAN)];
    memchr::memmem::find(b, b"git").is_some() || memchr::memmem::find(b, b"gh").is_some()
}

/// The git operations a command line asks for, in order.
pub fn scan(command: &str) -> Vec<Op> {
    let mut end = command.len().min(MAX_COMMAND_SCAN);
    while !command.is_char_boundary(end) {
        end -= 1;
    }
    let mut ops = Vec::new();
    let mut dir: Option<String> = None;
    for words in simple_commands(&command[..end]) {
        if ops.len() >= MAX_OPS {
            break;
        }
        classify(&words, &mut dir, &mut ops);
    }
    ops
}

/// Whether the command line's last simple command is `gh pr create` (its
/// own output is then the end of the call's output: nothing that ran after
/// it can have printed a pull request's address).
pub fn ends_with_pr_create(command: &str) -> bool {
    let mut end = command.len().min(MAX_COMMAND_SCAN);
    while !command.is_char_boundary(end) {
        end -= 1;
    }
    if end < command.len() {
        return false;
    }
    let Some(last) = simple_commands(command).pop() else {
        return false;
    };
    let mut ops = Vec::new();
    classify(&last, &mut None, &mut ops);
    matches!(ops.as_slice(), [Op::PrCreate { .. }])
}

fn join_dir(base: &Option<String>, next: &str) -> Option<String> {
    if next.starts_with('/') || next.starts_with('~') {
        return Some(next.to_string());
    }
    Some(match base {
        Some(b) => format!("{}/{next}", b.trim_end_matches('/')),
        None => next.to_string(),
    })
}

fn classify(words: &[String], dir: &mut Option<String>, ops: &mut Vec<Op>) {
    let mut w = words.iter().map(String::as_str).peekable();
    // Leading assignments and wrappers that run the rest as a command.
    while let Some(first) = w.peek().copied() {
        let assignment = first.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if assignment || matches!(first, "command" | "env" | "time" | "nohup" | "exec") {
            w.next();
        } else {
            break;
        }
    }
    let Some(prog) = w.next() else { return };
    let name = prog.rsplit('/').next().unwrap_or(prog);
    match name {
        "cd" | "pushd" => {
            // `-` (the previous folder) is kept as a target nobody can
            // resolve, so what runs after it is not attributed.
            let target = w.find(|a| !a.starts_with('-') || *a == "-");
            *dir = match target {
                Some(t) => join_dir(dir, t),
                // `cd` alone goes home.
                None => Some("~".to_string()),
            };
        }
        // Back to a folder this scan does not track.
        "popd" => *dir = Some("-".to_string()),
        "git" => {
            let mut here = dir.clone();
            let mut sub = None;
            while let Some(a) = w.next() {
                match a {
                    "-C" => {
                        if let Some(d) = w.next() {
                            here = join_dir(&here, d);
                        }
                    }
                    "-c" | "--namespace" | "--exec-path" | "--config-env" => {
                        w.next();
                    }
                    // Another repository than the one the folder says: not attributable.
                    _ if a.starts_with("--git-dir") || a.starts_with("--work-tree") => return,
                    _ if a.starts_with('-') => {}
                    _ => {
                        sub = Some(a);
                        break;
                    }
                }
            }
            let rest: Vec<&str> = w.collect();
            match sub {
                Some("commit") if !rest.contains(&"--dry-run") => ops.push(Op::Commit {
                    dir: here,
                    amend: rest.contains(&"--amend"),
                }),
                Some("push") if !rest.iter().any(|a| matches!(*a, "--dry-run" | "-n")) => {
                    ops.push(Op::Push { dir: here })
                }
                _ => {}
            }
        }
        "gh" => {
            let rest: Vec<&str> = w.filter(|a| !a.starts_with('-')).take(2).collect();
            if rest.first() == Some(&"pr") && matches!(rest.get(1), Some(&"create" | &"new")) {
                ops.push(Op::PrCreate { dir: dir.clone() });
            }
        }
        _ => {}
    }
}

/// Splits a command line into simple commands (lists of words), with quotes
/// removed. Here-document bodies and comments are skipped.
fn simple_commands(s: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut heredocs: Vec<(String, bool)> = Vec::new();
    let mut chars = s.chars().peekable();
    let flush_word = |word: &mut String, in_word: &mut bool, words: &mut Vec<String>| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    word.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        _ => word.push(d),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(e) => word.push(e),
                }
            }
            '#' if !in_word => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                flush_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    out.push(std::mem::take(&mut words));
                }
                skip_heredocs(&mut chars, &mut heredocs);
            }
            '<' if chars.peek() == Some(&'<') => {
                chars.next();
                if chars.peek() == Some(&'<') {
                    // A here-string: the next word is data, not a command.
                    chars.next();
                    continue;
                }
                let strip = chars.peek() == Some(&'-');
                if strip {
                    chars.next();
                }
                flush_word(&mut word, &mut in_word, &mut words);
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                let mut delim = String::new();
                while let Some(&d) = chars.peek() {
                    if d.is_whitespace() || matches!(d, ';' | '&' | '|' | '(' | ')' | '<' | '>') {
                        break;
                    }
                    chars.next();
                    if d != '\'' && d != '"' && d != '\\' {
                        delim.push(d);
                    }
                }
                if !delim.is_empty() {
                    heredocs.push((delim, strip));
                }
            }
            // `2>&1`, `>&2`, `&>file`: a redirection, not a separator.
            '&' if (in_word && word.ends_with(['>', '<'])) || chars.peek() == Some(&'>') => {
                in_word = true;
                word.push(c);
            }
            '\n' | ';' | '&' | '|' | '(' | ')' => {
                flush_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    out.push(std::mem::take(&mut words));
                }
                if c == '\n' {
                    skip_heredocs(&mut chars, &mut heredocs);
                }
            }
            c if c.is_whitespace() => flush_word(&mut word, &mut in_word, &mut words),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush_word(&mut word, &mut in_word, &mut words);
    if !words.is_empty() {
        out.push(words);
    }
    out
}

/// After a newline: skips the bodies of pending here-documents.
fn skip_heredocs(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    pending: &mut Vec<(String, bool)>,
) {
    for (delim, strip) in pending.drain(..) {
        loop {
            let mut line = String::new();
            let mut ended = true;
            for d in chars.by_ref() {
                if d == '\n' {
                    ended = false;
                    break;
                }
                line.push(d);
            }
            let l = if strip {
                line.trim_start_matches('\t')
            } else {
                line.as_str()
            };
            if l == delim || ended {
                break;
            }
        }
    }
}

/// A repository: its worktree root and its git folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The folder holding `.git`.
    pub worktree: PathBuf,
    /// The git folder (`.git`, or `<main>/.git/worktrees/<name>` for a linked worktree).
    pub git_dir: PathBuf,
}

fn read_small(path: &Path) -> Option<String> {
    let mut s = String::new();
    File::open(path)
        .ok()?
        .take(MAX_GIT_FILE)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// The repository `dir` (absolute) is in, by walking up to the nearest
/// `.git`; `None` outside one. Never runs git.
pub fn find_repo(dir: &Path) -> Option<Repo> {
    if !dir.is_absolute() {
        return None;
    }
    for d in dir.ancestors() {
        let dotgit = d.join(".git");
        let Ok(meta) = std::fs::metadata(&dotgit) else {
            continue;
        };
        let git_dir = if meta.is_dir() {
            dotgit
        } else {
            parse_gitdir_file(&read_small(&dotgit)?, d)?
        };
        return Some(Repo {
            worktree: d.to_path_buf(),
            git_dir,
        });
    }
    None
}

/// The branch HEAD names in `git_dir`, if it names one.
pub fn branch(git_dir: &Path) -> Option<String> {
    match parse_head(&read_small(&git_dir.join("HEAD"))?)? {
        Head::Branch(b) => Some(b),
        Head::Detached(_) => None,
    }
}

/// What kind of reflog record a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `commit:` or `commit (initial):` / `commit (merge):`.
    Commit,
    /// `commit (amend):`.
    Amend,
    /// Anything else (checkout, reset, pull, rebase, cherry-pick…).
    Other,
}

/// One line of a reflog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The commit before.
    pub old: String,
    /// The commit after.
    pub new: String,
    /// When, epoch seconds.
    pub time: i64,
    /// What made it.
    pub kind: RecordKind,
    /// The message after `commit…: ` (the commit's subject), else the whole message.
    pub subject: String,
}

fn is_hash(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses one reflog line: `<old> <new> <name> <<email>> <time> <tz>\t<message>`.
pub fn parse_record(line: &str) -> Option<Record> {
    let (head, message) = line.split_once('\t')?;
    let mut it = head.splitn(3, ' ');
    let old = it.next()?;
    let new = it.next()?;
    if !is_hash(old) || !is_hash(new) {
        return None;
    }
    let mut tail = it.next()?.rsplitn(3, ' ');
    let _tz = tail.next()?;
    let time: i64 = tail.next()?.parse().ok()?;
    let (kind, subject) = if let Some(rest) = message.strip_prefix("commit") {
        match rest.split_once(": ") {
            Some((" (amend)", s)) => (RecordKind::Amend, s),
            Some(("" | " (initial)" | " (merge)", s)) => (RecordKind::Commit, s),
            _ => (RecordKind::Other, message),
        }
    } else {
        (RecordKind::Other, message)
    };
    Some(Record {
        old: old.to_ascii_lowercase(),
        new: new.to_ascii_lowercase(),
        time,
        kind,
        subject: subject.trim_end_matches(['\r', '\n']).to_string(),
    })
}

/// The last records of `git_dir/logs/HEAD`, oldest first, from at most
/// [`MAX_REFLOG_TAIL`] bytes. Empty when there is no reflog.
pub fn reflog_tail(git_dir: &Path) -> Vec<Record> {
    let path = git_dir.join("logs").join("HEAD");
    let Ok(text) = fsio::read_tail(&path, MAX_REFLOG_TAIL) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().filter_map(|l| parse_record(l)).collect()
}

/// A commit a command made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Full hash.
    pub hash: String,
    /// The commit it replaced, for an amend.
    pub amends: Option<String>,
    /// Its subject line.
    pub subject: String,
    /// When the reflog recorded it.
    pub time: i64,
}

impl Commit {
    /// The first seven hex digits of the hash.
    pub fn short(&self) -> &str {
        &self.hash[..self.hash.len().min(7)]
    }
}

/// The commits a command's own output names, found in `records` (oldest
/// first) between `from` and `to` (epoch seconds, inclusive), in reflog
/// order: each of `named` (hash prefixes of at least seven hex digits, from
/// the `[branch abc1234] subject` lines git commit printed or the hash
/// Claude Code reported) that matches exactly one commit or amend record in
/// the window, at most `max` (the number of `git commit`s the command ran).
/// A commit the output does not name is never returned, however close in
/// time: another session's commit in the same repository, or a commit that
/// failed or printed nothing (`-q`), makes no entry.
pub fn commits_named(
    records: &[Record],
    from: i64,
    to: i64,
    named: &[&str],
    max: usize,
) -> Vec<Commit> {
    let max = max.min(MAX_COMMITS_PER_CALL);
    let in_window: Vec<&Record> = records
        .iter()
        .filter(|r| r.time >= from && r.time <= to && r.kind != RecordKind::Other)
        .collect();
    let mut picked: Vec<usize> = Vec::new();
    for name in named {
        let name = name.to_ascii_lowercase();
        if name.len() < 7 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let hits: Vec<usize> = (0..in_window.len())
            .filter(|&i| in_window[i].new.starts_with(&name))
            .collect();
        // The same hash twice (a commit, reset away, made again) is one
        // commit: its newest record; two different hashes are ambiguous.
        let distinct = hits
            .iter()
            .map(|&i| in_window[i].new.as_str())
            .collect::<std::collections::HashSet<_>>();
        if distinct.len() == 1
            && let Some(&i) = hits.last()
            && !picked.contains(&i)
        {
            picked.push(i);
        }
    }
    picked.sort_unstable();
    // The newest ones when the output names more than the command ran.
    let skip = picked.len().saturating_sub(max);
    picked[skip..]
        .iter()
        .map(|&i| {
            let r = in_window[i];
            Commit {
                hash: r.new.clone(),
                amends: (r.kind == RecordKind::Amend).then(|| r.old.clone()),
                subject: r.subject.clone(),
                time: r.time,
            }
        })
        .collect()
}

/// The commit hash git printed (`[main 1415202] Add greeting`,
/// `[main (root-commit) 4df1025] …`), from the last such line.
pub fn printed_commit(stdout: &str) -> Option<&str> {
    printed_commits(stdout).pop()
}

/// Every commit hash git commit printed, in order of the output.
pub fn printed_commits(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| {
            let inner = l.strip_prefix('[')?.split_once("] ")?.0;
            let sha = inner.rsplit(' ').next()?;
            (sha.len() >= 7 && sha.len() <= 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
                .then_some(sha)
        })
        .collect()
}

/// Whether a push's output shows a ref it updated (` * [new branch]`,
/// `   a..b  main -> main`, ` + a...b main -> main (forced update)`), and
/// the first branch it names.
pub fn pushed_branch(stdout: &str) -> Option<&str> {
    stdout.lines().find_map(|l| {
        let (_, right) = l.split_once(" -> ")?;
        let flag = l.trim_start();
        if !(flag.starts_with('*')
            || flag.starts_with('+')
            || flag.chars().next().is_some_and(|c| c.is_ascii_hexdigit()))
        {
            return None;
        }
        if l.contains("[rejected]") || l.contains("[remote rejected]") {
            return None;
        }
        Some(right.split_whitespace().next().unwrap_or(right))
    })
}

/// A pull request URL that ends the output: `https://…/pull/<n>` (or
/// GitLab's `/merge_requests/<n>`) as the last non-empty line, the way `gh
/// pr create` prints it, without user information or a query.
pub fn pr_url(stdout: &str) -> Option<&str> {
    let l = stdout.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let rest = l.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let number = path
        .rsplit_once("/pull/")
        .or_else(|| path.rsplit_once("/merge_requests/"))
        .map(|(_, n)| n);
    (!host.is_empty()
        && l.len() <= 300
        && !l.contains(['?', '#', ' ', '@'])
        && number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
    .then_some(l)
}

/// Most bytes of a repository's `config` read (64 KiB).
const MAX_CONFIG: u64 = 64 * 1024;

/// The URLs of the repository's remotes (`url` and `pushurl` of every
/// `[remote "…"]` section of its config, the common one for a linked
/// worktree). Empty when there is none or it cannot be read.
pub fn remote_urls(git_dir: &Path) -> Vec<String> {
    let common = read_small(&git_dir.join("commondir"))
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.to_path_buf());
    let mut text = String::new();
    if File::open(common.join("config"))
        .and_then(|f| f.take(MAX_CONFIG).read_to_string(&mut text))
        .is_err()
    {
        return Vec::new();
    }
    let mut in_remote = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_remote = line
                .strip_prefix('[')
                .is_some_and(|l| l.trim_start().to_ascii_lowercase().starts_with("remote "));
            continue;
        }
        if !in_remote {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && matches!(k.trim().to_ascii_lowercase().as_str(), "url" | "pushurl")
        {
            out.push(v.trim().trim_matches('"').to_string());
        }
    }
    out
}

/// The host (lowercase, without user or port) and project path (lowercase,
/// without `.git` and slashes at either end) a remote URL names:
/// `https://host/owner/repo.git`, `ssh://git@host:22/owner/repo`,
/// `git@host:owner/repo.git`. `None` for a local path.
fn remote_place(url: &str) -> Option<(String, String)> {
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        rest.split_once('/')?
    } else {
        let (host, path) = url.split_once(':')?;
        if host.contains('/') || host.is_empty() {
            return None;
        }
        (host, path)
    };
    let host = host.rsplit('@').next()?;
    let host = host.split(':').next()?.to_ascii_lowercase();
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .to_ascii_lowercase();
    (!host.is_empty() && !path.is_empty()).then_some((host, path))
}

/// Whether a pull request URL belongs to one of `remotes`: the same host and
/// the same project (`https://github.com/o/r/pull/7` for `git@github.com:o/r.git`).
pub fn pr_of_remotes(pr: &str, remotes: &[String]) -> bool {
    let Some(rest) = pr.strip_prefix("https://") else {
        return false;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    let project = path
        .rsplit_once("/pull/")
        .or_else(|| path.rsplit_once("/merge_requests/"))
        .map(|(p, _)| p.strip_suffix("/-").unwrap_or(p).trim_matches('/'));
    let Some(project) = project else {
        return false;
    };
    let (host, project) = (host.to_ascii_lowercase(), project.to_ascii_lowercase());
    remotes
        .iter()
        .filter_map(|r| remote_place(r))
        .any(|(h, p)| h == host && p == project)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(cmd: &str) -> Vec<Op> {
        scan(cmd)
    }

    #[test]
    fn commits_in_command_position_only() {
        let c = |dir: Option<&str>, amend| Op::Commit {
            dir: dir.map(str::to_string),
            amend,
        };
        assert_eq!(ops("git commit -m \"Add greeting\""), [c(None, false)]);
        assert_eq!(ops("git add a && git commit -q -m x"), [c(None, false)]);
        assert_eq!(ops("git commit --amend -m y"), [c(None, true)]);
        assert_eq!(
            ops("GIT_AUTHOR_NAME=x git -c a=b commit -m y"),
            [c(None, false)]
        );
        assert_eq!(
            ops("cd ../other && git commit -m y"),
            [c(Some("../other"), false)]
        );
        assert_eq!(ops("git -C sub commit -m y"), [c(Some("sub"), false)]);
        assert_eq!(ops("/usr/bin/git commit -m y"), [c(None, false)]);
        assert!(ops("git commit --dry-run -m y").is_empty());
        assert!(ops("echo git commit -m \"not a commit\"").is_empty());
        assert!(ops("echo 'git commit' && printf '%s' \"git push\"").is_empty());
        assert!(ops("git log --grep commit").is_empty());
        assert!(ops("# git commit\nls").is_empty());
        assert!(ops("cat <<EOF\ngit commit -m x\nEOF\nls").is_empty());
        assert!(ops("cat <<-'END' > f\n\tgit push\n\tEND").is_empty());
        assert!(ops("grep -r 'git push' . | head").is_empty());
        assert!(ops("git --git-dir=/x/.git commit -m y").is_empty());
        assert_eq!(ops("ls; git commit -m a; git commit -m b").len(), 2);
    }

    #[test]
    fn pushes_and_pull_requests() {
        assert_eq!(ops("git push origin main"), [Op::Push { dir: None }]);
        assert_eq!(
            ops("git push -u origin HEAD:feature"),
            [Op::Push { dir: None }]
        );
        assert!(ops("git push --dry-run origin main").is_empty());
        assert!(ops("git push -n").is_empty());
        assert_eq!(
            ops("gh pr create --title \"Greeting\" --body x"),
            [Op::PrCreate { dir: None }]
        );
        assert_eq!(ops("gh pr new"), [Op::PrCreate { dir: None }]);
        assert!(ops("gh pr list").is_empty());
        assert!(ops("echo gh pr create").is_empty());
        assert!(might_matter("git status"));
        assert!(!might_matter("cargo test"));
    }

    #[test]
    fn reflog_records() {
        let text = include_str!("../../tests/fixtures/post_tool/2.1.329/proj.git-logs-HEAD");
        let recs: Vec<Record> = text.lines().filter_map(parse_record).collect();
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[0].kind, RecordKind::Commit);
        assert_eq!(recs[0].subject, "Initial commit");
        assert_eq!(recs[2].kind, RecordKind::Amend);
        assert_eq!(recs[2].subject, "Add greeting and more");
        assert_eq!(recs[2].old, recs[1].new);
        assert_eq!(recs[4].time, 1_796_018_216);
        assert!(parse_record("garbage").is_none());
        let checkout = format!(
            "{} {} A <a@b> 5 +0000\tcheckout: moving from a to b",
            "a".repeat(40),
            "b".repeat(40)
        );
        assert_eq!(parse_record(&checkout).unwrap().kind, RecordKind::Other);
    }

    #[test]
    fn only_commits_the_output_names_are_taken() {
        let text = include_str!("../../tests/fixtures/post_tool/2.1.329/proj.git-logs-HEAD");
        let recs: Vec<Record> = text.lines().filter_map(parse_record).collect();
        let t = 1_796_018_216;
        // The amend, the quiet commit and the two-paragraph commit all fall
        // in that second; the output named two of them.
        let got = commits_named(&recs, t, t + 1, &["5c9cddf", "67d0095"], 5);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].amends.as_deref(), Some(recs[1].new.as_str()));
        assert_eq!(got[1].subject, "Subject line");
        assert_eq!(got[1].short(), "67d0095");
        let only = commits_named(&recs, t, t + 1, &["5c9cddf", "67d0095"], 1);
        assert_eq!(only.len(), 1, "one `git commit` in the command: the newest");
        assert_eq!(only[0].subject, "Subject line");
        assert!(
            commits_named(&recs, t, t + 1, &[], 5).is_empty(),
            "no hash printed (`-q`, a failed commit): nothing, however close in time"
        );
        assert!(
            commits_named(&recs, t, t + 1, &["4df1025"], 1).is_empty(),
            "another repository's commit"
        );
        assert!(
            commits_named(&recs, t + 10, t + 20, &["67d0095"], 1).is_empty(),
            "outside the call's window"
        );
        assert!(
            commits_named(&recs, t, t + 1, &["67d0"], 1).is_empty(),
            "too short to be certain"
        );
    }

    #[test]
    fn output_parsing() {
        assert_eq!(
            printed_commit("[main 1415202] Add greeting\n 1 file changed"),
            Some("1415202")
        );
        assert_eq!(
            printed_commit("[main (root-commit) 4df1025] Commit in another repo"),
            Some("4df1025")
        );
        assert_eq!(printed_commit("On branch main\nnothing"), None);
        assert_eq!(
            pushed_branch("To /WORLD/origin.git\n * [new branch]      main -> main"),
            Some("main")
        );
        assert_eq!(
            pushed_branch("To x\n   1415202..a43da91  main -> main"),
            Some("main")
        );
        assert_eq!(pushed_branch("Everything up-to-date"), None);
        assert_eq!(
            pushed_branch(" ! [rejected]        main -> main (fetch first)"),
            None
        );
        assert_eq!(
            pr_url(
                "Creating pull request for main into main in example/proj\nhttps://github.com/example/proj/pull/42"
            ),
            Some("https://github.com/example/proj/pull/42")
        );
        assert_eq!(pr_url("https://user:tok@github.com/x/y/pull/1"), None);
        assert_eq!(pr_url("see https://github.com/x/y/pull/1 now"), None);
        assert_eq!(pr_url("https://github.com/x/y/pull/1?token=abc"), None);
    }

    #[test]
    fn pull_requests_are_gh_last_line_for_a_remote_of_this_repository() {
        assert!(ends_with_pr_create(
            "git push -u origin x && gh pr create --fill"
        ));
        assert!(ends_with_pr_create("gh pr create --fill 2>&1"));
        assert!(!ends_with_pr_create("gh pr create --fill; cat notes.txt"));
        assert!(!ends_with_pr_create("gh pr create --fill | tee out"));
        assert!(!ends_with_pr_create("gh pr list"));
        assert_eq!(
            pr_url("https://github.com/o/r/pull/1\nnotes\n"),
            None,
            "not the last line"
        );
        let remotes = [
            "git@github.com:Example/Proj.git".to_string(),
            "ssh://git@gitlab.example:2222/group/sub/proj".to_string(),
            "/srv/git/local.git".to_string(),
        ];
        assert!(pr_of_remotes(
            "https://github.com/example/proj/pull/7",
            &remotes
        ));
        assert!(pr_of_remotes(
            "https://gitlab.example/group/sub/proj/-/merge_requests/3",
            &remotes
        ));
        assert!(!pr_of_remotes(
            "https://github.com/other/proj/pull/7",
            &remotes
        ));
        assert!(!pr_of_remotes(
            "https://evil.example/example/proj/pull/7",
            &remotes
        ));
        assert!(!pr_of_remotes("https://srv/git/local/pull/1", &remotes));
    }

    #[test]
    fn folders_the_scan_cannot_follow_are_kept_as_unresolvable() {
        let dir = |cmd: &str| scan(cmd).first().and_then(|o| o.dir().map(str::to_string));
        assert_eq!(dir("cd - && git commit -m x").as_deref(), Some("-"));
        assert_eq!(dir("pushd x; popd; git commit -m x").as_deref(), Some("-"));
        assert_eq!(
            dir("cd \"$OTHER\" && git commit").as_deref(),
            Some("$OTHER")
        );
        assert_eq!(scan("git commit -m x 2>&1 | tail -1").len(), 1);
    }

    #[test]
    fn repositories_and_worktrees() {
        let tmp = tempfile::tempdir().unwrap();
        let main = tmp.path().join("main");
        std::fs::create_dir_all(main.join(".git/worktrees/wt/logs")).unwrap();
        std::fs::create_dir_all(main.join("src")).unwrap();
        std::fs::write(main.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let wt = tmp.path().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", main.join(".git/worktrees/wt").display()),
        )
        .unwrap();
        std::fs::write(
            main.join(".git/worktrees/wt/HEAD"),
            "ref: refs/heads/feature\n",
        )
        .unwrap();
        let r = find_repo(&main.join("src")).unwrap();
        assert_eq!(r.worktree, main);
        assert_eq!(branch(&r.git_dir).as_deref(), Some("main"));
        let w = find_repo(&wt).unwrap();
        assert_eq!(w.git_dir, main.join(".git/worktrees/wt"));
        assert_eq!(branch(&w.git_dir).as_deref(), Some("feature"));
        assert!(find_repo(Path::new("relative")).is_none());
        assert!(reflog_tail(&w.git_dir).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn scanning_never_panics(cmd in ".{0,200}", out in ".{0,200}") {
            let _ = scan(&cmd);
            let _ = might_matter(&cmd);
            let _ = printed_commit(&out);
            let _ = pushed_branch(&out);
            let _ = pr_url(&out);
            let _ = parse_record(&out);
        }

        #[test]
        fn shell_like_commands_never_panic(parts in proptest::collection::vec(
            proptest::sample::select(vec!["git", "commit", "push", "gh", "pr", "create", "cd", "-C", "x",
                "'", "\"", "\\", "&&", ";", "|", "<<", "EOF", "\n", "#", "(", ")", "--amend", "=", " "]), 0..40)) {
            let _ = scan(&parts.concat());
        }
    }
}
