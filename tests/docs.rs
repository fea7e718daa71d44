//! Every shell command in README.md and docs/*.md is run, so the docs stay true.
//!
//! The Markdown is parsed with pulldown-cmark. Each fenced block whose info
//! string starts with `sh`, `bash` or `console` runs in bash (`set -e`) in a
//! fresh temporary HOME, POOL_DIR, CLAUDE_CONFIG_DIR and CODEX_HOME, from a
//! fresh git repository, with the built binaries first on PATH. A `/tmp/` in a
//! block means the test's own temporary folder, so runs never share files. It
//! must exit 0.
//!
//! In a `console` block, lines starting with `$ ` (and their `\` continuation
//! lines) are commands; the lines up to the next command are its expected
//! output (stdout and stderr), compared after ids, times, host names and runs of
//! spaces are normalised. A line `...` matches any number of lines.
//!
//! An HTML comment just before a block changes how it runs:
//! - `<!-- no-run: reason -->`: it cannot run here (a network install, `claude`
//!   itself, another OS, a server that runs until Ctrl-C). The test lists them.
//! - `<!-- continues -->`: it runs in the same shell and folders as the block
//!   before it in the file (exports included), as a reader following the page would.
//!
//! A line bash writes to stderr about itself (`bash: line 2: cd: …`) fails the
//! block too: `set -e` does not stop at a failure before `&&`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

/// How long one chain of blocks may run before it counts as failed.
const CHAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// What a comment before a block says about it.
#[derive(Debug, Clone, PartialEq)]
enum Marker {
    None,
    NoRun(String),
    Continues,
}

/// One runnable shell block of a Markdown file.
#[derive(Debug, Clone)]
struct Block {
    /// `FILE:LINE` of its opening fence.
    at: String,
    console: bool,
    text: String,
    marker: Marker,
}

/// The shell blocks of `markdown`, in order, with the marker before each.
fn shell_blocks(name: &str, markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut marker = Marker::None;
    let mut current: Option<Block> = None;
    for (event, range) in Parser::new(markdown).into_offset_iter() {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                let t = html.trim();
                if let Some(c) = t.strip_prefix("<!--").and_then(|c| c.strip_suffix("-->")) {
                    let c = c.trim();
                    if let Some(reason) = c.strip_prefix("no-run:") {
                        marker = Marker::NoRun(reason.trim().to_string());
                    } else if c == "continues" {
                        marker = Marker::Continues;
                    }
                }
            }
            Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => {}
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang = info.split_whitespace().next().unwrap_or("");
                let line = markdown[..range.start].matches('\n').count() + 1;
                if matches!(lang, "sh" | "bash" | "console") {
                    current = Some(Block {
                        at: format!("{name}:{line}"),
                        console: lang == "console",
                        text: String::new(),
                        marker: std::mem::replace(&mut marker, Marker::None),
                    });
                } else {
                    marker = Marker::None;
                }
            }
            Event::Text(t) => {
                if let Some(b) = current.as_mut() {
                    b.text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(b) = current.take() {
                    out.push(b);
                }
            }
            Event::Start(_) => marker = Marker::None,
            _ => {}
        }
    }
    out
}

/// A command of a console block and the output shown for it.
struct ConsoleCommand {
    command: String,
    expected: Vec<String>,
}

fn console_commands(text: &str) -> Vec<ConsoleCommand> {
    let mut out: Vec<ConsoleCommand> = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        if continuing {
            let c = out.last_mut().expect("a continuation follows a command");
            c.command.push('\n');
            c.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(ConsoleCommand {
                command: cmd.to_string(),
                expected: Vec::new(),
            });
            continuing = cmd.ends_with('\\');
        } else if let Some(c) = out.last_mut() {
            c.expected.push(line.to_string());
        }
    }
    out
}

/// Ids, times, host names and column padding vary from run to run.
fn normalise(line: &str, root: &str) -> String {
    use regex::Regex;
    use std::sync::LazyLock;
    static RULES: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "<id>",
            ),
            (r"\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2})?", "<time>"),
            (r"\b\d{2}-\d{2} \d{2}:\d{2}\b", "<date>"),
            (r"\b\d+(\.\d+)?(ms|s|m|h|d) ago\b", "<age> ago"),
            (r"@[A-Za-z0-9._-]+\]", "@<host>]"),
            (r"[ \t]+", " "),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).unwrap(), to))
        .collect()
    });
    let mut s = line.replace(root, "$T");
    for (re, to) in RULES.iter() {
        s = re.replace_all(&s, *to).into_owned();
    }
    s.trim_end().to_string()
}

