//! One file, many spellings: how a path a tool names is brought to the one
//! form the guard compares, and how two paths are compared on a file system
//! that ignores case.
//!
//! - [`resolve_folder`] resolves the folders of an absolute path through
//!   symlinks (`/w/link/src/a.rs` becomes `/w/repo/src/a.rs`), so a path
//!   through a symlinked folder and the real one compare equal. The file
//!   itself may not exist yet: the deepest existing folder is resolved and
//!   the rest appended. The last component is kept as written (a symlinked
//!   file is matched by its own name, not its target's). Resolution only
//!   `stat`s and reads links (`realpath`), never opens a file, so a FIFO
//!   cannot stall it; at most [`MAX_RESOLVE`] ancestors are tried.
//! - [`caseless_default`] says whether paths compare ignoring case on this
//!   platform (macOS and Windows file systems do by default); [`fold`],
//!   [`same`] and [`strip_root`] compare that way when told to. Pure, so
//!   both ways are tested on any platform.

use std::borrow::Cow;
use std::path::Path;

/// Most ancestors of a path tried when looking for the deepest existing folder.
pub const MAX_RESOLVE: usize = 64;

/// Whether file names compare ignoring case here by default: on macOS
/// (APFS and HFS+ are case-insensitive unless formatted otherwise) and
/// Windows (NTFS). Linux compares exactly (a casefold folder is not
/// detected).
pub fn caseless_default() -> bool {
    cfg!(any(target_os = "macos", target_os = "windows"))
}

/// `path` (absolute, lexically clean) with its folders resolved through
/// symlinks: the deepest existing ancestor of its parent is canonicalised
/// and the components below it, and the file name, appended unchanged. A
/// relative path, the root, a path whose resolution is not valid UTF-8 or
/// no ancestor of which resolves is returned as given.
pub fn resolve_folder(path: &str) -> String {
    Resolver::default().resolve(path)
}

/// [`resolve_folder`] for many paths (every file of a patch): each folder
/// is resolved once.
#[derive(Debug, Default)]
pub struct Resolver {
    /// Folder as written → resolved (as written when it does not resolve).
    folders: std::collections::HashMap<String, String>,
}

impl Resolver {
    /// `path` with its folders resolved, as [`resolve_folder`] says.
    pub fn resolve(&mut self, path: &str) -> String {
        if !path.starts_with('/') || path.contains('\0') {
            return path.to_string();
        }
        let Some((parent, name)) = path.rsplit_once('/') else {
            return path.to_string();
        };
        if name.is_empty() || name == "." || name == ".." {
            return path.to_string();
        }
        let parent = if parent.is_empty() { "/" } else { parent };
        let folder = match self.folders.get(parent) {
            Some(f) => f.clone(),
            None => {
                let f = resolve_dir(parent).unwrap_or_else(|| parent.to_string());
                self.folders.insert(parent.to_string(), f.clone());
                f
            }
        };
        if folder == "/" {
            format!("/{name}")
        } else {
            format!("{folder}/{name}")
        }
    }
}

/// The folder `dir` resolved through symlinks: its deepest existing
/// ancestor canonicalised, the rest appended; `None` when nothing resolves
/// or the result is not UTF-8.
fn resolve_dir(dir: &str) -> Option<String> {
    let mut base = Path::new(dir);
    let mut rest = Vec::new();
    for _ in 0..MAX_RESOLVE {
        // `canonicalize` is realpath(3): lstat and readlink per component,
        // with the kernel's bound on symlink loops; nothing is opened.
        if let Ok(real) = std::fs::canonicalize(base) {
            let mut out = real;
            for c in rest.iter().rev() {
                out.push(c);
            }
            return out.into_os_string().into_string().ok();
        }
        let (Some(up), Some(n)) = (base.parent(), base.file_name()) else {
            break;
        };
        rest.push(n);
        base = up;
    }
    None
}

