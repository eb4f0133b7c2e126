//! The `art9` command: parse arguments, run the library, map errors to exit codes.

#![forbid(unsafe_code)]

mod cli;

fn main() {
    let code = cli::main();
    std::process::exit(code.as_i32());
}
