//! Repository identity, scope and membership: which repository a folder is
//! in (read from `.git` without running git), the id every entry, claim,
//! edit and presence record carries, which ids a reader shows, and whether a
//! session takes part in the pool at all.
//!
//! The id, in order of preference:
//! 1. the normalised URL of the `origin` remote, `host/path` without
//!    credentials, port, scheme or a trailing `.git` (`github.com/owner/name`),
//!    so two clones of one remote share it on any machine;
//! 2. else the repository's common git folder, without a trailing `/.git`
//!    (`/home/u/proj`), shared by its worktrees;
//! 3. else the folder itself, for folders outside git.
//!
//! The last two are resolved through symlinks, so a session reaching the
//! folder through a symlinked one has the same id.
//!
//! Remote ids never start with `/`; the other two always do.
//!
//! Reading is bounded: at most [`MAX_WALK`] ancestors are looked at, and
//! every file (`.git`, `commondir`, `config`, `HEAD`, [`INIT_FILE`]) is
//! opened non-blocking, checked to be a regular file with `fstat`, and read
//! up to a fixed size, so a FIFO or a device planted there cannot stall a
//! hook. Nothing is cached: a lookup costs a few `stat`s and two small reads,
//! plus, for a repository with linked worktrees, two small reads and a
//! `realpath` per worktree (at most [`MAX_WORKTREES`]) to learn the other
//! roots a path of the repository may be spelled under ([`Repo::aliases`]).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::spelling;

/// Most ancestors of a folder examined for a `.git`.
pub const MAX_WALK: usize = 64;
/// Largest `.git` file, `commondir` or `HEAD` read, in bytes.
pub const MAX_GIT_FILE: u64 = 4096;
/// Most bytes of a git `config` read (64 KiB); a remote defined past it is not seen.
pub const MAX_GIT_CONFIG: u64 = 64 * 1024;
/// Largest [`INIT_FILE`] read, in bytes.
pub const MAX_INIT_FILE: u64 = 16 * 1024;
/// The file `pool init` writes in a repository's root, meant to be committed.
pub const INIT_FILE: &str = ".claude/pool.json";
/// Longest instance name derived from a folder or a branch, in bytes.
pub const MAX_DERIVED_NAME: usize = 64;
/// Most entries of `<common git folder>/worktrees` looked at.
pub const MAX_WORKTREES: usize = 64;

/// Where a repository id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `origin` remote's URL.
    Remote,
    /// The common git folder (no `origin`).
    GitDir,
    /// The folder itself (not in a git repository).
    Folder,
}

impl Source {
    /// A short word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Remote => "origin remote",
            Source::GitDir => "git folder",
            Source::Folder => "folder",
        }
    }
}

/// The repository a folder is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The identity entries carry.
    pub id: String,
    /// Where the id came from.
    pub source: Source,
    /// The worktree root (the folder holding `.git`), or the folder itself
    /// outside git. Relative paths resolve against it.
    pub root: PathBuf,
    /// The worktree's own git folder (`.git`, or `<common>/worktrees/<name>`).
    pub git_dir: Option<PathBuf>,
    /// The other spellings of a root of this repository: the root resolved
    /// through symlinks, and every other worktree's root (as git records it
    /// and resolved), at most [`MAX_WORKTREES`] worktrees. A path under any
    /// of them has a form relative to the repository ([`Repo::relative`]).
    pub aliases: Vec<String>,
    /// Whether paths here compare ignoring case
    /// ([`spelling::caseless_default`]).
    pub caseless: bool,
}

impl Repo {
    /// A path's form relative to the repository's root, when it lies under
    /// the root or one of its [`Repo::aliases`] (the deepest, for a worktree
    /// inside another): `src/a.rs`; `None` otherwise. The roots compare
    /// ignoring case when [`Repo::caseless`]. `path` is taken as it is
    /// (absolute; the guard resolves its folders first).
    pub fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        let root = self.root.to_str()?;
        std::iter::once(root)
            .chain(self.aliases.iter().map(String::as_str))
            .filter_map(|r| spelling::strip_root(path, r, self.caseless))
            .min_by_key(|rest| rest.len())
    }

    /// Whether `path` is the root itself or one of its aliases.
    pub fn is_root(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        let root = self.root.to_string_lossy();
        std::iter::once(root.as_ref())
            .chain(self.aliases.iter().map(String::as_str))
            .any(|r| spelling::same(r.trim_end_matches('/'), path, self.caseless))
    }
}

