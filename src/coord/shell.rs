//! What a shell command line is about to change: the files it writes
//! (redirections, `tee`, `sed -i`, `cp`/`mv`/`rm`, formatters, `git checkout
//! -- FILE`…) and the git operations that change more than files (commit,
//! push, branch switches and other worktree-wide rewrites), for the guard to
//! check before a Bash call runs.
//!
//! The command line is parsed by `brush-parser` (the parser of the brush
//! shell: quoting, `&&` `||` `;` `|` `&`, subshells, braces, `if`/`for`/
//! `while`/`case`, functions, here-documents, command substitutions), and the
//! AST is walked here. Pure: no file is read; paths come back as written,
//! with the folder they are relative to (from `cd`/`pushd` and `git -C`).
//!
//! Bounds: at most [`MAX_COMMAND`] bytes are parsed, nesting deeper than
//! [`MAX_DEPTH`] is not parsed at all (nothing is detected: the parser is
//! recursive), command substitutions are followed [`MAX_SUBST_DEPTH`] deep,
//! and at most [`MAX_TARGETS`] write targets and [`MAX_GIT`] git operations
//! are kept. A word that needs expansion (`$VAR`, `$(…)`, globs are kept as
//! written) cannot name a known file and is skipped. What is not detected at
//! all (a script or program that writes, `make`, `python -c`…) is listed in
//! docs/coordination.md.

use brush_parser::ast;
use brush_parser::word::{self, WordPiece, WordPieceWithSource};
use brush_parser::{ParserOptions, SourceInfo};

/// Most bytes of a command line parsed (64 KiB); a longer one is cut at a
/// line boundary before it.
pub const MAX_COMMAND: usize = 64 * 1024;
/// Deepest nesting of brackets, braces and quotes-in-substitutions parsed.
pub const MAX_DEPTH: usize = 100;
/// How deep command substitutions are followed.
pub const MAX_SUBST_DEPTH: usize = 4;
/// Most write targets kept from one command line.
pub const MAX_TARGETS: usize = 256;
/// Most git operations kept from one command line.
pub const MAX_GIT: usize = 16;

/// A file (or folder) a command writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The folder the path is relative to, itself relative to the shell's
    /// starting folder (`cd`, `git -C`); `None` for that folder.
    pub dir: Option<String>,
    /// The path as written (unquoted).
    pub path: String,
    /// Everything under the path may change (`rm -r DIR`, `git checkout .`).
    pub tree: bool,
    /// What writes it (`>`, `sed -i`, `git restore`…), for messages.
    pub how: String,
}

/// A git operation that changes more than the files it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitKind {
    /// `git commit`: which files it takes.
    Commit {
        /// `-a` / `--all`: every tracked file modified in the worktree.
        all: bool,
        /// Pathspecs named on the command line (`commit FILES`, `-o`, `-i`).
        paths: Vec<String>,
        /// `-i` / `--include`: the named files on top of what is staged.
        include: bool,
        /// `--amend`.
        amend: bool,
    },
    /// `git push`.
    Push {
        /// `--force`, `-f`, `--force-with-lease`, `--force-if-includes` or a `+refspec`.
        force: bool,
        /// The branches it names (the destination of each refspec);
        /// empty: the current branch.
        branches: Vec<String>,
        /// `--all` / `--mirror`: every branch.
        every: bool,
    },
    /// A command that rewrites the worktree or moves its HEAD: `checkout`
    /// (of a branch), `switch`, `reset --hard`, `stash`, `rebase`, `clean -f`,
    /// `merge`, `pull`.
    Worktree {
        /// The command as shown (`git checkout`, `git reset --hard`).
        what: String,
    },
}

/// A git operation and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitAct {
    /// The folder, relative to the shell's starting folder.
    pub dir: Option<String>,
    /// What it does.
    pub kind: GitKind,
}

/// What a command line is about to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Files and folders written.
    pub writes: Vec<Write>,
    /// Git operations.
    pub git: Vec<GitAct>,
    /// The command did not parse (or was too deep): nothing was detected.
    pub unparsed: bool,
}

/// Programs (and words) whose presence makes a command worth parsing: the
/// cheap check made before anything else.
const WRITERS: &[&str] = &[
    ">",
    "tee",
    "sed",
    "perl",
    "cp",
    "mv",
    "rm",
    "touch",
    "truncate",
    "ln",
    "install",
    "dd",
    "unlink",
    "shred",
    "git",
    "fmt",
    "prettier",
    "black",
    "ruff",
    "isort",
    "eslint",
    "patch",
    "clang-format",
    "autopep8",
    "yapf",
    "standard",
];

/// Whether `command` could write a file or run a git operation we check:
/// a redirection or the name of a writer appears in it. False positives are
/// fine (they cost a parse); a `false` means the command is not looked at.
pub fn might_write(command: &str) -> bool {
    let b = &command.as_bytes()[..command.len().min(MAX_COMMAND)];
    WRITERS
        .iter()
        .any(|w| memchr::memmem::find(b, w.as_bytes()).is_some())
}

