//! `pool-guard`: see the library.

fn main() {
    std::process::exit(claude_pool::cmd::hooks::guard_main());
}