/// Opens `path` without blocking and reads at most `max` bytes, only when it
/// is a regular file (checked on the open descriptor). `None` for anything
/// else: missing, a folder, a FIFO, a device, unreadable.
pub fn read_regular(path: &Path, max: u64) -> Option<Vec<u8>> {
    // Non-blocking on Unix, and checked to be a regular file on the
    // descriptor (see `fsio::open_regular`).
    let f = crate::store::fsio::open_regular(path).ok()?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf).ok()?;
    Some(buf)
}

fn read_text(path: &Path, max: u64) -> Option<String> {
    read_regular(path, max).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Removes `.` and resolves `..` without touching the file system.
pub fn normalize_lexically(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Parses a `.git` file (`gitdir: <path>`); a relative path is relative to
/// `base`, the folder holding the file.
pub fn parse_gitdir_file(text: &str, base: &Path) -> Option<PathBuf> {
    let p = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("gitdir:"))?
        .trim();
    if p.is_empty() {
        return None;
    }
    Some(normalize_lexically(&base.join(p)))
}

/// The git folder of a worktree root: `.git` itself when it is a folder, the
/// folder a `gitdir:` file names otherwise. `None` when `.git` is neither.
fn git_dir_of(root: &Path) -> Option<PathBuf> {
    let dotgit = root.join(".git");
    let meta = std::fs::metadata(&dotgit).ok()?;
    if meta.is_dir() {
        Some(dotgit)
    } else if meta.is_file() {
        parse_gitdir_file(&read_text(&dotgit, MAX_GIT_FILE)?, root)
    } else {
        None
    }
}

/// Finds the repository `dir` (absolute) is in, and its id. Never fails:
/// outside git, or when `.git` cannot be read, the folder (or the worktree
/// root) is the id. A relative `dir` is used as given.
pub fn locate(dir: &Path) -> Repo {
    let dir = normalize_lexically(dir);
    let found = dir.ancestors().take(MAX_WALK).find_map(|d| {
        // One stat per ancestor; most are not repositories.
        std::fs::symlink_metadata(d.join(".git"))
            .ok()
            .map(|_| d.to_path_buf())
    });
    let Some(root) = found else {
        return Repo {
            id: path_id(&resolved(&dir)),
            source: Source::Folder,
            aliases: resolved_alias(&dir).into_iter().collect(),
            caseless: spelling::caseless_default(),
            root: dir,
            git_dir: None,
        };
    };
    let Some(git_dir) = git_dir_of(&root) else {
        return Repo {
            id: path_id(&resolved(&root)),
            source: Source::Folder,
            aliases: resolved_alias(&root).into_iter().collect(),
            caseless: spelling::caseless_default(),
            root,
            git_dir: None,
        };
    };
    let common = read_text(&git_dir.join("commondir"), MAX_GIT_FILE)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| normalize_lexically(&git_dir.join(t)))
        .unwrap_or_else(|| git_dir.clone());
    let remote = read_regular(&common.join("config"), MAX_GIT_CONFIG)
        .and_then(|b| origin_url(&String::from_utf8_lossy(&b)))
        .and_then(|u| normalize_url(&u, &root));
    let (id, source) = match remote {
        Some(id) => (id, Source::Remote),
        // Resolved, so a session whose folder is reached through a symlink
        // has the id of one in the real folder.
        None => (path_id(&resolved(&common)), Source::GitDir),
    };
    let aliases = aliases(&root, &common);
    Repo {
        id,
        source,
        root,
        git_dir: Some(git_dir),
        aliases,
        caseless: spelling::caseless_default(),
    }
}

