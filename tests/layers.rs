//! The layering rule of `src/` (see the table in `src/lib.rs`), checked on the
//! sources: a module imports only from its own layer or lower ones, and no
//! two modules import each other, directly or through others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, lowest first. `view` and `sync` share a rank and may not import
/// each other.
const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("store", 1),
    ("env", 2),
    ("agent", 3),
    ("coord", 4),
    ("view", 5),
    ("sync", 5),
    ("cmd", 6),
];

fn rank(layer: &str) -> Option<u8> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file: `src/store/log.rs` is `store::log`,
/// `src/store/mod.rs` is `store`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != "mod")
        .collect();
    parts.join("::")
}

/// Every `crate::a::b` path in the code (comments and doc links excluded),
/// cut to its first two segments (a layer and a module).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            match segs.as_slice() {
                [] => {}
                [one] => {
                    out.insert((*one).to_string());
                }
                [layer, module, ..] => {
                    let is_module = module.chars().next().is_some_and(|c| c.is_lowercase());
                    if is_module {
                        out.insert(format!("{layer}::{module}"));
                    } else {
                        out.insert((*layer).to_string());
                    }
                }
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g = BTreeMap::new();
    for f in files {
        let m = module_of(&src, &f);
        if m == "lib" || m.starts_with("bin::") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let mut deps = imports(&text);
        deps.remove(&m);
        g.insert(m, deps);
    }
    g
}

#[test]
fn no_module_imports_a_higher_layer() {
    let mut bad = Vec::new();
    for (m, deps) in graph() {
        let layer = m.split("::").next().unwrap().to_string();
        let own = rank(&layer).unwrap_or_else(|| panic!("{m}: folder {layer} is not a layer"));
        for d in deps {
            let dl = d.split("::").next().unwrap();
            let Some(r) = rank(dl) else { continue };
            if r > own || (r == own && dl != layer) {
                bad.push(format!("{m} imports {d}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the layers:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph();
    // Depth-first search with colours; a grey node met again closes a cycle.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        colour.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if !g.contains_key(d) {
                continue;
            }
            match colour.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == d).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(d, g, colour, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(n.to_string(), 2);
        None
    }
    let mut colour = BTreeMap::new();
    for n in g.keys() {
        if colour.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, &g, &mut colour, &mut stack) {
                panic!("import cycle: {}", c.join(" -> "));
            }
        }
    }
}

#[test]
fn every_layer_folder_says_what_it_owns() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (layer, _) in LAYERS {
        let file = if *layer == "error" {
            src.join("error.rs")
        } else {
            src.join(layer).join("mod.rs")
        };
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} has no //! header",
            file.display()
        );
    }
}
