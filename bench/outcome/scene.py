"""The outcome benchmark's scene: a small web-service tree (30 files) and a backlog of 16 tasks.

Python 3 standard library only. `write_tree(dir)` writes the files; `backlog()` returns the tasks.
Each task names its files, the anchor line in each file after which its marker line goes, whether
it edits (Edit: insert after the anchor) or rewrites the file (Write: the whole file from what it
read), and the tasks it depends on. Some tasks share a file at one anchor (their insertions collide
in a merge), some share a file at different anchors, and some depend on others.
"""

import json
from pathlib import Path

MODULES = ["cli", "config", "server", "routes", "auth", "db", "models", "cache", "logging_setup",
           "metrics", "utils", "errors", "jobs", "mailer", "search", "export", "i18n"]
TESTS = ["cli", "config", "auth", "db", "routes", "cache", "jobs", "search"]
SECTIONS = ["imports", "settings", "helpers", "handlers", "exports"]

# id, title, [(file, section)], mode, deps
TASKS = [
    ("T01", "Add a --verbose flag", [("src/app/cli.py", "handlers"), ("tests/test_cli.py", "handlers")], "edit", []),
    ("T02", "Read settings from the environment", [("src/app/config.py", "settings"), ("tests/test_config.py", "handlers")], "edit", []),
    ("T03", "Refresh auth tokens", [("src/app/auth.py", "handlers"), ("tests/test_auth.py", "handlers")], "edit", []),
    ("T04", "Pool database connections", [("src/app/db.py", "helpers"), ("src/app/config.py", "helpers")], "edit", []),
    ("T05", "Add an email field to User", [("src/app/models.py", "handlers"), ("src/app/db.py", "handlers")], "edit", ["T04"]),
    ("T06", "Give cache entries a TTL", [("src/app/cache.py", "handlers"), ("src/app/config.py", "settings")], "edit", []),
    ("T07", "Count requests per route", [("src/app/metrics.py", "handlers"), ("src/app/server.py", "handlers")], "edit", []),
    ("T08", "Log requests as JSON", [("src/app/logging_setup.py", "handlers"), ("src/app/server.py", "handlers")], "edit", []),
    ("T09", "Retry failed jobs", [("src/app/jobs.py", "handlers"), ("tests/test_jobs.py", "handlers")], "edit", []),
    ("T10", "Mail a password reset link", [("src/app/mailer.py", "handlers"), ("src/app/auth.py", "exports")], "edit", ["T03"]),
    ("T11", "Translate the messages", [("src/app/i18n.py", "settings")], "write", []),
    ("T12", "Add a health endpoint", [("src/app/server.py", "exports")], "write", ["T07"]),
    ("T13", "Render error pages", [("src/app/errors.py", "handlers"), ("src/app/routes.py", "exports")], "edit", []),
    ("T14", "Paginate search results", [("src/app/search.py", "handlers"), ("src/app/routes.py", "handlers")], "edit", []),
    ("T15", "Export search results as CSV", [("src/app/export.py", "handlers"), ("src/app/routes.py", "handlers")], "edit", ["T14"]),
    ("T16", "Write the release notes", [("CHANGELOG.md", "settings")], "write", ["T01"]),
]


def anchor(path, section):
    return f"<!-- section: {section} -->" if path.endswith(".md") else f"# --- section: {section} ---"


def module_text(name):
    out = [f'"""The {name} module of the example service."""', ""]
    for s in SECTIONS:
        out += [anchor("x.py", s), f"def {name}_{s}():", f'    return "{name} {s}"', ""]
    return "\n".join(out) + "\n"


def files():
    tree = {"src/app/__init__.py": '"""The example service."""\n'}
    for m in MODULES:
        tree[f"src/app/{m}.py"] = module_text(m)
    for t in TESTS:
        tree[f"tests/test_{t}.py"] = module_text(f"test_{t}")
    tree["README.md"] = "# Example service\n\nA small service the benchmark's sessions work on.\n"
    tree["CHANGELOG.md"] = "# Changelog\n\n" + "\n\n".join(anchor("x.md", s) for s in SECTIONS) + "\n"
    tree["pyproject.toml"] = '[project]\nname = "example-service"\nversion = "0.1.0"\n'
    tree["Makefile"] = "test:\n\tpython -m pytest -q\n"
    return tree


def backlog_md(tasks):
    """BACKLOG.md: the backlog as a person (or a real model, in --real-model mode) reads it."""
    out = ["# Backlog", "",
           "Each task: in each of its files, add the line `# Txx (INSTANCE): TITLE` (with `#`, Markdown",
           "files too) right after the anchor line named, then commit only those files with the message",
           "`Txx: TITLE (by INSTANCE)`, where INSTANCE is your instance name.", ""]
    for t in tasks:
        deps = f" (after {', '.join(t['deps'])})" if t["deps"] else ""
        out.append(f"- {t['id']}: {t['title']}{deps}")
        for f, a in t["anchors"].items():
            out.append(f"  - `{f}`, after the line `{a}`" + (" (rewrite the whole file)" if t["mode"] == "write" else ""))
    return "\n".join(out) + "\n"


def write_tree(root, tasks=None):
    root = Path(root)
    if tasks is not None:
        (root / "BACKLOG.md").write_text(backlog_md(tasks))
    for rel, text in files().items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def backlog(n=None):
    """The tasks (the first n of them when n is given, dependencies kept inside the set)."""
    chosen = TASKS[:n] if n else TASKS
    ids = {t[0] for t in chosen}
    out = []
    for tid, title, fs, mode, deps in chosen:
        out.append({"id": tid, "title": title, "files": [f for f, _ in fs],
                    "anchors": {f: anchor(f, s) for f, s in fs}, "mode": mode,
                    "deps": [d for d in deps if d in ids]})
    return {"tasks": out}


if __name__ == "__main__":
    print(json.dumps(backlog(), indent=2))
    print(len(files()), "files")
