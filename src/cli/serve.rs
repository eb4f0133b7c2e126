//! `art9 serve`: flags → [`art9::serve::Config`], logging, runtime, signals.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use art9::serve::{shutdown_signal, Config, Server, Tls, TlsFiles};
use art9::service::{EngineSource, Limits};

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

/// `--addr` as socket addresses: `IP:PORT`, `[IPv6]:PORT` or `HOST:PORT` (resolved here).
fn resolve(addr: &str) -> Result<Vec<SocketAddr>> {
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    if addr
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        bail!("--addr {addr}: expected IP:PORT or HOST:PORT");
    }
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .with_context(|| format!("--addr {addr}: cannot resolve the host"))?
        .collect();
    if addrs.is_empty() {
        bail!("--addr {addr}: the host resolves to no address");
    }
    Ok(addrs)
}

/// Whether every address is loopback (127.0.0.0/8, ::1, or ::ffff:127.x.y.z).
fn all_loopback(addrs: &[SocketAddr]) -> bool {
    addrs.iter().all(|a| match a {
        SocketAddr::V4(v4) => v4.ip().is_loopback(),
        SocketAddr::V6(v6) => {
            v6.ip().is_loopback() || v6.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    })
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    // Refused before anything is loaded or bound: notes would be open to the network.
    let addrs = resolve(&a.addr)?;
    let beyond_loopback = !all_loopback(&addrs);
    if beyond_loopback && a.token_file.is_none() && !a.allow_unauthenticated_network {
        bail!(
            "--addr {} is reachable from other hosts and there is no --token-file: anyone could \
             have notes checked; set --token-file, listen on 127.0.0.1, or pass \
             --allow-unauthenticated-network",
            a.addr
        );
    }
    init_logging(a.log_format, &a.log_level)?;
    let token = a.token_file.as_deref().map(read_token).transpose()?;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(
            Tls::load(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })
            .context("--tls-cert/--tls-key")?,
        ),
        _ => None,
    };
    let source = EngineSource {
        policies: a.policy.clone(),
        ..super::common::engine_source(&a.lexicons)?
    };
    if a.timeout_ms == 0
        || a.header_timeout_ms == 0
        || a.body_timeout_ms == 0
        || a.concurrency == 0
        || a.max_body == 0
    {
        bail!(
            "--timeout-ms, --header-timeout-ms, --body-timeout-ms, --concurrency and --max-body \
             must be positive"
        );
    }
    let config = Config {
        max_body: a.max_body,
        limits: Limits {
            max_fields: a.max_fields,
            max_batch: a.max_batch,
        },
        timeout: Duration::from_millis(a.timeout_ms),
        header_timeout: Duration::from_millis(a.header_timeout_ms),
        body_timeout: Duration::from_millis(a.body_timeout_ms),
        concurrency: a.concurrency,
        retry_after_secs: 1,
        token,
    };
    let has_token = config.token.is_some();
    let server = match tls {
        Some(tls) => Server::with_tls(config, source, tls),
        None => Server::new(config, source),
    }
    .context("loading lexicons and policies")?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if a.threads > 0 {
        rt.worker_threads(a.threads);
    }
    let rt = rt.enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addrs.as_slice())
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        let bound = listener.local_addr()?;
        // Signal handlers first: a supervisor may signal as soon as it sees the address.
        server.reload_on_sighup()?;
        let shutdown = shutdown_signal()?;
        {
            let mut out = std::io::stdout().lock();
            let scheme = if server.is_tls() { "https" } else { "http" };
            writeln!(out, "art9 serve: listening on {scheme}://{bound}")?;
            out.flush()?;
        }
        if beyond_loopback && !has_token {
            tracing::warn!(
                addr = %bound,
                "--allow-unauthenticated-network: listening beyond loopback without \
                 --token-file; anyone who reaches this port can have notes checked"
            );
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
