//! `pool-session-start`: see the library.

fn main() {
    std::process::exit(claude_pool::cmd::hooks::session_start_main());
}
