//! The `art9` command: parse arguments, run the library, map errors to exit codes.

#![forbid(unsafe_code)]

mod cli;

/// See the `mimalloc` feature in Cargo.toml: per-record allocations freed on another thread
/// are much cheaper than with the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = cli::main();
    std::process::exit(code.as_i32());
}