/// The files and git operations of `command`.
pub fn analyse(command: &str) -> Analysis {
    let mut end = command.len().min(MAX_COMMAND);
    while !command.is_char_boundary(end) {
        end -= 1;
    }
    let mut w = Walker::default();
    if !w.parse_and_walk(&command[..end], &None, 0) {
        w.out.unparsed = true;
    }
    w.out
}

/// The deepest nesting of `(`, `{`, `[` and backquotes in `s` (counted
/// without regard to quoting: an over-estimate is safe).
fn nesting(s: &str) -> usize {
    let (mut depth, mut max, mut tick) = (0usize, 0usize, false);
    for b in s.bytes() {
        match b {
            b'(' | b'{' | b'[' => {
                depth += 1;
                max = max.max(depth + usize::from(tick));
            }
            b')' | b'}' | b']' => depth = depth.saturating_sub(1),
            b'`' => tick = !tick,
            _ => {}
        }
    }
    max
}

#[derive(Default)]
struct Walker {
    out: Analysis,
}

/// A word once quotes are removed; `None` when it needs expansion.
fn literal(w: &ast::Word, opts: &ParserOptions, substs: &mut Vec<String>) -> Option<String> {
    let pieces = word::parse(&w.value, opts).ok()?;
    let mut s = String::new();
    let ok = flatten(&pieces, &mut s, substs);
    ok.then_some(s)
}

fn flatten(pieces: &[WordPieceWithSource], s: &mut String, substs: &mut Vec<String>) -> bool {
    let mut ok = true;
    for p in pieces {
        match &p.piece {
            WordPiece::Text(t) | WordPiece::SingleQuotedText(t) | WordPiece::AnsiCQuotedText(t) => {
                s.push_str(t)
            }
            WordPiece::EscapeSequence(t) => s.push_str(t.strip_prefix('\\').unwrap_or(t)),
            WordPiece::TildePrefix(u) => {
                s.push('~');
                s.push_str(u);
            }
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                ok &= flatten(inner, s, substs);
            }
            WordPiece::CommandSubstitution(c) | WordPiece::BackquotedCommandSubstitution(c) => {
                substs.push(c.clone());
                ok = false;
            }
            WordPiece::ParameterExpansion(_) | WordPiece::ArithmeticExpression(_) => ok = false,
        }
    }
    ok
}

/// Joins a `cd` target onto the current folder (relative to the start).
fn join_dir(base: &Option<String>, next: &str) -> Option<String> {
    if next.starts_with('/') || next.starts_with('~') {
        return Some(next.to_string());
    }
    Some(match base {
        Some(b) => format!("{}/{next}", b.trim_end_matches('/')),
        None => next.to_string(),
    })
}

impl Walker {
    fn full(&self) -> bool {
        self.out.writes.len() >= MAX_TARGETS
    }

    /// Parses `src` and walks it; `false` when it did not parse.
    fn parse_and_walk(&mut self, src: &str, dir: &Option<String>, depth: usize) -> bool {
        if nesting(src) > MAX_DEPTH {
            return false;
        }
        let opts = ParserOptions::default();
        // brush-parser 0.3 can panic on some malformed input (an unwrap in its
        // tokenizer, found by the proptest below): such a line counts as not
        // parsed, like a syntax error, instead of failing the whole hook.
        let parsed = std::panic::catch_unwind(|| {
            let mut parser =
                brush_parser::Parser::new(src.as_bytes(), &opts, &SourceInfo::default());
            parser.parse_program()
        });
        let Ok(Ok(program)) = parsed else {
            return false;
        };
        let mut dir = dir.clone();
        for cc in &program.complete_commands {
            self.list(cc, &mut dir, &opts, depth);
        }
        true
    }

    fn list(
        &mut self,
        l: &ast::CompoundList,
        dir: &mut Option<String>,
        opts: &ParserOptions,
        depth: usize,
    ) {
        for ast::CompoundListItem(ao, _) in &l.0 {
            self.pipeline(&ao.first, dir, opts, depth);
            for next in &ao.additional {
                let (ast::AndOr::And(p) | ast::AndOr::Or(p)) = next;
                self.pipeline(p, dir, opts, depth);
            }
        }
    }

    fn pipeline(
        &mut self,
        p: &ast::Pipeline,
        dir: &mut Option<String>,
        opts: &ParserOptions,
        depth: usize,
    ) {
        // Each command of a multi-command pipeline runs in a subshell: a `cd`
        // there does not last.
        let alone = p.seq.len() == 1;
        for c in &p.seq {
            if alone {
                self.command(c, dir, opts, depth);
            } else {
                let mut d = dir.clone();
                self.command(c, &mut d, opts, depth);
            }
        }
    }

    fn redirects(
        &mut self,
        list: &[ast::IoRedirect],
        dir: &Option<String>,
        opts: &ParserOptions,
        depth: usize,
    ) {
        for r in list {
            self.redirect(r, dir, opts, depth);
        }
    }

