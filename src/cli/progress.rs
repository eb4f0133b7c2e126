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

/// A progress bar that exists only when stderr is a terminal (and not `--quiet`).
pub struct Progress {
    bar: Option<ProgressBar>,
    bytes: Arc<AtomicU64>,
    records: u64,
    started: Instant,
}

impl Progress {
    /// `total` = input size in bytes when known (a file).
    pub fn new(enabled: bool, total: Option<u64>, bytes: Arc<AtomicU64>) -> Progress {
        let bar = (enabled && io::stderr().is_terminal()).then(|| {
            let (bar, template) = match total {
                Some(t) => (
                    ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} \
                     ({binary_bytes_per_sec}, ETA {eta}) {msg}",
                ),
                None => (
                    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                    "{spinner} [{elapsed_precise}] {bytes} ({binary_bytes_per_sec}) {msg}",
                ),
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            bytes,
            records: 0,
            started: Instant::now(),
        }
    }

    /// One more record written.
    pub fn record(&mut self) {
        self.records += 1;
        if self.records % 512 != 0 {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.bytes.load(Ordering::Relaxed));
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} records, {:.0} records/s",
                self.records,
                self.records as f64 / secs
            ));
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