/// `p` resolved through symlinks, or as given when it does not resolve.
fn resolved(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `root` resolved through symlinks, when that differs from it.
fn resolved_alias(root: &Path) -> Option<String> {
    let real = std::fs::canonicalize(root)
        .ok()?
        .into_os_string()
        .into_string()
        .ok()?;
    (Path::new(&real) != root).then_some(real)
}

/// The other roots of the repository whose worktree `root` is (its git
/// folder is `common`): `root` resolved, the
/// main worktree, and each linked worktree listed in `common/worktrees`,
/// each as found and resolved. A worktree counts only when its `.git` names
/// back the git folder that lists it, so a stale or planted `gitdir` file
/// maps no other folder; `/` never counts.
fn aliases(root: &Path, common: &Path) -> Vec<String> {
    let mut roots: Vec<PathBuf> = Vec::new();
    // The main worktree: the folder holding the common git folder `.git`.
    if common.file_name().is_some_and(|n| n == ".git")
        && let Some(main) = common.parent()
        && std::fs::symlink_metadata(common).is_ok_and(|m| m.is_dir())
    {
        roots.push(main.to_path_buf());
    }
    if let Ok(dir) = std::fs::read_dir(common.join("worktrees")) {
        for entry in dir.take(MAX_WORKTREES).flatten() {
            let wt_git = entry.path();
            let Some(text) = read_text(&wt_git.join("gitdir"), MAX_GIT_FILE) else {
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            // Absolute, or (git 2.48's relative worktrees) relative to the entry.
            let dotgit = normalize_lexically(&wt_git.join(text));
            let Some(wt_root) = dotgit.parent() else {
                continue;
            };
            let points_back = read_text(&dotgit, MAX_GIT_FILE)
                .and_then(|t| parse_gitdir_file(&t, wt_root))
                .is_some_and(|g| same_folder(&g, &wt_git));
            if points_back {
                roots.push(wt_root.to_path_buf());
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    let own = root.to_string_lossy();
    let mut add = |p: String| {
        if p != "/" && !p.is_empty() && p != own && !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(r) = resolved_alias(root) {
        add(r);
    }
    for r in roots {
        let found = r.to_string_lossy().into_owned();
        if let Some(real) = resolved_alias(&r) {
            add(real);
        }
        add(found);
    }
    out
}

/// Whether two folders are one, compared resolved (lexically when either
/// does not resolve).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => normalize_lexically(a) == normalize_lexically(b),
    }
}

/// A path as an id: lexically normalised, without a trailing `/.git` (so a
/// repository's git folder and a clone's local-path remote give one id).
fn path_id(p: &Path) -> String {
    let p = normalize_lexically(p);
    let p = if p.file_name().is_some_and(|n| n == ".git") {
        p.parent().map(Path::to_path_buf).unwrap_or(p)
    } else {
        p
    };
    let s = p.to_string_lossy().into_owned();
    if s.len() > 1 {
        s.trim_end_matches('/').to_string()
    } else {
        s
    }
}

/// The `url` of `[remote "origin"]` in a git config file's text (the first
/// one when there are several), or `None`. Follows git's syntax for section
/// headers (names case-insensitive, the subsection case-sensitive; the old
/// `[remote.origin]` form too), keys (case-insensitive), comments (`#`,
/// `;`), quoted values and escapes; `include` directives are not followed.
pub fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for raw in config.lines() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                in_origin = false;
                continue;
            };
            let header = &rest[..end];
            in_origin = match header.split_once(char::is_whitespace) {
                Some((name, sub)) => {
                    name.eq_ignore_ascii_case("remote") && sub.trim() == "\"origin\""
                }
                None => header.eq_ignore_ascii_case("remote.origin"),
            };
            // A key may follow the header on the same line.
            let after = rest[end + 1..].trim();
            if in_origin && let Some(v) = key_value(after, "url") {
                return Some(v);
            }
            continue;
        }
        if in_origin && let Some(v) = key_value(line, "url") {
            return Some(v);
        }
    }
    None
}

/// The value of `key = value` when the line sets `key` (case-insensitive).
fn key_value(line: &str, key: &str) -> Option<String> {
    let (k, v) = line.split_once('=')?;
    if !k.trim().eq_ignore_ascii_case(key) {
        return None;
    }
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = v.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            },
            '#' | ';' if !quoted => break,
            c => out.push(c),
        }
    }
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

/// Hosts whose owner and repository names are case-insensitive; their
/// paths are lowercased so two spellings give one id.
const CASELESS_HOSTS: &[&str] = &["github.com", "gitlab.com", "bitbucket.org", "codeberg.org"];