    fn redirect(
        &mut self,
        r: &ast::IoRedirect,
        dir: &Option<String>,
        opts: &ParserOptions,
        depth: usize,
    ) {
        let (word, how) = match r {
            ast::IoRedirect::File(_, kind, ast::IoFileRedirectTarget::Filename(w)) => {
                let how = match kind {
                    ast::IoFileRedirectKind::Write | ast::IoFileRedirectKind::Clobber => ">",
                    ast::IoFileRedirectKind::Append => ">>",
                    ast::IoFileRedirectKind::ReadAndWrite => "<>",
                    _ => return,
                };
                (w, how)
            }
            ast::IoRedirect::File(_, _, ast::IoFileRedirectTarget::ProcessSubstitution(_, s)) => {
                let mut d = dir.clone();
                self.list(&s.list, &mut d, opts, depth);
                return;
            }
            ast::IoRedirect::OutputAndError(w, append) => (w, if *append { "&>>" } else { "&>" }),
            _ => return,
        };
        let mut substs = Vec::new();
        if let Some(path) = literal(word, opts, &mut substs)
            && path != "/dev/null"
            && !path.starts_with("/dev/fd/")
            && !path.starts_with("/proc/")
        {
            self.write(dir, &path, false, how);
        }
        self.substitutions(&substs, dir, depth);
    }

    fn substitutions(&mut self, substs: &[String], dir: &Option<String>, depth: usize) {
        if depth >= MAX_SUBST_DEPTH {
            return;
        }
        for s in substs {
            // Unparsable substitutions hide nothing bash would run either.
            self.parse_and_walk(s, dir, depth + 1);
        }
    }

    fn write(&mut self, dir: &Option<String>, path: &str, tree: bool, how: &str) {
        if path.is_empty() || path == "-" || self.full() {
            return;
        }
        let w = Write {
            dir: dir.clone(),
            path: path.to_string(),
            tree,
            how: how.to_string(),
        };
        if !self.out.writes.contains(&w) {
            self.out.writes.push(w);
        }
    }

    fn git(&mut self, dir: &Option<String>, kind: GitKind) {
        if self.out.git.len() < MAX_GIT {
            self.out.git.push(GitAct {
                dir: dir.clone(),
                kind,
            });
        }
    }

    fn command(
        &mut self,
        c: &ast::Command,
        dir: &mut Option<String>,
        opts: &ParserOptions,
        depth: usize,
    ) {
        match c {
            ast::Command::Simple(s) => self.simple(s, dir, opts, depth),
            ast::Command::Compound(cc, redirs) => {
                if let Some(r) = redirs {
                    self.redirects(&r.0, dir, opts, depth);
                }
                self.compound(cc, dir, opts, depth);
            }
            ast::Command::Function(f) => {
                // The body runs only when called; it is still what the command
                // line is about to do, so it counts.
                let mut d = dir.clone();
                if let Some(r) = &f.body.1 {
                    self.redirects(&r.0, &d, opts, depth);
                }
                self.compound(&f.body.0, &mut d, opts, depth);
            }
            ast::Command::ExtendedTest(_) => {}
        }
    }

    fn compound(
        &mut self,
        c: &ast::CompoundCommand,
        dir: &mut Option<String>,
        opts: &ParserOptions,
        depth: usize,
    ) {
        match c {
            ast::CompoundCommand::BraceGroup(b) => self.list(&b.list, dir, opts, depth),
            ast::CompoundCommand::Subshell(s) => {
                let mut d = dir.clone();
                self.list(&s.list, &mut d, opts, depth);
            }
            ast::CompoundCommand::ForClause(f) => self.list(&f.body.list, dir, opts, depth),
            ast::CompoundCommand::ArithmeticForClause(f) => {
                self.list(&f.body.list, dir, opts, depth)
            }
            ast::CompoundCommand::CaseClause(cc) => {
                for item in &cc.cases {
                    if let Some(l) = &item.cmd {
                        self.list(l, dir, opts, depth);
                    }
                }
            }
            ast::CompoundCommand::IfClause(i) => {
                self.list(&i.condition, dir, opts, depth);
                self.list(&i.then, dir, opts, depth);
                for e in i.elses.iter().flatten() {
                    if let Some(cond) = &e.condition {
                        self.list(cond, dir, opts, depth);
                    }
                    self.list(&e.body, dir, opts, depth);
                }
            }
            ast::CompoundCommand::WhileClause(w) | ast::CompoundCommand::UntilClause(w) => {
                self.list(&w.0, dir, opts, depth);
                self.list(&w.1.list, dir, opts, depth);
            }
            ast::CompoundCommand::Arithmetic(_) => {}
        }
    }