/// Whether `actual` matches `expected`, where a `...` line matches any lines.
fn lines_match(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => {
            (0..=actual.len()).any(|k| lines_match(rest, &actual[k..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, arest)| a == e && lines_match(rest, arest)),
    }
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pool"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs one chain of blocks (a block and those that continue it) in a fresh
/// environment; `Err` says which block failed and how.
fn run_chain(chain: &[Block]) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let dir = |n: &str| {
        let p = root.join(n);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let (home, pool, cc, codex, tmpdir, work) = (
        dir("home"),
        dir("pool"),
        dir("claude-config"),
        dir("codex-home"),
        dir("tmp"),
        dir("work"),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pool, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&work)
        .env("HOME", &home)
        .status()
        .unwrap();
    assert!(git.success());
    let root_s = root.to_str().unwrap().to_string();
    let tmp_s = format!("{}/", tmpdir.display());

    let mut script = String::from("set -e\n");
    let mut expected: Vec<(String, Vec<String>)> = Vec::new();
    for (bi, b) in chain.iter().enumerate() {
        script.push_str(&format!("echo '@@DOC-BLOCK {bi}'\n"));
        if b.console {
            for c in console_commands(&b.text) {
                let i = expected.len();
                script.push_str(&format!(
                    "echo '@@DOC-BEGIN {i}'\n{{\n{}\n}} 2>&1\necho; echo '@@DOC-END {i}'\n",
                    c.command.replace("/tmp/", &tmp_s)
                ));
                expected.push((b.at.clone(), c.expected));
            }
        } else {
            script.push_str(&b.text.replace("/tmp/", &tmp_s));
            script.push('\n');
        }
    }

    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("POOL_DIR", &pool)
        .env("CLAUDE_CONFIG_DIR", &cc)
        .env("CODEX_HOME", &codex)
        .env("TMPDIR", &tmpdir)
        .env("LANG", "C.UTF-8")
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > CHAIN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out_t.join().unwrap();
    let err = err_t.join().unwrap();
    let last_block = out
        .lines()
        .filter_map(|l| l.strip_prefix("@@DOC-BLOCK "))
        .next_back()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let at = &chain[last_block.min(chain.len() - 1)].at;
    match status {
        None => {
            return Err(format!(
                "{at}: still running after {CHAIN_TIMEOUT:?}\n{out}{err}"
            ));
        }
        Some(s) if !s.success() => {
            return Err(format!(
                "{at}: exited with {s}\n--- stdout\n{out}--- stderr\n{err}"
            ));
        }
        Some(_) => {}
    }
    // `set -e` does not stop at a failure before `&&` (`cd nowhere && …`),
    // but bash reports it, and every other shell-level error, as `bash: …`.
    if let Some(l) = err.lines().find(|l| l.starts_with("bash: ")) {
        return Err(format!(
            "{at}: the shell reported an error: {l}\n--- stdout\n{out}"
        ));
    }
    for (i, (at, want)) in expected.iter().enumerate() {
        let begin = format!("@@DOC-BEGIN {i}\n");
        let end = format!("\n@@DOC-END {i}\n");
        let s = out.find(&begin).map(|p| p + begin.len()).unwrap();
        let e = s + out[s..].find(&end).unwrap();
        let got: Vec<String> = out[s..e]
            .trim_end_matches('\n')
            .lines()
            .map(|l| normalise(l, &root_s))
            .collect();
        let want: Vec<String> = want
            .iter()
            .map(|l| normalise(l, &root_s))
            .collect::<Vec<_>>();
        let want_trimmed: Vec<String> = {
            let mut w = want.clone();
            while w.last().is_some_and(|l| l.is_empty()) {
                w.pop();
            }
            w
        };
        if !want_trimmed.is_empty() && !lines_match(&want_trimmed, &got) {
            return Err(format!(
                "{at}: output differs\n--- shown in the docs (normalised)\n{}\n--- printed (normalised)\n{}",
                want_trimmed.join("\n"),
                got.join("\n")
            ));
        }
    }
    Ok(())
}

/// Splits a file's blocks into chains to run and blocks marked no-run.
fn chains(blocks: Vec<Block>) -> Result<(Vec<Vec<Block>>, Vec<Block>), String> {
    let mut runs: Vec<Vec<Block>> = Vec::new();
    let mut skipped = Vec::new();
    let mut last_ran = false;
    for b in blocks {
        match &b.marker {
            Marker::NoRun(reason) => {
                if reason.is_empty() {
                    return Err(format!("{}: no-run needs a reason", b.at));
                }
                skipped.push(b);
                last_ran = false;
            }
            Marker::Continues => {
                if !last_ran {
                    return Err(format!(
                        "{}: `continues` must follow a block that runs",
                        b.at
                    ));
                }
                runs.last_mut().unwrap().push(b);
            }
            Marker::None => {
                runs.push(vec![b]);
                last_ran = true;
            }
        }
    }
    Ok((runs, skipped))
}

/// Runs every block of one Markdown text; the failures, and the blocks skipped.
fn check_markdown(name: &str, markdown: &str) -> (Vec<String>, Vec<Block>, usize) {
    let (runs, skipped) = match chains(shell_blocks(name, markdown)) {
        Ok(x) => x,
        Err(e) => return (vec![e], Vec::new(), 0),
    };
    let ran = runs.iter().map(Vec::len).sum();
    let failures = runs.iter().filter_map(|c| run_chain(c).err()).collect();
    (failures, skipped, ran)
}

fn doc_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files.insert(0, root.join("README.md"));
    files
}

#[test]
fn every_shell_block_in_the_readme_and_docs_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut skipped = Vec::new();
    for f in doc_files() {
        let name = f.strip_prefix(root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let (fail, skip, n) = check_markdown(&name, &text);
        failures.extend(fail);
        skipped.extend(skip);
        ran += n;
    }
    println!("{ran} blocks ran; {} not run here:", skipped.len());
    for b in &skipped {
        if let Marker::NoRun(reason) = &b.marker {
            println!("  {}: {reason}", b.at);
        }
    }
    assert!(ran >= 5, "only {ran} blocks found: is the parser right?");
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn a_broken_command_fails_the_check() {
    let md = "# t\n\n```sh\npool-query --no-such-flag\n```\n";
    let (fail, _, ran) = check_markdown("t.md", md);
    assert_eq!(ran, 1);
    assert!(fail.len() == 1 && fail[0].contains("t.md:3"), "{fail:?}");
}

#[test]
fn a_failure_before_and_and_fails_the_check() {
    let md = "```sh\ncd no-such-folder && pool init\npool status\n```\n";
    let (fail, _, _) = check_markdown("t.md", md);
    assert!(
        fail.len() == 1 && fail[0].contains("no-such-folder"),
        "{fail:?}"
    );
}

#[test]
fn a_command_whose_output_differs_fails_the_check() {
    let ok = "```console\n$ echo 'id 0e3c4b9b-2bc1-82f3-996f-af89094cf1e8, 3s ago'\nid 11111111-2222-3333-4444-555555555555, 12m ago\n```\n";
    assert_eq!(check_markdown("ok.md", ok).0, Vec::<String>::new());
    let elided = "```console\n$ printf 'a\\nb\\nc\\n'\na\n...\n```\n";
    assert_eq!(check_markdown("elided.md", elided).0, Vec::<String>::new());
    let wrong = "```console\n$ echo one\ntwo\n```\n";
    let (fail, _, _) = check_markdown("wrong.md", wrong);
    assert!(
        fail.len() == 1 && fail[0].contains("output differs"),
        "{fail:?}"
    );
}

#[test]
fn markers_are_read_and_no_run_needs_a_reason() {
    let md = "<!-- no-run: needs the network -->\n```sh\ncurl https://example.com\n```\n\n```bash\nexport X=1\n```\n\n<!-- continues -->\n```console\n$ echo $X\n1\n```\n\n```json\n{}\n```\n";
    let blocks = shell_blocks("m.md", md);
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0].marker, Marker::NoRun("needs the network".into()));
    assert_eq!(blocks[1].marker, Marker::None);
    assert_eq!(blocks[2].marker, Marker::Continues);
    let (fail, skipped, ran) = check_markdown("m.md", md);
    assert_eq!((fail, skipped.len(), ran), (Vec::<String>::new(), 1, 2));
    let bare = "<!-- no-run: -->\n```sh\ntrue\n```\n";
    assert!(check_markdown("b.md", bare).0[0].contains("needs a reason"));
}

#[test]
fn every_relative_link_in_the_readme_and_docs_points_to_a_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for f in doc_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for event in Parser::new(&text) {
            let dest = match event {
                Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => dest_url,
                _ => continue,
            };
            if dest.contains("://") || dest.starts_with('#') || dest.starts_with("mailto:") {
                continue;
            }
            let path = dest.split('#').next().unwrap_or("");
            if !f.parent().unwrap().join(path).exists() {
                broken.push(format!(
                    "{}: {dest}",
                    f.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to no file:\n{}",
        broken.join("\n")
    );
}
