//! What a `git commit` is about to take, read from the repository's own
//! files without running git: the index (`<git dir>/index`, versions 2, 3
//! and 4) gives each tracked path with the size and modification time its
//! file had when it was last staged.
//!
//! The index does not say which entries differ from HEAD (that needs the
//! commit's tree, in compressed objects and packs), so "staged" is taken as
//! "staged since HEAD last moved": an entry whose recorded modification time
//! is newer than HEAD's reflog (its file's modification time, to the
//! nanosecond; the caller decides, see `cmd::shell_guard`). That covers the usual
//! edit → `git add` → `git commit`; a file staged with an old modification
//! time (a copy that kept its time, `touch -d`) is missed, and one staged
//! unchanged is a false positive (one refusal too many). `commit -a` also
//! takes every tracked file whose size or modification time differs from
//! its entry, or that is gone.
//!
//! Bounds: an index over [`MAX_INDEX`] bytes is not read (nothing is
//! known), at most [`MAX_ENTRIES`] entries are parsed and at most
//! [`MAX_STATS`] files are examined for `commit -a`.

use std::path::Path;

/// Largest index read (64 MiB; the Linux kernel's is about 10 MiB).
pub const MAX_INDEX: u64 = 64 * 1024 * 1024;
/// Most entries parsed.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most worktree files examined for `commit -a`.
pub const MAX_STATS: usize = 50_000;

/// One index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path, relative to the worktree root, `/`-separated.
    pub path: String,
    /// Modification time recorded when staged: seconds.
    pub mtime: u32,
    /// And nanoseconds.
    pub mtime_ns: u32,
    /// Size recorded when staged (truncated to 32 bits).
    pub size: u32,
}

/// Parses an index file's bytes; `None` when it is not an index we read.
pub fn parse(bytes: &[u8]) -> Option<Vec<Entry>> {
    // SHA-1 repositories first, then SHA-256 ones.
    parse_with(bytes, 20).or_else(|| parse_with(bytes, 32))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn parse_with(b: &[u8], hash: usize) -> Option<Vec<Entry>> {
    if b.get(..4)? != b"DIRC" {
        return None;
    }
    let version = be32(b, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = usize::try_from(be32(b, 8)?).ok()?;
    let mut out = Vec::with_capacity(count.min(MAX_ENTRIES).min(b.len() / 62));
    let mut at = 12usize;
    let mut prev = String::new();
    for _ in 0..count.min(MAX_ENTRIES) {
        let start = at;
        let mtime = be32(b, at + 8)?;
        let mtime_ns = be32(b, at + 12)?;
        let size = be32(b, at + 36)?;
        let flags_at = at + 40 + hash;
        let flags = u16::from_be_bytes([*b.get(flags_at)?, *b.get(flags_at + 1)?]);
        at = flags_at + 2;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return None;
            }
            at += 2;
        }
        let path = if version == 4 {
            // Prefix compression: strip N bytes of the previous path, then a
            // NUL-terminated suffix.
            let (strip, used) = varint(b.get(at..)?)?;
            at += used;
            let rest = b.get(at..)?;
            let nul = memchr::memchr(0, rest)?;
            let keep = prev.len().checked_sub(usize::try_from(strip).ok()?)?;
            let mut p = prev.get(..keep)?.to_string();
            p.push_str(std::str::from_utf8(&rest[..nul]).ok()?);
            at += nul + 1;
            p
        } else {
            let rest = b.get(at..)?;
            let nul = memchr::memchr(0, rest)?;
            let p = std::str::from_utf8(&rest[..nul]).ok()?.to_string();
            // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
            let len = at - start + nul;
            at = start + ((len + 8) & !7);
            p
        };
        if at > b.len() || path.is_empty() {
            return None;
        }
        prev.clone_from(&path);
        out.push(Entry {
            path,
            mtime,
            mtime_ns,
            size,
        });
    }
    Some(out)
}

/// Git's offset varint (index v4 path prefixes).
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    let mut c = *b.first()?;
    let mut val = u64::from(c & 127);
    while c & 128 != 0 {
        i += 1;
        if i > 9 {
            return None;
        }
        c = *b.get(i)?;
        val = ((val + 1) << 7) + u64::from(c & 127);
    }
    Some((val, i + 1))
}

