//! `pool`: see the library.

fn main() {
    std::process::exit(claude_pool::pool_main());
}
