//! `pool-stop`: see the library.

fn main() {
    std::process::exit(claude_pool::cmd::hooks::stop_main());
}
