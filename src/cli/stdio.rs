//! `art9 check --stdio`: the pre-save check as a co-process speaking JSON Lines.
//!
//! One request per line in, one answer per line out, in order, each flushed at once so that
//! a parent process can write a line and wait for its answer. A line that is not a valid
//! request gets an error line (`{"id", "error": {"code", "message"}}`, never quoting the
//! line) and the stream goes on. Blank lines are skipped. Exit 0 at end of input.

use std::io::{self, BufRead, BufWriter, Write};

use anyhow::{Context, Result};
use art9::service::{parse_request, Engine, ItemResult, Limits, Op};

use super::args::CheckArgs;
use super::common;
use super::ExitCode;

pub fn run(a: &CheckArgs) -> Result<ExitCode> {
    let scanner = common::scanner(&a.lexicons)?;
    let policy = common::policy(&a.policy)?;
    let engine = Engine::new(scanner, policy);
    let limits = Limits::default();
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading standard input")?
            == 0
        {
            break;
        }
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let result = match parse_request(trimmed).and_then(|r| engine.handle(Op::Check, r, &limits))
        {
            Ok(r) => ItemResult::Ok(r),
            Err(e) => e.into_item(),
        };
        serde_json::to_writer(&mut out, &result).context("writing standard output")?;
        out.write_all(b"\n").context("writing standard output")?;
        out.flush().context("writing standard output")?;
    }
    Ok(ExitCode::Clean)
}
