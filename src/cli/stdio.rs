//! `art9 check --stdio`: the pre-save check as a co-process speaking JSON Lines.
//!
//! One request per line in, one answer per line out, in order, each flushed at once so that
//! a parent process can write a line and wait for its answer. A line that is not a valid
//! request gets an error line (`{"id", "error": {"code", "message"}}`, never quoting the
//! line) and the stream goes on. Blank lines are skipped. Exit 0 at end of input.
//!
//! Memory is bounded: a line over [`MAX_LINE`] bytes is skipped without being buffered and
//! answered with a `line_too_long` error.

use std::io::{self, BufRead, BufWriter, Read, Write};

use anyhow::{Context, Result};
use art9::service::{parse_request, Engine, ErrorBody, ItemResult, Limits, Op};

use super::args::CheckArgs;
use super::common;
use super::ExitCode;

/// Longest request line, in bytes (as `art9 serve`'s default `--max-body`).
pub const MAX_LINE: usize = 1024 * 1024;

/// Consume input up to and including the next newline.
fn skip_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            input.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        input.consume(n);
    }
}

pub fn run(a: &CheckArgs) -> Result<ExitCode> {
    // Loaded first for its `typos` switch; its error still comes after the lexicons'.
    let policy = common::policy(&a.policy);
    let typos = policy.as_ref().is_ok_and(art9::CompiledPolicy::typos);
    let scanner = common::scanner(&a.lexicons, typos)?;
    let policy = policy?;
    let engine = Engine::new(scanner, policy);
    let limits = Limits::default();
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        let n = Read::take(&mut input, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .context("reading standard input")?;
        if n == 0 {
            break;
        }
        let result = if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            skip_line(&mut input).context("reading standard input")?;
            ItemResult::Err {
                id: None,
                error: ErrorBody {
                    code: "line_too_long",
                    message: format!("request line longer than {MAX_LINE} bytes"),
                },
            }
        } else {
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            match parse_request(trimmed).and_then(|r| engine.handle(Op::Check, r, &limits)) {
                Ok(r) => ItemResult::Ok(r),
                Err(e) => e.into_item(),
            }
        };
        serde_json::to_writer(&mut out, &result).context("writing standard output")?;
        out.write_all(b"\n").context("writing standard output")?;
        out.flush().context("writing standard output")?;
    }
    Ok(ExitCode::Clean)
}
