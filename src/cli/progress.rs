//! Progress on stderr (indicatif) when stderr is a terminal, and the Ctrl-C stop flag.

use std::io::{self, IsTerminal, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts the bytes read from the input file (before decoding), for MB/s and the ETA.
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> CountingReader<R> {
    pub fn new(inner: R, count: Arc<AtomicU64>) -> CountingReader<R> {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What the bar counts.
pub enum Unit {
    /// Bytes read from the input file (the counter a [`CountingReader`] fills).
    Bytes(Arc<AtomicU64>),
    /// Rows read from a database.
    Rows,
}

/// Whether a bar would be drawn: asked for (not `--quiet`) and stderr is a terminal. Work
/// done only for the bar (counting a table's rows) is skipped when this is false.
pub fn wanted(enabled: bool) -> bool {
    enabled && io::stderr().is_terminal()
}

/// A progress bar that exists only when stderr is a terminal (and not `--quiet`).
pub struct Progress {
    bar: Option<ProgressBar>,
    unit: Unit,
    records: u64,
    started: Instant,
}

impl Progress {
    /// `total` = input size in bytes (a file) or rows (a counted table), when known.
    pub fn new(enabled: bool, total: Option<u64>, unit: Unit) -> Progress {
        let bar = wanted(enabled).then(|| {
            let template = match (&unit, total) {
                (Unit::Bytes(_), Some(_)) => {
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} \
                     ({binary_bytes_per_sec}, ETA {eta}) {msg}"
                }
                (Unit::Bytes(_), None) => {
                    "{spinner} [{elapsed_precise}] {bytes} ({binary_bytes_per_sec}) {msg}"
                }
                (Unit::Rows, Some(_)) => {
                    "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows \
                     ({msg}, ETA {eta})"
                }
                (Unit::Rows, None) => "{spinner} [{elapsed_precise}] {human_pos} rows ({msg})",
            };
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            // Draw once now: a short scan may end before the ticker thread's first tick, and
            // the user should still see what is being counted. (Before the ticker is
            // installed: with a ticker, `tick` does nothing.)
            bar.tick();
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            unit,
            records: 0,
            started: Instant::now(),
        }
    }

    /// One more record written.
    pub fn record(&mut self) {
        self.records(1);
    }

    /// `n` more records written.
    pub fn records(&mut self, n: u64) {
        let before = self.records;
        self.records += n;
        if self.records / 512 == before / 512 {
            return;
        }
        if let Some(bar) = &self.bar {
            let rate = self.records as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            match &self.unit {
                Unit::Bytes(bytes) => {
                    bar.set_position(bytes.load(Ordering::Relaxed));
                    bar.set_message(format!("{} records, {rate:.0} records/s", self.records));
                }
                Unit::Rows => {
                    bar.set_position(self.records);
                    bar.set_message(format!("{rate:.0} rows/s"));
                }
            }
        }
    }

    /// Remove the bar (before the summary is printed).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A flag set by Ctrl-C: the first one stops reading cleanly, a second one exits at once.
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Fails only when a handler is already set (not in this binary); then Ctrl-C kills.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    stop
}