    fn simple(
        &mut self,
        s: &ast::SimpleCommand,
        dir: &mut Option<String>,
        opts: &ParserOptions,
        depth: usize,
    ) {
        // Words in order (`None` where a word needs expansion), redirections
        // wherever they stand.
        let mut words: Vec<Option<String>> = Vec::new();
        let mut substs = Vec::new();
        let mut redirs = Vec::new();
        let mut items: Vec<&ast::CommandPrefixOrSuffixItem> = Vec::new();
        if let Some(p) = &s.prefix {
            items.extend(p.0.iter());
        }
        let name = s.word_or_name.as_ref();
        let mut push_word = |w: &ast::Word, words: &mut Vec<Option<String>>| {
            words.push(literal(w, opts, &mut substs));
        };
        for it in &items {
            match it {
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirs.push(r),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => {
                    let mut d = dir.clone();
                    self.list(&sub.list, &mut d, opts, depth);
                }
                // Assignments before the command are not arguments.
                _ => {}
            }
        }
        if let Some(n) = name {
            push_word(n, &mut words);
        }
        if let Some(sfx) = &s.suffix {
            for it in &sfx.0 {
                match it {
                    ast::CommandPrefixOrSuffixItem::IoRedirect(r) => redirs.push(r),
                    ast::CommandPrefixOrSuffixItem::Word(w) => push_word(w, &mut words),
                    ast::CommandPrefixOrSuffixItem::AssignmentWord(_, w) => {
                        push_word(w, &mut words)
                    }
                    ast::CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => {
                        let mut d = dir.clone();
                        self.list(&sub.list, &mut d, opts, depth);
                        words.push(None);
                    }
                }
            }
        }
        for r in redirs {
            self.redirect(r, dir, opts, depth);
        }
        self.substitutions(&substs, dir, depth);
        self.program(&words, dir);
    }

