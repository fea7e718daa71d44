//! `pool completions SHELL`: prints a completion script for `pool` and
//! `pool-query`, with instance names (`--instance`, `--to`, `pool launch`)
//! and handoff ids (`pool ack`) completed from the pool by the hidden
//! `pool complete-names` command; and that command.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cmd::cli::{CompletionsArgs, PoolCli, QueryCli};
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error, is_broken_pipe};

/// Prints the script for the shell asked for. Returns the exit code.
pub fn run(args: &CompletionsArgs) -> i32 {
    write_out(script(args.shell).as_bytes())
}

fn write_out(bytes: &[u8]) -> i32 {
    match std::io::stdout().write_all(bytes) {
        Ok(()) => EXIT_OK,
        Err(e) if is_broken_pipe(&e) => EXIT_OK,
        Err(e) => {
            eprint_error("pool completions", &e.to_string());
            EXIT_ERROR
        }
    }
}

/// The completion script for `shell`: clap's for both programs, with the
/// values that name instances or handoffs completed from the pool.
pub fn script(shell: Shell) -> String {
    // Generated into memory first: clap_complete panics on a failed write,
    // and a closed pipe (`pool completions bash | head`) is not an error.
    let gen_for = |cmd: &mut clap::Command, name: &str| {
        let mut buf = Vec::new();
        clap_complete::generate(shell, cmd, name, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    };
    let pool = gen_for(&mut PoolCli::command(), "pool");
    let query = gen_for(&mut QueryCli::command(), "pool-query");
    match shell {
        Shell::Bash => format!("{pool}\n{query}\n{BASH_DYNAMIC}"),
        Shell::Zsh => {
            let dynamic = |s: &str| {
                s.replace(":INSTANCE:_default'", ":INSTANCE:_pool_instances'")
                    .replace(":TO:_default'", ":TO:_pool_instances'")
                    .replace(
                        ":id -- Id of the handoff:_default'",
                        ":id -- Id of the handoff:_pool_handoffs'",
                    )
                    .replace(
                        "::instances -- Instances to start (default\\: those in config.json):_default'",
                        "::instances -- Instances to start (default\\: those in config.json):_pool_instances'",
                    )
            };
            // One file per function in zsh's fpath is the norm; sourced
            // instead, both definitions register through compdef.
            let query = query.replacen("#compdef pool-query", "", 1);
            format!(
                "{}\n{ZSH_DYNAMIC}\n{}\ncompdef _pool-query pool-query 2>/dev/null\n",
                dynamic(&pool).replacen("#compdef pool\n", "#compdef pool pool-query\n", 1),
                dynamic(&query)
            )
        }
        Shell::Fish => format!("{pool}\n{query}\n{FISH_DYNAMIC}"),
        _ => format!("{pool}\n{query}"),
    }
}

const BASH_DYNAMIC: &str = r#"# Instance names and handoff ids, from the pool (pool complete-names).
_pool_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" kind=""
    case "$prev" in
        --instance|--to) kind=instances ;;
        ack) [ "${COMP_WORDS[0]##*/}" = pool ] && kind=handoffs ;;
    esac
    if [ -z "$kind" ] && [ "${COMP_WORDS[0]##*/}" = pool ] && [ "${COMP_WORDS[1]}" = launch ] && [ "${cur#-}" = "$cur" ]; then
        kind=instances
    fi
    if [ -n "$kind" ]; then
        COMPREPLY=($(compgen -W "$(pool complete-names "$kind" 2>/dev/null)" -- "$cur"))
        return 0
    fi
    if [ "${COMP_WORDS[0]##*/}" = pool-query ]; then _pool__query "$@"; else _pool "$@"; fi
}
complete -F _pool_dynamic -o nosort -o bashdefault -o default pool
complete -F _pool_dynamic -o nosort -o bashdefault -o default pool-query
"#;

const ZSH_DYNAMIC: &str = r#"# Instance names and handoff ids, from the pool (pool complete-names).
_pool_instances() { local -a names; names=(${(f)"$(pool complete-names instances 2>/dev/null)"}); compadd -a names; }
_pool_handoffs() { local -a ids; ids=(${(f)"$(pool complete-names handoffs 2>/dev/null)"}); compadd -a ids; }"#;

const FISH_DYNAMIC: &str = r#"# Instance names and handoff ids, from the pool (pool complete-names).
complete -c pool -n "__fish_seen_subcommand_from ack" -f -a "(pool complete-names handoffs)"
complete -c pool -n "__fish_seen_subcommand_from launch" -f -a "(pool complete-names instances)"
complete -c pool -l instance -x -a "(pool complete-names instances)"
complete -c pool -l to -x -a "(pool complete-names instances)"
complete -c pool-query -l instance -x -a "(pool complete-names instances)"
"#;

/// `pool complete-names instances|handoffs`: instance names (from
/// `config.json`, presence and the last day's entries) or the ids of
/// pending handoffs (to `$CLAUDE_INSTANCE` first), one a line. Prints
/// nothing (exit 0) when the pool cannot be read: a completion never fails
/// loudly.
pub fn names(kind: &str) -> i32 {
    let lines = match kind {
        "instances" => instance_names(),
        "handoffs" => handoff_ids(),
        _ => {
            eprint_error(
                "pool complete-names",
                &format!("unknown kind {kind:?}; use instances or handoffs"),
            );
            return crate::cmd::EXIT_USAGE;
        }
    };
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    write_out(text.as_bytes())
}

fn instance_names() -> Vec<String> {
    let Ok((pool, settings, scope)) =
        crate::cmd::status::open_pool(&crate::cmd::scope::ScopeArgs::default())
    else {
        return Vec::new();
    };
    let now = chrono::Utc::now().timestamp();
    let mut names: Vec<String> = crate::env::config::load_config_file(pool.dir())
        .map(|c| {
            c.instances
                .keys()
                .chain(c.domains.keys())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if let Ok(b) = crate::cmd::status::board(&pool, &settings, now, false, &scope) {
        names.extend(b.instances.into_iter().map(|v| v.name));
    }
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|n| crate::store::paths::validate_instance(n).is_ok())
        .filter(|n| seen.insert(n.to_lowercase()))
        .collect()
}

fn handoff_ids() -> Vec<String> {
    let Ok((pool, settings, scope)) =
        crate::cmd::status::open_pool(&crate::cmd::scope::ScopeArgs::default())
    else {
        return Vec::new();
    };
    let now = chrono::Utc::now().timestamp();
    let Ok(b) = crate::cmd::status::board(&pool, &settings, now, false, &scope) else {
        return Vec::new();
    };
    let me = std::env::var("CLAUDE_INSTANCE").unwrap_or_default();
    let mut all: Vec<(bool, String)> = b
        .handoffs()
        .into_iter()
        .map(|h| (!h.to.eq_ignore_ascii_case(&me), h.id.to_string()))
        .filter(|(_, id)| !id.is_empty() && !id.contains(char::is_whitespace))
        .collect();
    all.sort_by_key(|(other, _)| *other);
    all.into_iter().map(|(_, id)| id).collect()
}