/// Reads and parses `<git_dir>/index` (at most [`MAX_INDEX`] bytes, a
/// regular file only); `None` when there is none or it cannot be read.
pub fn read(git_dir: &Path) -> Option<Vec<Entry>> {
    let bytes = crate::store::fsio::read_regular(&git_dir.join("index"), MAX_INDEX).ok()?;
    parse(&bytes)
}

/// Whether the file at `abs` differs from what its entry recorded (or is gone).
pub fn modified(e: &Entry, abs: &Path) -> bool {
    let Ok(m) = std::fs::symlink_metadata(abs) else {
        return true;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let secs = u32::try_from(m.mtime()).unwrap_or(u32::MAX);
        let ns = u32::try_from(m.mtime_nsec()).unwrap_or(0);
        // The size is stored truncated to 32 bits.
        #[allow(clippy::cast_possible_truncation)]
        let size = m.size() as u32;
        secs != e.mtime || (e.mtime_ns != 0 && ns != e.mtime_ns) || size != e.size
    }
    #[cfg(not(unix))]
    {
        #[allow(clippy::cast_possible_truncation)]
        let size = m.len() as u32;
        size != e.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a v2 index with the given (path, mtime, size).
    fn v2(entries: &[(&str, u32, u32)]) -> Vec<u8> {
        let mut b = b"DIRC".to_vec();
        b.extend(2u32.to_be_bytes());
        b.extend((entries.len() as u32).to_be_bytes());
        for (p, mtime, size) in entries {
            let start = b.len();
            b.extend([0u8; 8]);
            b.extend(mtime.to_be_bytes());
            b.extend(0u32.to_be_bytes());
            b.extend([0u8; 20]);
            b.extend(size.to_be_bytes());
            b.extend([7u8; 20]);
            b.extend((p.len() as u16).to_be_bytes());
            b.extend(p.as_bytes());
            let len = b.len() - start;
            let padded = (len + 8) & !7;
            b.resize(start + padded, 0);
        }
        b.extend([0u8; 20]);
        b
    }

    #[test]
    fn parses_v2_and_rejects_garbage() {
        let b = v2(&[("a.rs", 5, 10), ("src/auth.rs", 6, 11)]);
        let got = parse(&b).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].path, "src/auth.rs");
        assert_eq!((got[1].mtime, got[1].size), (6, 11));
        assert_eq!(parse(b"DIRX"), None);
        assert_eq!(parse(&b[..b.len() - 30]), None);
    }

    #[test]
    fn reads_a_real_index_of_each_version() {
        let Ok(out) = std::process::Command::new("git").arg("--version").output() else {
            return;
        };
        assert!(out.status.success());
        for version in ["2", "3", "4"] {
            let tmp = tempfile::tempdir().unwrap();
            let git = |args: &[&str]| {
                let s = std::process::Command::new("git")
                    .args(args)
                    .current_dir(tmp.path())
                    .output()
                    .unwrap();
                assert!(s.status.success(), "{args:?}: {s:?}");
            };
            git(&["init", "-q"]);
            std::fs::create_dir_all(tmp.path().join("src/deep")).unwrap();
            for f in ["src/auth.rs", "src/deep/x.rs", "src/deep/y.rs", "z.txt"] {
                std::fs::write(tmp.path().join(f), f).unwrap();
            }
            git(&["add", "."]);
            git(&["update-index", "--index-version", version]);
            if version == "3" {
                git(&["update-index", "--skip-worktree", "z.txt"]);
            }
            let got = read(&tmp.path().join(".git")).unwrap();
            let paths: Vec<&str> = got.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(
                paths,
                ["src/auth.rs", "src/deep/x.rs", "src/deep/y.rs", "z.txt"],
                "v{version}"
            );
            assert!(!modified(&got[0], &tmp.path().join("src/auth.rs")));
            std::fs::write(tmp.path().join("src/auth.rs"), "changed!").unwrap();
            assert!(modified(&got[0], &tmp.path().join("src/auth.rs")));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut with_header = b"DIRC\0\0\0\x04\0\0\0\x05".to_vec();
            with_header.extend(&b);
            let _ = parse(&with_header);
            let _ = parse(&b);
        }
    }
}
