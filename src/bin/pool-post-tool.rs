//! `pool-post-tool`: see the library.

fn main() {
    std::process::exit(claude_pool::cmd::post_tool::post_tool_main());
}
