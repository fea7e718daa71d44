//! `pool-prompt`: see the library.

fn main() {
    std::process::exit(claude_pool::cmd::hooks::prompt_main());
}
