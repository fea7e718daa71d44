//! `pool-query`: see the library.

fn main() {
    std::process::exit(claude_pool::query_main());
}
