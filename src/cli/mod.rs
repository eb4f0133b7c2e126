//! Command-line interface: clap arguments (what the user typed) turned into validated runs.

/// `println!` that returns an error instead of panicking when stdout is closed
/// (`art9 lexicon stats | head`); the caller's `?` turns it into a clean exit.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)?
    }};
}

/// `print!` counterpart of `outln!`.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)?
    }};
}

mod args;
mod audit;
mod baseline;
mod check;
mod common;
mod db;
mod erase;
mod eval;
mod gdpr;
mod lexicon_cmd;
mod progress;
mod report;
mod review;
mod scan;
#[cfg(feature = "serve")]
mod serve;
mod stdio;
mod subject;

use std::io::IsTerminal;

use clap::Parser;

pub use args::{Cli, Command};

/// Exit codes, defined once (documented in `--help` and the README).
///
/// * `scan` / `mask`: 0 = no findings, 1 = findings, 2 = error or skipped records;
/// * `check`: 0 = accept or mask, 1 = reject, 2 = error;
/// * `lexicon lint|test`, `eval`: 0 = ok, 1 = failures, 2 = error.
///
/// A closed output pipe (`art9 scan | head`) is not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Nothing found / accepted / all good.
    Clean,
    /// Findings / rejected / test failures.
    Found,
    /// An error, or records were skipped.
    Error,
}

impl ExitCode {
    pub fn as_i32(self) -> i32 {
        match self {
            ExitCode::Clean => 0,
            ExitCode::Found => 1,
            ExitCode::Error => 2,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let is_help = matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            );
            let _ = e.print();
            return if is_help {
                ExitCode::Clean
            } else {
                ExitCode::Error
            };
        }
    };
    let result = match cli.command {
        Command::Scan(a) => scan::scan(a),
        Command::Mask(a) => scan::mask(a),
        Command::Check(a) => check::check(a),
        Command::Explain(a) => check::explain(a),
        Command::Lexicon(a) => lexicon_cmd::run(a),
        Command::Eval(a) => eval::eval(a),
        Command::Baseline(a) => baseline::run(a),
        Command::Subject(a) => subject::subject(a),
        Command::Erase(a) => erase::erase(a),
        Command::Audit(a) => audit::run(a),
        #[cfg(feature = "report")]
        Command::Report(a) => report::report(a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run(a),
        #[cfg(not(feature = "serve"))]
        Command::Serve { .. } => Err(anyhow::anyhow!(
            "this art9 was built without the HTTP service; build it with `cargo build \
             --release --features serve` (or --features full)"
        )),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if common::is_broken_pipe(&e) {
                return ExitCode::Clean;
            }
            eprintln!("art9: error: {e:#}");
            ExitCode::Error
        }
    }
}

/// Whether stdout is a terminal (decides the default format).
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}