/// Normalises a remote URL into an id: `host/path` for network URLs (ssh,
/// https, git, scp-like `user@host:path`), with the host lowercased and the
/// credentials, port, scheme and a trailing `.git` or `/` dropped; the
/// absolute path for local remotes (`/srv/x`, `file:///srv/x`, `../x`
/// relative to `base`). `None` when nothing is left.
pub fn normalize_url(url: &str, base: &Path) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(char::is_control) {
        return None;
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return local_id(rest, base);
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        return host_path_id(authority, path);
    }
    // scp-like: a colon before any slash ("git@host:owner/name.git").
    if let Some(colon) = url.find(':')
        && !url[..colon].contains('/')
        && colon > 0
    {
        return host_path_id(&url[..colon], &url[colon + 1..]);
    }
    local_id(url, base)
}

fn host_path_id(authority: &str, path: &str) -> Option<String> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']').map_or(v6, |(h, _)| h)
    } else {
        host_port.split_once(':').map_or(host_port, |(h, _)| h)
    };
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    let path = if CASELESS_HOSTS.contains(&host.as_str()) {
        path.to_lowercase()
    } else {
        path.to_string()
    };
    Some(if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    })
}

fn local_id(path: &str, base: &Path) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let p = Path::new(path);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    Some(path_id(&abs))
}

/// How `pool init` names a session when `CLAUDE_INSTANCE` is unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NameFrom {
    /// The worktree's folder name (`app-A`).
    #[default]
    Worktree,
    /// The checked-out branch (`feature/x` becomes `feature-x`), else the folder.
    Branch,
}

/// What a repository's [`INIT_FILE`] says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitFile {
    /// Where it is.
    pub path: PathBuf,
    /// How sessions without `CLAUDE_INSTANCE` are named.
    pub name_from: NameFrom,
    /// A problem reading it (the repository still counts as opted in).
    pub warning: Option<String>,
}

/// The text `pool init` writes.
pub fn init_file_text(name_from: NameFrom) -> String {
    let from = match name_from {
        NameFrom::Worktree => "worktree",
        NameFrom::Branch => "branch",
    };
    format!(
        "{{\n  \"claude-pool\": 1,\n  \"_comment\": \"Sessions in this repository share a claude-pool (see its README). Delete this file to opt out.\",\n  \"instance_from\": \"{from}\"\n}}\n"
    )
}

/// Reads the repository's [`INIT_FILE`] under `root`; `None` when there is
/// no regular file there (the repository has not opted in).
pub fn read_init(root: &Path) -> Option<InitFile> {
    let path = root.join(INIT_FILE);
    let bytes = read_regular(&path, MAX_INIT_FILE)?;
    let mut init = InitFile {
        path: path.clone(),
        ..InitFile::default()
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => match v.get("instance_from").and_then(|f| f.as_str()) {
            None | Some("worktree") => {}
            Some("branch") => init.name_from = NameFrom::Branch,
            Some(other) => {
                init.warning = Some(format!(
                    "{}: instance_from {other:?} is not \"worktree\" or \"branch\"; using the worktree's folder",
                    path.display()
                ));
            }
        },
        Err(e) => {
            init.warning = Some(format!(
                "{}: not JSON ({e}); the repository still takes part",
                path.display()
            ));
        }
    }
    Some(init)
}

/// Turns a folder or branch name into an instance name: letters, digits,
/// `-`, `_`, `.` kept, anything else `-`, no leading `.`, at most
/// [`MAX_DERIVED_NAME`] bytes. `None` when nothing is left.
pub fn sanitize_name(raw: &str) -> Option<String> {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    s = s
        .trim_start_matches(['.', '-'])
        .trim_end_matches('-')
        .to_string();
    while s.len() > MAX_DERIVED_NAME {
        s.pop();
    }
    (!s.is_empty()).then_some(s)
}

/// The branch HEAD names in a worktree's git folder, if any.
fn branch_of(git_dir: &Path) -> Option<String> {
    let head = read_text(&git_dir.join("HEAD"), MAX_GIT_FILE)?;
    let r = head.trim().strip_prefix("ref:")?.trim();
    Some(r.strip_prefix("refs/heads/").unwrap_or(r).to_string())
}

/// The instance name a member session gets from `pool init` when
/// `CLAUDE_INSTANCE` is unset.
pub fn default_instance(repo: &Repo, name_from: NameFrom) -> Option<String> {
    let folder = || {
        repo.root
            .file_name()
            .and_then(|n| sanitize_name(&n.to_string_lossy()))
    };
    match name_from {
        NameFrom::Worktree => folder(),
        NameFrom::Branch => repo
            .git_dir
            .as_deref()
            .and_then(branch_of)
            .and_then(|b| sanitize_name(&b))
            .or_else(folder),
    }
}