/// `s` as compared: lowercased character by character when `caseless`,
/// unchanged otherwise.
pub fn fold(s: &str, caseless: bool) -> Cow<'_, str> {
    if caseless && s.chars().any(char::is_uppercase) {
        Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether `a` and `b` name the same path: equal, or equal ignoring case
/// when `caseless`.
pub fn same(a: &str, b: &str, caseless: bool) -> bool {
    a == b || (caseless && fold(a, true) == fold(b, true))
}

/// What follows `root` and a `/` in `path` (`src/a.rs` for `/w/r/src/a.rs`
/// under `/w/r`), comparing the root ignoring case when `caseless`; `None`
/// when `path` does not lie under `root`, or is `root` itself.
pub fn strip_root<'p>(path: &'p str, root: &str, caseless: bool) -> Option<&'p str> {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return None;
    }
    let rest = if caseless {
        let mut chars = path.char_indices();
        for r in root.chars() {
            let (_, c) = chars.next()?;
            if c != r && !c.to_lowercase().eq(r.to_lowercase()) {
                return None;
            }
        }
        let at = chars.next().map_or(path.len(), |(i, _)| i);
        &path[at..]
    } else {
        path.strip_prefix(root)?
    };
    let rest = rest.strip_prefix('/')?;
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/w/r/src/a.rs", "/w/r", false, Some("src/a.rs"))]
    #[case("/w/r/src/a.rs", "/w/r/", false, Some("src/a.rs"))]
    #[case("/w/R/SRC/A.RS", "/w/r", false, None)]
    #[case("/w/R/SRC/A.RS", "/w/r", true, Some("SRC/A.RS"))]
    #[case("/W/Ä/x", "/w/ä", true, Some("x"))]
    #[case("/w/rx/a", "/w/r", true, None)]
    #[case("/w/r", "/w/r", true, None)]
    #[case("/w", "/w/r", true, None)]
    #[case("/w/r/a", "", true, None)]
    fn roots(
        #[case] path: &str,
        #[case] root: &str,
        #[case] caseless: bool,
        #[case] want: Option<&str>,
    ) {
        assert_eq!(strip_root(path, root, caseless), want);
    }

    #[test]
    fn folding_only_when_caseless() {
        assert!(same("SRC/AUTH.RS", "src/auth.rs", true));
        assert!(!same("SRC/AUTH.RS", "src/auth.rs", false));
        assert!(same("src/auth.rs", "src/auth.rs", false));
        assert_eq!(fold("Src/Ÿ", true), "src/ÿ");
        assert_eq!(fold("Src", false), "Src");
        assert!(matches!(fold("src", true), Cow::Borrowed(_)));
    }

    #[cfg(unix)]
    #[test]
    fn folders_resolve_through_symlinks_and_missing_tails_are_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(real.join("repo/src")).unwrap();
        std::os::unix::fs::symlink(real.join("repo"), real.join("link")).unwrap();
        let r = |p: &str| resolve_folder(&format!("{}/{p}", real.display()));
        let want = |p: &str| format!("{}/{p}", real.display());
        assert_eq!(r("link/src/auth.rs"), want("repo/src/auth.rs"));
        assert_eq!(r("link/src/new/deep/x.rs"), want("repo/src/new/deep/x.rs"));
        assert_eq!(r("repo/src/auth.rs"), want("repo/src/auth.rs"));
        // The file's own name is kept: a symlinked file is not followed.
        std::os::unix::fs::symlink(real.join("repo/src/x"), real.join("repo/src/l")).unwrap();
        assert_eq!(r("link/src/l"), want("repo/src/l"));
        assert_eq!(resolve_folder("rel/a"), "rel/a");
        assert_eq!(resolve_folder("/"), "/");
        assert_eq!(resolve_folder("/no/such/place/x"), "/no/such/place/x");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_on_the_way_does_not_stall() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        let fifo = real.join("f");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let t0 = std::time::Instant::now();
        let got = resolve_folder(&format!("{}/f/x", real.display()));
        assert!(t0.elapsed() < std::time::Duration::from_secs(1));
        assert!(got.ends_with("/f/x"));
        assert_eq!(
            resolve_folder(&format!("{}/f", real.display())),
            format!("{}/f", real.display())
        );
    }
}
