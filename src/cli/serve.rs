//! `art9 serve`: flags → [`art9::serve::Config`], logging, runtime, signals.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use art9::serve::{shutdown_signal, Config, Server};
use art9::service::{EngineSource, Limits};
use art9::{Category, Lang};

use super::args::{LogFormat, ServeArgs};
use super::ExitCode;

fn init_logging(format: LogFormat, level: &str) -> Result<()> {
    let level: tracing::Level = level
        .parse()
        .map_err(|_| anyhow::anyhow!("--log-level: expected error, warn, info, debug or trace"))?;
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

fn read_token(path: &std::path::Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("--token-file {}", path.display()))?;
    let token = raw.trim_ascii().to_vec();
    if token.is_empty() {
        bail!("--token-file {}: the file is empty", path.display());
    }
    if token.len() < 16 {
        bail!(
            "--token-file {}: use a token of at least 16 bytes",
            path.display()
        );
    }
    Ok(token)
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    init_logging(a.log_format, &a.log_level)?;
    let token = a.token_file.as_deref().map(read_token).transpose()?;
    let source = EngineSource {
        lexicon_paths: a.lexicons.lexicon.clone(),
        no_builtin: a.lexicons.no_builtin,
        langs: a
            .lexicons
            .lang
            .iter()
            .map(|l| l.parse::<Lang>())
            .collect::<Result<_, _>>()?,
        categories: a
            .lexicons
            .category
            .iter()
            .map(|c| c.parse::<Category>())
            .collect::<Result<_, _>>()?,
        policies: a.policy.clone(),
    };
    if a.timeout_ms == 0 || a.concurrency == 0 || a.max_body == 0 {
        bail!("--timeout-ms, --concurrency and --max-body must be positive");
    }
    let config = Config {
        max_body: a.max_body,
        limits: Limits {
            max_fields: a.max_fields,
            max_batch: a.max_batch,
        },
        timeout: Duration::from_millis(a.timeout_ms),
        concurrency: a.concurrency,
        retry_after_secs: 1,
        token,
    };
    let has_token = config.token.is_some();
    let server = Server::new(config, source).context("loading lexicons and policies")?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if a.threads > 0 {
        rt.worker_threads(a.threads);
    }
    let rt = rt.enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        let bound = listener.local_addr()?;
        // Signal handlers first: a supervisor may signal as soon as it sees the address.
        server.reload_on_sighup()?;
        let shutdown = shutdown_signal()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "art9 serve: listening on http://{bound}")?;
            out.flush()?;
        }
        if !bound.ip().is_loopback() && !has_token {
            tracing::warn!(addr = %bound, "listening beyond loopback without --token-file");
        }
        let loaded = server.loaded();
        tracing::info!(
            addr = %bound,
            entries = loaded.engine.scanner().entries().len(),
            policy = loaded.engine.default_policy(),
            "serving"
        );
        server.run(listener, shutdown).await?;
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::Clean)
}