    /// The writes and git operations of one simple command's words.
    fn program(&mut self, words: &[Option<String>], dir: &mut Option<String>) {
        let mut i = 0;
        // Wrappers that run the rest as a command.
        while let Some(Some(w)) = words.get(i) {
            let name = w.rsplit('/').next().unwrap_or(w);
            match name {
                "command" | "builtin" | "exec" | "nohup" | "time" | "nice" | "stdbuf" => i += 1,
                "sudo" | "doas" | "env" => {
                    i += 1;
                    while let Some(Some(a)) = words.get(i) {
                        if a.starts_with('-') || a.contains('=') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
                "timeout" => {
                    i += 1;
                    while let Some(Some(a)) = words.get(i) {
                        i += 1;
                        if !a.starts_with('-') {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        let Some(Some(prog)) = words.get(i) else {
            return;
        };
        let name = prog.rsplit('/').next().unwrap_or(prog).to_string();
        let args = &words[i + 1..];
        // Literal arguments that are not options (after `--`, everything is).
        let operands = |args: &[Option<String>], with_value: &[&str]| -> Vec<String> {
            let mut out = Vec::new();
            let mut it = args.iter();
            let mut ended = false;
            while let Some(a) = it.next() {
                let Some(a) = a else { continue };
                if ended {
                    out.push(a.clone());
                } else if a == "--" {
                    ended = true;
                } else if a.starts_with('-') && a.len() > 1 {
                    if with_value.contains(&a.as_str()) {
                        it.next();
                    }
                } else {
                    out.push(a.clone());
                }
            }
            out
        };
        let has = |f: &[&str]| args.iter().flatten().any(|a| f.contains(&a.as_str()));
        let d = dir.clone();
        match name.as_str() {
            "cd" | "pushd" => {
                let target = args.iter().flatten().find(|a| !a.starts_with('-'));
                *dir = match (args.first(), target) {
                    // `cd $X`: the folder is unknown from here on.
                    (Some(None), _) => Some("\u{0}unknown".to_string()),
                    (_, Some(t)) => join_dir(dir, t),
                    (_, None) => Some("~".to_string()),
                };
            }
            "tee" => {
                for f in operands(args, &[]) {
                    self.write(&d, &f, false, "tee");
                }
            }
            "sed" => {
                let in_place = args.iter().flatten().any(|a| {
                    a.starts_with("-i") || a.starts_with("--in-place") || short_flag(a, 'i')
                });
                if in_place {
                    let script_given = has(&["-e", "-f", "--expression", "--file"])
                        || args
                            .iter()
                            .flatten()
                            .any(|a| a.starts_with("--expression=") || a.starts_with("--file="));
                    let ops = operands(args, &["-e", "-f", "--expression", "--file", "-l"]);
                    let files = if script_given {
                        &ops[..]
                    } else {
                        ops.get(1..).unwrap_or(&[])
                    };
                    for f in files {
                        self.write(&d, f, false, "sed -i");
                    }
                }
            }
            "perl" => {
                let in_place = args.iter().flatten().any(|a| {
                    a.starts_with('-')
                        && !a.starts_with("--")
                        && a[1..].split('.').next().is_some_and(|o| o.contains('i'))
                });
                if in_place {
                    let ops = operands(args, &["-e", "-E", "-M", "-I"]);
                    // Without a separate `-e SCRIPT`, the first operand is the
                    // script (`-pie 's/a/b/'` or `-pi 's/a/b/'`).
                    let skip = usize::from(!has(&["-e", "-E"]));
                    for f in ops.iter().skip(skip) {
                        self.write(&d, f, false, "perl -i");
                    }
                }
            }
            "cp" | "install" | "ln" => {
                let tdir = target_dir_option(args);
                let ops = operands(
                    args,
                    &[
                        "-t",
                        "--target-directory",
                        "-S",
                        "--suffix",
                        "-m",
                        "--mode",
                        "-o",
                        "--owner",
                        "-g",
                        "--group",
                    ],
                );
                self.copy_like(&d, &name, &ops, tdir.as_deref(), false);
            }
            "mv" => {
                let tdir = target_dir_option(args);
                let ops = operands(args, &["-t", "--target-directory", "-S", "--suffix"]);
                self.copy_like(&d, "mv", &ops, tdir.as_deref(), true);
            }
            "rm" | "unlink" | "shred" => {
                let tree = args.iter().flatten().any(|a| {
                    a == "--recursive"
                        || (a.starts_with('-')
                            && !a.starts_with("--")
                            && (a.contains('r') || a.contains('R')))
                });
                for f in operands(args, &[]) {
                    self.write(&d, &f, tree, &name);
                }
            }
            "touch" => {
                for f in operands(args, &["-r", "-d", "-t", "--reference", "--date"]) {
                    self.write(&d, &f, false, "touch");
                }
            }
            "truncate" => {
                for f in operands(args, &["-s", "-r", "--size", "--reference"]) {
                    self.write(&d, &f, false, "truncate");
                }
            }
            "dd" => {
                for a in args.iter().flatten() {
                    if let Some(f) = a.strip_prefix("of=") {
                        self.write(&d, f, false, "dd");
                    }
                }
            }
            "patch" => {
                // `patch FILE [PATCHFILE]`, `-o OUT`; with neither the files
                // are named inside the patch (not detected).
                let ops = operands(
                    args,
                    &[
                        "-i",
                        "--input",
                        "-p",
                        "-d",
                        "--directory",
                        "-F",
                        "-B",
                        "-r",
                        "-z",
                        "-D",
                    ],
                );
                if let Some(f) = ops.first() {
                    self.write(&d, f, false, "patch");
                }
                let mut it = args.iter().flatten();
                while let Some(a) = it.next() {
                    if (a == "-o" || a == "--output")
                        && let Some(f) = it.next()
                    {
                        self.write(&d, f, false, "patch");
                    }
                }
            }
            "rustfmt" | "black" | "isort" | "autopep8" | "yapf" => {
                let writes = match name.as_str() {
                    "autopep8" | "yapf" => has(&["-i", "--in-place"]),
                    _ => !has(&["--check", "--diff"]),
                };
                if writes {
                    for f in operands(
                        args,
                        &[
                            "--edition",
                            "--config-path",
                            "--config",
                            "-l",
                            "--line-length",
                        ],
                    ) {
                        self.write(&d, &f, false, &name);
                    }
                }
            }
            "gofmt" | "clang-format" if has(&["-w", "-i"]) => {
                for f in operands(args, &[]) {
                    self.write(&d, &f, false, &name);
                }
            }
            "prettier" | "eslint" | "standard" if has(&["--write", "-w", "--fix"]) => {
                for f in operands(args, &["--config", "-c", "--ignore-path", "--plugin"]) {
                    self.write(&d, &f, true, &name);
                }
            }
            "ruff" => {
                let sub = args.first().cloned().flatten();
                let writes = match sub.as_deref() {
                    Some("format") => !has(&["--check", "--diff"]),
                    Some("check") => has(&["--fix"]),
                    _ => false,
                };
                if writes {
                    for f in operands(&args[1..], &["--config"]) {
                        self.write(&d, &f, true, "ruff");
                    }
                }
            }
            "npx" | "bunx" => {
                // `npx prettier --write FILE`.
                let rest: Vec<Option<String>> = args.to_vec();
                let mut d2 = dir.clone();
                self.program(&rest, &mut d2);
            }
            "git" => self.git_command(args, &d),
            _ => {}
        }
    }

    fn copy_like(
        &mut self,
        d: &Option<String>,
        how: &str,
        ops: &[String],
        tdir: Option<&str>,
        moves: bool,
    ) {
        let (sources, dest) = match tdir {
            Some(t) => (ops, t.to_string()),
            None => match ops.split_last() {
                Some((last, rest)) if !rest.is_empty() || how == "ln" => (rest, last.clone()),
                _ => return,
            },
        };
        // The destination itself, and the file of that name inside it when
        // it is a folder.
        self.write(d, &dest, false, how);
        for s in sources {
            let base = s.trim_end_matches('/').rsplit('/').next().unwrap_or(s);
            if !base.is_empty() && base != "." && base != ".." {
                self.write(
                    d,
                    &format!("{}/{base}", dest.trim_end_matches('/')),
                    moves,
                    how,
                );
            }
            if moves {
                self.write(d, s, true, how);
            }
        }
    }

    fn git_command(&mut self, args: &[Option<String>], dir: &Option<String>) {
        let mut here = dir.clone();
        let mut i = 0;
        while let Some(a) = args.get(i) {
            let Some(a) = a else { return };
            match a.as_str() {
                "-C" => {
                    match args.get(i + 1) {
                        Some(Some(d)) => here = join_dir(&here, d),
                        _ => return,
                    }
                    i += 2;
                }
                "-c" | "--namespace" | "--exec-path" | "--config-env" => i += 2,
                // Another repository than the folder says: not attributable.
                _ if a.starts_with("--git-dir") || a.starts_with("--work-tree") => return,
                _ if a.starts_with('-') => i += 1,
                _ => break,
            }
        }
        let Some(Some(sub)) = args.get(i) else { return };
        let rest: Vec<&str> = args[i + 1..].iter().flatten().map(String::as_str).collect();
        let flag = |f: &[&str]| rest.iter().any(|a| f.contains(a));
        let dashdash = rest.iter().position(|a| *a == "--");
        let after_dd: Vec<&str> = dashdash.map(|p| rest[p + 1..].to_vec()).unwrap_or_default();
        let plain: Vec<&str> = rest[..dashdash.unwrap_or(rest.len())]
            .iter()
            .copied()
            .filter(|a| !a.starts_with('-'))
            .collect();
        let worktree = |w: &mut Walker, what: &str| {
            w.git(
                &here,
                GitKind::Worktree {
                    what: format!("git {what}"),
                },
            );
        };
        match sub.as_str() {
            "commit" if !flag(&["--dry-run"]) => {
                let with_value = [
                    "-m",
                    "--message",
                    "-F",
                    "--file",
                    "-C",
                    "--reuse-message",
                    "-c",
                    "--reedit-message",
                    "--fixup",
                    "--squash",
                    "--author",
                    "--date",
                    "-t",
                    "--template",
                    "--cleanup",
                    "-S",
                    "--pathspec-from-file",
                    "--trailer",
                ];
                let mut paths = Vec::new();
                let mut all = false;
                let mut it = rest.iter();
                let mut ended = false;
                while let Some(a) = it.next() {
                    if ended || !a.starts_with('-') {
                        paths.push(a.to_string());
                    } else if *a == "--" {
                        ended = true;
                    } else if with_value.contains(a) {
                        it.next();
                    } else if *a == "--all" {
                        all = true;
                    } else if !a.starts_with("--") {
                        // A cluster of short options: `-am MSG`, `-mMSG`.
                        for (k, c) in a[1..].char_indices() {
                            if c == 'a' {
                                all = true;
                            } else if matches!(c, 'm' | 'F' | 'C' | 'c' | 't') {
                                if k + 1 == a.len() - 1 {
                                    it.next();
                                }
                                break;
                            }
                        }
                    }
                }
                self.git(
                    &here,
                    GitKind::Commit {
                        all,
                        paths,
                        include: flag(&["-i", "--include"]),
                        amend: flag(&["--amend"]),
                    },
                );
            }
            "push" if !flag(&["--dry-run", "-n"]) => {
                let force = rest.iter().any(|a| {
                    matches!(*a, "-f" | "--force")
                        || a.starts_with("--force-with-lease")
                        || a.starts_with("--force-if-includes")
                }) || plain.iter().skip(1).any(|r| r.starts_with('+'));
                let every = flag(&["--all", "--mirror", "--branches"]);
                let with_value = ["--repo", "-o", "--push-option", "--receive-pack", "--exec"];
                let mut refs = Vec::new();
                let mut it = rest.iter();
                while let Some(a) = it.next() {
                    if with_value.contains(a) {
                        it.next();
                    } else if !a.starts_with('-') {
                        refs.push(*a);
                    }
                }
                let branches = refs
                    .iter()
                    .skip(1)
                    .filter(|r| !flag(&["--tags", "--delete", "-d"]) || !r.is_empty())
                    .map(|r| {
                        let r = r.trim_start_matches('+');
                        let dst = r.rsplit_once(':').map_or(r, |(_, d)| d);
                        dst.strip_prefix("refs/heads/").unwrap_or(dst).to_string()
                    })
                    .filter(|b| !b.is_empty() && b != "HEAD")
                    .collect();
                self.git(
                    &here,
                    GitKind::Push {
                        force,
                        branches,
                        every,
                    },
                );
            }
            "checkout" => {
                if dashdash.is_some() {
                    // `git checkout [REV] -- FILES`.
                    for f in &after_dd {
                        self.write(&here, f, true, "git checkout --");
                    }
                } else if plain.first().is_some_and(|p| *p == "." || p.ends_with('/'))
                    || plain.len() > 1 && !flag(&["-b", "-B", "--orphan"])
                {
                    // `git checkout .`, `git checkout REV FILE…`: files.
                    let files = if plain.first() == Some(&".") {
                        &plain[..]
                    } else {
                        &plain[1..]
                    };
                    for f in files {
                        self.write(&here, f, true, "git checkout");
                    }
                } else if !flag(&["-h", "--help"]) {
                    worktree(self, "checkout");
                }
            }
            // `--staged` alone changes only the index.
            "restore" if !flag(&["--staged", "-S"]) || flag(&["--worktree", "-W"]) => {
                let files = if dashdash.is_some() {
                    after_dd.clone()
                } else {
                    plain.clone()
                };
                let with_source = rest.iter().any(|a| *a == "-s" || *a == "--source");
                for (k, f) in files.iter().enumerate() {
                    // `-s REV` puts REV among the plain words.
                    if with_source && dashdash.is_none() && k == 0 {
                        continue;
                    }
                    self.write(&here, f, true, "git restore");
                }
            }
            "rm" | "mv" => {
                let files = if dashdash.is_some() {
                    after_dd.clone()
                } else {
                    plain.clone()
                };
                let how = format!("git {sub}");
                for f in files {
                    self.write(&here, f, true, &how);
                }
            }
            "switch" if !flag(&["-h", "--help"]) => worktree(self, "switch"),
            "reset" if flag(&["--hard", "--merge", "--keep"]) => {
                let m = rest
                    .iter()
                    .find(|a| matches!(**a, "--hard" | "--merge" | "--keep"))
                    .copied()
                    .unwrap_or("--hard");
                worktree(self, &format!("reset {m}"));
            }
            "stash" => {
                let s = plain.first().copied().unwrap_or("push");
                if matches!(s, "push" | "save" | "pop" | "apply" | "-u") || plain.is_empty() {
                    worktree(self, &format!("stash {s}"));
                }
            }
            "rebase" if !flag(&["--show-current-patch", "-h"]) => worktree(self, "rebase"),
            "merge" if !flag(&["--abort", "-h"]) => worktree(self, "merge"),
            "pull" => worktree(self, "pull"),
            "clean" => {
                let forced = rest.iter().any(|a| {
                    *a == "--force"
                        || (a.starts_with('-') && !a.starts_with("--") && a.contains('f'))
                });
                if forced && !flag(&["-n", "--dry-run"]) {
                    worktree(self, "clean -f");
                }
            }
            _ => {}
        }
    }
}

/// `-t DIR`, `--target-directory DIR` or `--target-directory=DIR`.
fn target_dir_option(args: &[Option<String>]) -> Option<String> {
    let mut it = args.iter().flatten();
    while let Some(a) = it.next() {
        if a == "-t" || a == "--target-directory" {
            return it.next().cloned();
        }
        if let Some(d) = a.strip_prefix("--target-directory=") {
            return Some(d.to_string());
        }
    }
    None
}

/// Whether `a` is a cluster of short options holding `c` (`-ni`, not `--x`).
fn short_flag(a: &str, c: char) -> bool {
    a.len() > 1
        && a.starts_with('-')
        && !a.starts_with("--")
        && a[1..].contains(c)
        && a[1..].chars().all(|x| x.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn writes(cmd: &str) -> Vec<(Option<String>, String)> {
        analyse(cmd)
            .writes
            .into_iter()
            .map(|w| (w.dir, w.path))
            .collect()
    }

    fn paths(cmd: &str) -> Vec<String> {
        analyse(cmd).writes.into_iter().map(|w| w.path).collect()
    }

    #[test]
    fn redirections_and_writers() {
        assert_eq!(paths("echo x > src/auth.rs"), ["src/auth.rs"]);
        assert_eq!(paths("echo x>>'src/a b.rs'"), ["src/a b.rs"]);
        assert_eq!(paths("make &> build.log"), ["build.log"]);
        assert_eq!(paths("cat a 2>/dev/null | tee -a out.txt"), ["out.txt"]);
        assert_eq!(paths("sed -i s/a/b/ src/auth.rs"), ["src/auth.rs"]);
        assert_eq!(paths("sed -i.bak -e 's/a/b/' x.rs y.rs"), ["x.rs", "y.rs"]);
        assert_eq!(paths("sed -n p src/auth.rs"), Vec::<String>::new());
        assert_eq!(paths("perl -pi -e 's/a/b/' f.rs"), ["f.rs"]);
        assert_eq!(paths("rm -f a.rs b.rs"), ["a.rs", "b.rs"]);
        assert_eq!(paths("touch n.rs && truncate -s 0 t.rs"), ["n.rs", "t.rs"]);
        assert_eq!(paths("cp a.rs src/"), ["src/", "src/a.rs"]);
        assert_eq!(
            paths("mv old.rs new.rs"),
            ["new.rs", "new.rs/old.rs", "old.rs"]
        );
        assert_eq!(paths("rustfmt src/auth.rs"), ["src/auth.rs"]);
        assert_eq!(paths("rustfmt --check src/auth.rs"), Vec::<String>::new());
        assert_eq!(paths("npx prettier --write web/app.ts"), ["web/app.ts"]);
        assert_eq!(paths("git checkout -- src/auth.rs"), ["src/auth.rs"]);
        assert_eq!(paths("git restore src/auth.rs"), ["src/auth.rs"]);
        assert_eq!(
            paths("git restore --staged src/auth.rs"),
            Vec::<String>::new()
        );
        assert_eq!(paths("dd if=/dev/zero of=disk.img"), ["disk.img"]);
        assert_eq!(paths("echo hi > /dev/null"), Vec::<String>::new());
    }

    #[test]
    fn quoting_lists_cd_and_heredocs() {
        assert_eq!(
            writes("cd src && echo x > auth.rs; cd .. ; echo y > top.rs"),
            [
                (Some("src".into()), "auth.rs".into()),
                (Some("src/..".into()), "top.rs".into())
            ]
        );
        assert_eq!(
            writes("(cd sub; touch a) && touch b"),
            [(Some("sub".into()), "a".into()), (None, "b".into())]
        );
        assert_eq!(
            paths("cat > src/auth.rs <<'EOF'\nrm -rf /\n> not-a-file\nEOF\necho done"),
            ["src/auth.rs"]
        );
        assert_eq!(paths("echo 'sed -i x f' \"> g\""), Vec::<String>::new());
        assert_eq!(paths("echo x > \"$OUT\""), Vec::<String>::new());
        assert_eq!(paths("echo $(touch inner.rs)"), ["inner.rs"]);
        assert_eq!(paths("for f in a b; do echo > out.txt; done"), ["out.txt"]);
        assert_eq!(paths("if true; then rm x; else rm y; fi"), ["x", "y"]);
        assert_eq!(paths("sudo -E tee /etc/x < /dev/null"), ["/etc/x"]);
        assert!(analyse("echo 'unterminated").unparsed);
    }

    #[test]
    fn git_operations() {
        let g = |c: &str| analyse(c).git;
        assert!(matches!(
            &g("git commit -am 'x'")[0].kind,
            GitKind::Commit { all: true, paths, .. } if paths.is_empty()
        ));
        assert!(matches!(
            &g("git commit -m x src/auth.rs")[0].kind,
            GitKind::Commit { all: false, paths, .. } if paths == &["src/auth.rs"]
        ));
        assert!(matches!(
            &g("cd sub && git commit")[0],
            GitAct { dir: Some(d), kind: GitKind::Commit { all: false, .. } } if d == "sub"
        ));
        assert!(g("git commit --dry-run").is_empty());
        assert!(matches!(
            &g("git push --force origin feature")[0].kind,
            GitKind::Push { force: true, branches, .. } if branches == &["feature"]
        ));
        assert!(matches!(
            &g("git push origin +HEAD:main")[0].kind,
            GitKind::Push { force: true, branches, .. } if branches == &["main"]
        ));
        assert!(matches!(
            &g("git push")[0].kind,
            GitKind::Push { force: false, branches, .. } if branches.is_empty()
        ));
        for (c, what) in [
            ("git checkout main", "git checkout"),
            ("git switch -c x", "git switch"),
            ("git reset --hard HEAD~1", "git reset --hard"),
            ("git stash", "git stash push"),
            ("git stash pop", "git stash pop"),
            ("git rebase main", "git rebase"),
            ("git clean -fd", "git clean -f"),
            ("git -C ../other checkout -b new", "git checkout"),
        ] {
            let acts = g(c);
            assert!(
                matches!(&acts[..], [GitAct { kind: GitKind::Worktree { what: w }, .. }] if w == what),
                "{c}: {acts:?}"
            );
        }
        assert!(g("git clean -n").is_empty());
        assert!(g("git reset HEAD file").is_empty());
        assert!(g("git stash list").is_empty());
        assert!(g("echo git checkout main").is_empty());
        assert_eq!(
            analyse("git -C ../other checkout main").git[0]
                .dir
                .as_deref(),
            Some("../other")
        );
    }

    #[test]
    fn the_cheap_check() {
        assert!(might_write("echo x > f"));
        assert!(might_write("git status"));
        assert!(!might_write("ls -la && cargo test --lib"));
        assert!(!might_write("grep -rn foo src/"));
    }

    #[test]
    fn deep_nesting_is_not_parsed_and_does_not_overflow() {
        let deep = format!("{}echo{}", "(".repeat(50_000), ")".repeat(50_000));
        assert!(analyse(&deep).unparsed);
        let subst = format!("echo {}x{}", "$(echo ".repeat(2000), ")".repeat(2000));
        let _ = analyse(&subst);
    }

    /// A line that makes brush-parser 0.3's tokenizer panic (found by
    /// `never_panics_on_shell_like_input`) is simply not parsed.
    #[test]
    fn a_line_the_parser_panics_on_is_unparsed() {
        assert!(analyse("<<$(git)$($(\n()").unparsed);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn never_panics_on_arbitrary_input(s in "\\PC{0,200}") {
            let _ = analyse(&s);
        }

        #[test]
        fn never_panics_on_shell_like_input(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(" "), Just(">"), Just(">>"), Just("&&"), Just(";"), Just("|"),
                    Just("'"), Just("\""), Just("$("), Just(")"), Just("("), Just("<<"),
                    Just("EOF"), Just("\n"), Just("git"), Just("commit"), Just("-a"),
                    Just("sed"), Just("-i"), Just("tee"), Just("cd"), Just("x"), Just("{"),
                    Just("}"), Just("`"), Just("\\"), Just("--"), Just("cp"), Just("mv"),
                    Just("checkout"), Just("push"), Just("+"), Just(":"), Just("="),
                ],
                0..60,
            )
        ) {
            let _ = analyse(&parts.concat());
        }
    }
}
