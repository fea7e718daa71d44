//! Codex's `apply_patch` format: which files a patch adds, updates, deletes
//! or moves, so the edit guard can check each of them.
//!
//! A patch is `*** Begin Patch`, then one section per file headed by
//! `*** Add File: <path>`, `*** Delete File: <path>` or
//! `*** Update File: <path>` (optionally followed by `*** Move to: <path>`),
//! then `*** End Patch`. Hunk lines start with `+`, `-`, ` ` or `@@`, so a
//! line starting with `*** ` is always a header: the reader only looks at
//! those, and tolerates what Codex tolerates around them (indentation, a
//! heredoc wrapper such as `apply_patch <<'EOF'`). Pure: no I/O.

/// Longest path kept, in bytes; longer header lines are skipped.
const MAX_PATH: usize = 4096;

/// What a patch does to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    /// `*** Add File:`: a new file.
    Add,
    /// `*** Update File:`: an edit in place.
    Update,
    /// `*** Delete File:`: the file is removed.
    Delete,
    /// `*** Update File:` with `*** Move to:`: the file being moved away.
    MoveFrom,
    /// `*** Move to:`: where a moved file lands.
    MoveTo,
}

/// One file a patch touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFile {
    /// What happens to it.
    pub op: PatchOp,
    /// The path as written in the patch (relative to the session's cwd, or absolute).
    pub path: String,
}

/// The files of one patch, in the order the patch names them, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchFiles {
    /// Every file the patch names: the guard checks them all. Their number
    /// is bounded by the hook's input ([`super::hook::MAX_STDIN`]), each
    /// header taking at least 16 bytes.
    pub files: Vec<PatchFile>,
}

/// Reads the file headers of an `apply_patch` input, in one pass (a set
/// keeps each path once). Never fails: text with no headers names no files.
pub fn patch_files(patch: &str) -> PatchFiles {
    let mut out = PatchFiles::default();
    let mut seen = std::collections::HashSet::new();
    let mut push = |out: &mut PatchFiles, op: PatchOp, path: &'_ str| {
        let path = path.trim();
        if path.is_empty() || path.len() > MAX_PATH || path.contains('\0') {
            return;
        }
        if !seen.insert(path.to_string()) {
            return;
        }
        out.files.push(PatchFile {
            op,
            path: path.to_string(),
        });
    };
    for line in patch.lines() {
        let line = line.trim_start();
        let Some(header) = line.strip_prefix("*** ") else {
            continue;
        };
        if let Some(p) = header.strip_prefix("Add File:") {
            push(&mut out, PatchOp::Add, p);
        } else if let Some(p) = header.strip_prefix("Delete File:") {
            push(&mut out, PatchOp::Delete, p);
        } else if let Some(p) = header.strip_prefix("Update File:") {
            push(&mut out, PatchOp::Update, p);
        } else if let Some(p) = header.strip_prefix("Move to:") {
            // The section's source is being moved away, not edited in place.
            let src = p.trim();
            if let Some(last) = out.files.last_mut()
                && last.op == PatchOp::Update
                && last.path != src
            {
                last.op = PatchOp::MoveFrom;
            }
            push(&mut out, PatchOp::MoveTo, p);
        }
    }
    out
}

/// `path` made absolute against `cwd` and cleaned lexically (`.` and `..`
/// components, repeated slashes), so it compares equal to the absolute paths
/// Claude Code gives. A relative path with no `cwd` is returned cleaned.
pub fn absolute_path(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') || cwd.is_empty() {
        path.to_string()
    } else {
        format!("{}/{}", cwd.trim_end_matches('/'), path)
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    if absolute { format!("/{body}") } else { body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn names(p: &PatchFiles) -> Vec<(PatchOp, &str)> {
        p.files.iter().map(|f| (f.op, f.path.as_str())).collect()
    }

    #[test]
    fn every_kind_of_section() {
        let patch = "*** Begin Patch\n\
                     *** Add File: notes/new.txt\n+hello\n\
                     *** Update File: src/auth.rs\n@@ fn a()\n-old\n+new\n\
                     *** Delete File: old.txt\n\
                     *** Update File: src/a.rs\n*** Move to: src/b.rs\n@@\n-x\n+y\n\
                     *** End of File\n\
                     *** End Patch\n";
        assert_eq!(
            names(&patch_files(patch)),
            vec![
                (PatchOp::Add, "notes/new.txt"),
                (PatchOp::Update, "src/auth.rs"),
                (PatchOp::Delete, "old.txt"),
                (PatchOp::MoveFrom, "src/a.rs"),
                (PatchOp::MoveTo, "src/b.rs"),
            ]
        );
    }

    #[test]
    fn content_lines_are_never_headers() {
        // An added line that looks like a header starts with '+', so it is content.
        let patch = "*** Begin Patch\n*** Add File: a.md\n+*** Update File: not/a/file\n+ *** Delete File: nor/this\n*** End Patch";
        assert_eq!(names(&patch_files(patch)), vec![(PatchOp::Add, "a.md")]);
    }

    #[rstest]
    #[case::heredoc(
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: x.rs\n@@\n-a\n+b\n*** End Patch\nEOF\n"
    )]
    #[case::indented("  *** Begin Patch\n  *** Update File: x.rs\n  *** End Patch")]
    #[case::crlf("*** Begin Patch\r\n*** Update File: x.rs\r\n@@\r\n-a\r\n+b\r\n*** End Patch\r\n")]
    #[case::trailing_space("*** Begin Patch\n*** Update File:   x.rs   \n*** End Patch")]
    fn tolerated_shapes(#[case] patch: &str) {
        assert_eq!(names(&patch_files(patch)), vec![(PatchOp::Update, "x.rs")]);
    }

    #[test]
    fn a_file_named_twice_is_listed_once_and_every_file_is_listed() {
        let mut patch = String::from("*** Begin Patch\n*** Update File: a\n*** Update File: a\n");
        for i in 0..5000 {
            patch.push_str(&format!("*** Add File: f{i}\n+x\n"));
        }
        let p = patch_files(&patch);
        assert_eq!(p.files.len(), 5001);
        assert_eq!(p.files[0].path, "a");
        assert_eq!(p.files[5000].path, "f4999");
    }

    #[test]
    fn no_headers_no_files() {
        assert_eq!(patch_files(""), PatchFiles::default());
        assert_eq!(
            patch_files("just text\n*** \n***Add File: x"),
            PatchFiles::default()
        );
        assert_eq!(
            patch_files("*** Add File: \n*** Update File:\0x"),
            PatchFiles::default()
        );
    }

    #[rstest]
    #[case("/repo", "src/a.rs", "/repo/src/a.rs")]
    #[case("/repo/", "./src/../lib/a.rs", "/repo/lib/a.rs")]
    #[case("/repo", "/abs/x", "/abs/x")]
    #[case("/repo", "../other/x", "/other/x")]
    #[case("/", "../../x", "/x")]
    #[case("", "a/./b//c", "a/b/c")]
    #[case("", "../a", "../a")]
    fn absolute_paths(#[case] cwd: &str, #[case] path: &str, #[case] want: &str) {
        assert_eq!(absolute_path(cwd, path), want);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,400}") {
            let p = patch_files(&s);
            proptest::prop_assert!(p.files.len() <= s.len() / 12 + 1);
            let _ = absolute_path("/r", &s);
        }
    }
}
