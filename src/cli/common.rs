//! Shared pieces of the commands: loading lexicons and policies, opening input.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use art9::service::{EngineError, EngineSource};
use art9::{Category, CompiledPolicy, Lang, LexiconSet, Scanner, ScannerBuilder};

use super::args::LexiconArgs;
use super::progress::CountingReader;

/// The lexicon flags as the library's engine source (no policies).
pub fn engine_source(a: &LexiconArgs) -> Result<EngineSource> {
    Ok(EngineSource {
        lexicon_paths: a.lexicon.clone(),
        no_builtin: a.no_builtin,
        terms: a.terms.clone(),
        replace_lexicons: a.replace_lexicons,
        langs: a
            .lang
            .iter()
            .map(|l| l.parse::<Lang>())
            .collect::<Result<_, _>>()?,
        categories: a
            .category
            .iter()
            .map(|c| c.parse::<Category>())
            .collect::<Result<_, _>>()?,
        policies: Vec::new(),
        typos: a.typos,
        typo_word_lists: a.typo_word_list.clone(),
    })
}

/// Build the lexicon set the flags ask for, saying on stderr what files replaced.
pub fn lexicon_set(a: &LexiconArgs) -> Result<LexiconSet> {
    let set = engine_source(a)?.lexicon_set().map_err(|e| match e {
        EngineError::NoLexicons => anyhow::anyhow!(
            "no lexicons left to scan with (check --lang, --category, --lexicon, --no-builtin)"
        ),
        EngineError::Lexicon(l) if l.message.starts_with("entry id already used") => {
            anyhow::Error::new(l).context(
                "loading lexicons (to replace the loaded lexicons with these files, as for an \
                 edited copy of the built-in ones, add --replace-lexicons)",
            )
        }
        e => anyhow::Error::new(e).context("loading lexicons"),
    })?;
    report_replaced(&set);
    Ok(set)
}

/// Say on stderr which lexicons were replaced (`replace: true`, `--replace-lexicons`), with
/// how many entries each had: a lexicon file that drops the built-in entries is never silent.
pub fn report_replaced(set: &LexiconSet) {
    for r in set.replaced() {
        eprintln!(
            "art9: {} replaces the {} {} lexicon {} ({} entries, no longer used)",
            r.by, r.lang, r.category, r.path, r.entries
        );
    }
}

/// Build the scanner the flags ask for; `policy_typos`: the policy turns the typo lane on.
pub fn scanner(a: &LexiconArgs, policy_typos: bool) -> Result<Scanner> {
    let set = lexicon_set(a)?;
    let mut builder = ScannerBuilder::new();
    builder.lexicons(set).typos(a.typos || policy_typos);
    for path in &a.typo_word_list {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the word list {}", path.display()))?;
        builder.typo_word_list(text);
    }
    Ok(builder.into_scanner()?)
}

/// Load a policy by name or path.
pub fn policy(name: &str) -> Result<CompiledPolicy> {
    Ok(CompiledPolicy::load(name)?)
}

/// Open the input (`-` = stdin) as a buffered reader that counts the bytes it reads into
/// `count`; also returns the file size when known (for the progress bar). Its capacity is
/// [`art9::input::READ_BUFFER_BYTES`], so that the JSON Lines reader's reads bypass it.
pub fn open_input(
    path: &str,
    count: Arc<AtomicU64>,
) -> Result<(Box<dyn BufRead + Send>, Option<u64>)> {
    if path == "-" {
        let r = CountingReader::new(io::stdin(), count);
        return Ok((
            Box::new(BufReader::with_capacity(art9::input::READ_BUFFER_BYTES, r)),
            None,
        ));
    }
    let f = File::open(path).with_context(|| format!("cannot open {path}"))?;
    let meta = f.metadata().ok();
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        bail!("{path} is a directory, not a file");
    }
    let size = meta.filter(|m| m.is_file()).map(|m| m.len());
    let r = CountingReader::new(f, count);
    Ok((
        Box::new(BufReader::with_capacity(art9::input::READ_BUFFER_BYTES, r)),
        size,
    ))
}

/// Read a whole argument text (`-` = stdin).
pub fn text_arg(text: &str) -> Result<String> {
    if text != "-" {
        return Ok(text.to_string());
    }
    let mut buf = Vec::new();
    io::stdin()
        .read_to_end(&mut buf)
        .context("reading standard input")?;
    match String::from_utf8(buf) {
        Ok(s) => Ok(s),
        Err(e) => bail!(
            "standard input is not valid UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ),
    }
}

/// Does this error chain end in a broken pipe?
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<art9::pipeline::PipelineError>()
                .is_some_and(|p| p.is_broken_pipe())
    })
}

/// Whether two paths name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// An output file written atomically and durably: the content goes to a temporary file in
/// the same directory; [`AtomicFile::commit`] flushes it to the disk (`fsync`), renames it
/// over the name, then syncs the directory so that the rename itself survives a crash. Until
/// then the name is untouched, and a temporary file that is dropped is removed.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    dir: PathBuf,
}

impl AtomicFile {
    /// A temporary file (`.art9-PREFIX-*.tmp`) beside `path`.
    pub fn create(path: &Path, prefix: &str) -> Result<AtomicFile> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".art9-{prefix}-"))
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        Ok(AtomicFile {
            tmp,
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        })
    }

    /// A handle to write the content with (the caller flushes its buffers before
    /// [`AtomicFile::commit`]).
    pub fn file(&self) -> Result<File> {
        self.tmp.reopen().context("reopening the temporary file")
    }

    /// Sync the content, rename the temporary file to the name, sync the directory.
    pub fn commit(self) -> Result<()> {
        let path = self.path.display().to_string();
        self.tmp
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot flush {path} to the disk"))?;
        self.tmp
            .persist(&self.path)
            .with_context(|| format!("cannot rename the temporary file to {path}"))?;
        sync_dir(&self.dir).with_context(|| {
            format!(
                "{path} is written, but its directory {} could not be synced",
                self.dir.display()
            )
        })
    }
}

/// Sync a directory, so that a rename in it is on the disk. A file system that cannot sync
/// directories (it says `EINVAL`) is left as it is; elsewhere than Unix this does nothing
/// (Windows cannot open a directory as a file).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(dir).and_then(|d| d.sync_all()) {
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