/// Why a session is, or is not, a pool member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// `CLAUDE_INSTANCE` is set.
    Instance(String),
    /// The repository opted in with `pool init`; the session's instance name
    /// (derived from the worktree's folder or branch).
    OptedIn {
        /// The init file.
        init: InitFile,
        /// The derived instance name.
        instance: Option<String>,
    },
    /// Neither: the hooks do nothing.
    NotMember,
}

impl Membership {
    /// Decides membership from `CLAUDE_INSTANCE` (if set and not blank) and
    /// the repository's init file.
    pub fn of(instance_env: Option<&str>, repo: &Repo) -> Membership {
        if let Some(i) = instance_env.map(str::trim).filter(|i| !i.is_empty()) {
            return Membership::Instance(i.to_string());
        }
        match read_init(&repo.root) {
            Some(init) => {
                let instance = default_instance(repo, init.name_from);
                Membership::OptedIn { init, instance }
            }
            None => Membership::NotMember,
        }
    }

    /// Whether the hooks run.
    pub fn is_member(&self) -> bool {
        !matches!(self, Membership::NotMember)
    }

    /// The session's instance name, if membership gives one.
    pub fn instance(&self) -> Option<&str> {
        match self {
            Membership::Instance(i) => Some(i),
            Membership::OptedIn { instance, .. } => instance.as_deref(),
            Membership::NotMember => None,
        }
    }
}

/// Which entries a reader shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every repository (`--all-repos`, or a configured scope holding `*`).
    All,
    /// These repository ids exactly, plus entries without an id whose `cwd`
    /// lies under `legacy_root` (entries written before ids existed).
    Repos {
        /// Ids shown.
        ids: Vec<String>,
        /// The worktree root legacy entries must name.
        legacy_root: Option<String>,
    },
    /// `--repo NAME`: ids equal to a name or ending in `/<name>`.
    Named(Vec<String>),
}

impl Scope {
    /// The default scope of a session in `repo`: its id, plus every id of a
    /// configured shared scope that lists it (`scopes` in `config.json`:
    /// name → ids; an id `*` makes the scope every repository).
    pub fn of_repo<'a>(repo: &Repo, shared: impl IntoIterator<Item = &'a [String]>) -> Scope {
        let mut ids = vec![repo.id.clone()];
        for members in shared {
            if members.iter().any(|m| m == &repo.id || m == "*") {
                if members.iter().any(|m| m == "*") {
                    return Scope::All;
                }
                ids.extend(members.iter().filter(|m| **m != repo.id).cloned());
            }
        }
        Scope::Repos {
            ids,
            legacy_root: Some(repo.root.to_string_lossy().into_owned()),
        }
    }

    /// Only `repo` itself (and legacy entries naming its worktree): the
    /// scope paths are matched in, whatever scope is shown.
    pub fn repo_only(repo: &Repo) -> Scope {
        Scope::Repos {
            ids: vec![repo.id.clone()],
            legacy_root: Some(repo.root.to_string_lossy().into_owned()),
        }
    }

    /// `--repo NAME`: a configured scope's ids when NAME names one, else
    /// NAME itself (matching an id equal to it or ending in `/NAME`).
    pub fn named<'a>(
        name: &str,
        shared: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Scope {
        for (scope, members) in shared {
            if scope == name {
                if members.iter().any(|m| m == "*") {
                    return Scope::All;
                }
                return Scope::Named(members.to_vec());
            }
        }
        Scope::Named(vec![name.trim_matches('/').to_string()])
    }

    /// Whether an entry (or claim, edit, presence) with this repository id
    /// and working directory is in scope.
    pub fn admits(&self, repo: &str, cwd: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Repos { ids, legacy_root } => {
                if repo.is_empty() {
                    legacy_root.as_deref().is_some_and(|r| is_under(cwd, r))
                } else {
                    ids.iter().any(|i| i == repo)
                }
            }
            Scope::Named(names) => {
                !repo.is_empty()
                    && names.iter().any(|n| {
                        repo == n
                            || (repo.len() > n.len()
                                && repo.ends_with(n.as_str())
                                && repo.as_bytes()[repo.len() - n.len() - 1] == b'/')
                    })
            }
        }
    }

    /// A short description for command output (`github.com/o/n`, `all repositories`).
    pub fn describe(&self) -> String {
        match self {
            Scope::All => "all repositories".to_string(),
            Scope::Repos { ids, .. } | Scope::Named(ids) => ids.join(", "),
        }
    }
}

/// Whether `path` is `root` or lies under it (string prefix at a `/`).
pub fn is_under(path: &str, root: &str) -> bool {
    if path.is_empty() || root.is_empty() {
        return false;
    }
    let root = if root.len() > 1 {
        root.trim_end_matches('/')
    } else {
        root
    };
    path == root
        || (path.starts_with(root)
            && (root.ends_with('/') || path.as_bytes().get(root.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("https://github.com/Owner/Name.git", "github.com/owner/name")]
    #[case("https://user:tok3n@GitHub.com/owner/name", "github.com/owner/name")]
    #[case("https://github.com/owner/name/", "github.com/owner/name")]
    #[case("git@github.com:owner/name.git", "github.com/owner/name")]
    #[case("ssh://git@github.com:22/owner/name.git", "github.com/owner/name")]
    #[case("ssh://git@GITHUB.COM/owner/name", "github.com/owner/name")]
    #[case("git://example.org/Team/Proj.git", "example.org/Team/Proj")]
    #[case("http://[::1]:8080/a/b.git", "::1/a/b")]
    #[case("host.example:/srv/git/x.git", "host.example/srv/git/x")]
    #[case("gitlab.com:group/sub/proj", "gitlab.com/group/sub/proj")]
    #[case("file:///srv/x.git", "/srv/x.git")]
    #[case("/srv/proj", "/srv/proj")]
    #[case("/srv/proj/.git", "/srv/proj")]
    #[case("../up/proj", "/base/up/proj")]
    fn urls(#[case] url: &str, #[case] want: &str) {
        assert_eq!(
            normalize_url(url, Path::new("/base/repo")).as_deref(),
            Some(want)
        );
    }

    #[rstest]
    #[case("")]
    #[case("https://")]
    #[case("bad\u{1b}url")]
    fn bad_urls(#[case] url: &str) {
        assert_eq!(normalize_url(url, Path::new("/b")), None);
    }

    #[test]
    fn config_parsing() {
        let cfg = "[core]\n\turl = nope\n[remote \"upstream\"]\n\turl = https://x/up\n[Remote \"origin\"]\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n\tURL = \"git@github.com:o/n.git\" ; comment\n\turl = second\n";
        assert_eq!(origin_url(cfg).as_deref(), Some("git@github.com:o/n.git"));
        assert_eq!(
            origin_url("[remote.origin]\nurl=/srv/a # c\n").as_deref(),
            Some("/srv/a")
        );
        assert_eq!(origin_url("[remote \"Origin\"]\nurl = x\n"), None);
        assert_eq!(
            origin_url("[remote \"origin\"] url = y\n").as_deref(),
            Some("y")
        );
        assert_eq!(origin_url("garbage [[[\n=\n"), None);
    }

    fn git_init(dir: &Path, origin: Option<&str>) {
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let mut cfg = "[core]\n\tbare = false\n".to_string();
        if let Some(o) = origin {
            cfg.push_str(&format!("[remote \"origin\"]\n\turl = {o}\n"));
        }
        std::fs::write(dir.join(".git/config"), cfg).unwrap();
    }

    #[test]
    fn ids_from_remote_git_dir_and_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        // Two clones of one remote at different paths share an id.
        git_init(&t.join("c1"), Some("https://github.com/o/n.git"));
        git_init(&t.join("c2"), Some("git@github.com:o/n"));
        std::fs::create_dir_all(t.join("c1/src/deep")).unwrap();
        let a = locate(&t.join("c1/src/deep"));
        assert_eq!(
            (a.id.as_str(), a.source),
            ("github.com/o/n", Source::Remote)
        );
        assert_eq!(a.root, t.join("c1"));
        assert_eq!(locate(&t.join("c2")).id, "github.com/o/n");
        // No origin: the common git folder, shared by a linked worktree.
        let r = t.join("r");
        git_init(&r, None);
        std::fs::create_dir_all(r.join(".git/worktrees/wt")).unwrap();
        std::fs::write(r.join(".git/worktrees/wt/commondir"), "../..\n").unwrap();
        std::fs::write(r.join(".git/worktrees/wt/HEAD"), "ref: refs/heads/pool/A\n").unwrap();
        let wt = t.join("r-A");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", r.join(".git/worktrees/wt").display()),
        )
        .unwrap();
        let main = locate(&r);
        let linked = locate(&wt);
        assert_eq!(main.source, Source::GitDir);
        assert_eq!(main.id, r.to_string_lossy());
        assert_eq!(linked.id, main.id);
        assert_eq!(linked.root, wt);
        // Each knows the other's root, once its `.git` names the entry back
        // (the entry's `gitdir` is not there yet: the main one does not).
        let wt_s = wt.to_string_lossy().into_owned();
        assert!(!main.aliases.contains(&wt_s), "{:?}", main.aliases);
        std::fs::write(
            r.join(".git/worktrees/wt/gitdir"),
            format!("{}/.git\n", wt.display()),
        )
        .unwrap();
        let main = locate(&r);
        assert!(main.aliases.contains(&wt_s), "{:?}", main.aliases);
        assert_eq!(main.relative(&format!("{wt_s}/src/a.rs")), Some("src/a.rs"));
        assert_eq!(
            linked.relative(&format!("{}/src/a.rs", r.display())),
            Some("src/a.rs")
        );
        // A clone whose origin is the first repository's path shares its id.
        git_init(&t.join("c3"), Some(&r.to_string_lossy()));
        assert_eq!(locate(&t.join("c3")).id, main.id);
        // Outside git: the folder.
        std::fs::create_dir_all(t.join("plain/sub")).unwrap();
        let p = locate(&t.join("plain/sub"));
        assert_eq!(p.source, Source::Folder);
        assert!(p.id.ends_with("plain/sub"));
        // Names for pool init.
        assert_eq!(
            default_instance(&linked, NameFrom::Worktree).as_deref(),
            Some("r-A")
        );
        assert_eq!(
            default_instance(&linked, NameFrom::Branch).as_deref(),
            Some("pool-A")
        );
    }

    #[cfg(unix)]
    #[test]
    fn odd_files_are_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path().join("r");
        std::fs::create_dir_all(r.join(".git")).unwrap();
        let fifo = r.join(".git/config");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let t0 = std::time::Instant::now();
        let got = locate(&r);
        assert!(t0.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            got.source,
            Source::GitDir,
            "a FIFO config is skipped, not read"
        );
        assert_eq!(
            read_regular(&r.join(".git"), 10),
            None,
            "a folder is not read"
        );
    }

    #[test]
    fn scopes() {
        let repo = Repo {
            id: "github.com/o/x".into(),
            source: Source::Remote,
            root: "/w/x".into(),
            git_dir: None,
            aliases: Vec::new(),
            caseless: false,
        };
        let shared = [vec![
            "github.com/o/x".to_string(),
            "github.com/o/y".to_string(),
        ]];
        let s = Scope::of_repo(&repo, shared.iter().map(|v| v.as_slice()));
        assert!(s.admits("github.com/o/x", "/anywhere"));
        assert!(s.admits("github.com/o/y", ""));
        assert!(!s.admits("github.com/o/z", "/w/x"));
        assert!(
            s.admits("", "/w/x/src"),
            "a legacy entry naming this worktree"
        );
        assert!(!s.admits("", "/w/xy"));
        assert!(!s.admits("", ""), "a legacy entry naming no folder");
        let star = [vec!["*".to_string()]];
        assert_eq!(
            Scope::of_repo(&repo, star.iter().map(|v| v.as_slice())),
            Scope::All
        );
        let n = Scope::named("x", std::iter::empty());
        assert!(n.admits("github.com/o/x", ""));
        assert!(!n.admits("github.com/o/xx", ""));
        assert!(!n.admits("", "/w/x"));
        assert!(Scope::All.admits("", ""));
        assert_eq!(repo.relative("/w/x/src/a.rs"), Some("src/a.rs"));
        assert_eq!(repo.relative("/w/xy/a.rs"), None);
        assert_eq!(repo.relative("/w/x"), None);
    }

    #[test]
    fn names() {
        assert_eq!(sanitize_name("feature/x 1").as_deref(), Some("feature-x-1"));
        assert_eq!(sanitize_name(".hidden").as_deref(), Some("hidden"));
        assert_eq!(sanitize_name("///"), None);
        assert_eq!(sanitize_name(&"a".repeat(100)).map(|s| s.len()), Some(64));
    }
}
