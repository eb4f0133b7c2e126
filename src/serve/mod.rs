//! `art9 serve`: the pre-save check over HTTP (axum + tokio), on the same [`Engine`] as the
//! library and `art9 check --stdio`.
//!
//! # Endpoints
//! See [`ROUTES`] and `openapi.json` (served at `GET /openapi.json`). `POST /v1/check`,
//! `/v1/scan`, `/v1/mask` take a [`crate::service::Request`]; `POST /v1/batch` takes
//! `{"op": "check", "items": [request, ...]}` and answers `{"results": [...]}` in order.
//!
//! # Layers, outermost first
//! 1. observe: latency, metrics and one log line per request. The path in logs and metric
//!    labels is the *route* (`/v1/check`, or `other`), never the raw URI, so nothing a client
//!    writes reaches a label or a log line; empty error bodies become JSON errors.
//! 2. auth (API and admin routes): `Authorization: Bearer <token>` when a token is set,
//!    compared in constant time (SHA-256 of both sides, then `subtle`).
//! 3. limit (API and admin routes): a concurrency limit (`try_acquire`, never queueing:
//!    503 + `Retry-After` when saturated) and a per-request timeout (503).
//! 4. the handler: content type (415), body size (413), body time (408), JSON (400), then
//!    the engine.
//!
//! # Connections
//! [`Server::run`] accepts in a loop of its own and serves each connection with hyper's
//! HTTP/1 server (axum's `serve` sets no header-read timeout): a request's headers must arrive
//! within [`Config::header_timeout`] of the connection opening or of the previous answer, or
//! the connection is closed (which also ends idle kept-alive connections); with TLS the
//! handshake has the same limit. The body is then read within [`Config::body_timeout`] (408).
//! A client that trickles bytes thus holds one task and one socket for a bounded time, and
//! never blocks the accept loop or other connections.
//!
//! # Reload
//! [`Server::reload`] loads lexicons and policies again from the [`EngineSource`] on a
//! blocking thread and swaps them in atomically (`arc-swap`): a request holds the engine it
//! started with to its end; a load error keeps the old engine. With TLS it also reads the
//! certificate and key again ([`Tls::reload`]); one that fails to load keeps the old one.
//!
//! # Shutdown
//! [`Server::run`] stops accepting when its shutdown future resolves and waits for the
//! requests in flight (hyper-util's graceful shutdown: idle connections are closed, busy ones
//! after their answer); `/readyz` answers 503 meanwhile.

mod handlers;
mod http;
mod metrics;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::routing::{get, post};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore};

use crate::service::{Engine, EngineError, EngineSource, Limits};

pub use metrics::Metrics;
pub use tls::{Tls, TlsError, TlsFiles};

/// Every route: method and path. The OpenAPI document lists each (a test checks).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/check"),
    ("POST", "/v1/scan"),
    ("POST", "/v1/mask"),
    ("POST", "/v1/batch"),
    ("POST", "/admin/reload"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The OpenAPI 3.1 document of [`ROUTES`].
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Service settings (validated flags).
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request body in bytes (larger: 413).
    pub max_body: usize,
    /// Field and batch limits.
    pub limits: Limits,
    /// Per-request time limit (503 when exceeded).
    pub timeout: Duration,
    /// A request's headers (and, with TLS, the handshake) must arrive within this time of the
    /// connection opening or of the previous answer; otherwise the connection is closed.
    pub header_timeout: Duration,
    /// A request's body must arrive whole within this time (408 and close otherwise).
    pub body_timeout: Duration,
    /// Requests handled at once on the API routes (more: 503 + `Retry-After`).
    pub concurrency: usize,
    /// Seconds in `Retry-After` when saturated.
    pub retry_after_secs: u32,
    /// Bearer token; `None` = no authentication (and `/admin/reload` from loopback only).
    pub token: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_body: 1024 * 1024,
            limits: Limits::default(),
            timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(5),
            concurrency: 64,
            retry_after_secs: 1,
            token: None,
        }
    }
}

/// The engine in service and its version (1 at start, +1 per successful reload).
#[derive(Debug)]
pub struct Loaded {
    /// The engine.
    pub engine: Engine,
    /// Its version.
    pub version: u64,
}

#[derive(Debug)]
struct State {
    config: Config,
    source: EngineSource,
    engine: ArcSwap<Loaded>,
    versions: AtomicU64,
    reload_lock: Mutex<()>,
    slots: Arc<Semaphore>,
    draining: AtomicBool,
    metrics: Metrics,
    tls: Option<Tls>,
}

/// A reload that did not (wholly) succeed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// Lexicons or policies did not load; the old ones stay (and the certificate was not read).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Lexicons and policies were reloaded, the TLS certificate or key was not: the old
    /// certificate stays in service.
    #[error("TLS certificate not reloaded, the old one stays in service: {0}")]
    Tls(#[from] TlsError),
}

/// The HTTP service. Cheap to clone (an `Arc` inside).
#[derive(Clone, Debug)]
pub struct Server {
    state: Arc<State>,
}

impl Server {
    /// Load the engine from `source` and prepare the service.
    ///
    /// # Errors
    /// A lexicon or policy that does not load.
    pub fn new(config: Config, source: EngineSource) -> Result<Server, EngineError> {
        Server::build(config, source, None)
    }

    /// As [`Server::new`], serving HTTPS with `tls` (see [`Tls::load`]).
    ///
    /// # Errors
    /// A lexicon or policy that does not load.
    pub fn with_tls(config: Config, source: EngineSource, tls: Tls) -> Result<Server, EngineError> {
        Server::build(config, source, Some(tls))
    }

    fn build(
        config: Config,
        source: EngineSource,
        tls: Option<Tls>,
    ) -> Result<Server, EngineError> {
        let engine = Engine::load(&source)?;
        log_replaced(&engine);
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Ok(Server {
            state: Arc::new(State {
                config,
                source,
                engine: ArcSwap::from_pointee(Loaded { engine, version: 1 }),
                versions: AtomicU64::new(1),
                reload_lock: Mutex::new(()),
                slots,
                draining: AtomicBool::new(false),
                metrics: Metrics::default(),
                tls,
            }),
        })
    }

    /// The engine in service now.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.state.engine.load_full()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// Whether connections are served over TLS.
    pub fn is_tls(&self) -> bool {
        self.state.tls.is_some()
    }

    /// Load lexicons and policies (and, with TLS, the certificate and key) again and swap them
    /// in; on error the old ones stay. Returns the new engine version.
    ///
    /// # Errors
    /// The new lexicons or policies do not load (nothing changed), or the certificate does not
    /// (the new lexicons and policies are in service, the old certificate too).
    pub async fn reload(&self) -> Result<u64, ReloadError> {
        let _one_at_a_time = self.state.reload_lock.lock().await;
        let version = self.reload_engine().await?;
        if self.state.tls.is_some() {
            let server = self.clone();
            let reloaded = tokio::task::spawn_blocking(move || {
                server.state.tls.as_ref().map_or(Ok(()), Tls::reload)
            })
            .await;
            let result = match reloaded {
                Ok(r) => r,
                // The load panicked: keep the old certificate.
                Err(_) => Err(TlsError::Aborted),
            };
            if let Err(e) = result {
                self.state.metrics.reloaded(false);
                tracing::warn!(error = %e, "TLS reload failed; keeping the certificate in service");
                return Err(e.into());
            }
            tracing::info!("TLS certificate reloaded");
        }
        self.state.metrics.reloaded(true);
        Ok(version)
    }

    async fn reload_engine(&self) -> Result<u64, EngineError> {
        let source = self.state.source.clone();
        let loaded = tokio::task::spawn_blocking(move || Engine::load(&source)).await;
        let result = match loaded {
            Ok(r) => r,
            // The load panicked: keep the old engine.
            Err(_) => Err(EngineError::Aborted),
        };
        match result {
            Ok(engine) => {
                log_replaced(&engine);
                let version = self.state.versions.fetch_add(1, Ordering::SeqCst) + 1;
                self.state
                    .engine
                    .store(Arc::new(Loaded { engine, version }));
                tracing::info!(version, "lexicons and policies reloaded");
                Ok(version)
            }
            Err(e) => {
                self.state.metrics.reloaded(false);
                tracing::warn!(error = %e, "reload failed; keeping the loaded version");
                Err(e)
            }
        }
    }

    /// The axum router (all routes and layers), for embedding in an application's own server.
    ///
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (or put
    /// `ConnectInfo<SocketAddr>` in each request's extensions, as [`Server::run`] does):
    /// without a token, `/admin/reload` is taken only from a loopback peer, and a request whose
    /// peer address is unknown is refused. The header timeout is [`Server::run`]'s; the body
    /// timeout is the router's own.
    pub fn router(&self) -> Router {
        let st = self.clone();
        let api = Router::new()
            .route("/v1/check", post(handlers::check))
            .route("/v1/scan", post(handlers::scan))
            .route("/v1/mask", post(handlers::mask))
            .route("/v1/batch", post(handlers::batch))
            .route("/admin/reload", post(handlers::reload))
            .layer(axum::middleware::from_fn_with_state(
                st.clone(),
                http::limit,
            ))
            .layer(axum::middleware::from_fn_with_state(st.clone(), http::auth));
        let open = Router::new()
            .route("/healthz", get(handlers::healthz))
            .route("/readyz", get(handlers::readyz))
            .route("/metrics", get(handlers::metrics))
            .route("/openapi.json", get(handlers::openapi));
        Router::new()
            .merge(api)
            .merge(open)
            .fallback(handlers::not_found)
            .layer(DefaultBodyLimit::max(self.state.config.max_body))
            .layer(axum::middleware::from_fn_with_state(
                st.clone(),
                http::observe,
            ))
            .with_state(st)
    }

    /// Serve on `listener` until `shutdown` resolves, then finish the requests in flight.
    ///
    /// # Errors
    /// None so far: a failed accept (e.g. out of file descriptors) is logged and retried.
    pub async fn run<F>(self, listener: TcpListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let app = self.router();
        let cfg = &self.state.config;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(cfg.header_timeout)
            .keep_alive(true);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Per-connection errors (reset before accept) and resource limits
                        // (EMFILE): log, pause briefly, go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let conn = Connection {
                app: app.clone(),
                http: http.clone(),
                peer,
                handshake_timeout: cfg.header_timeout,
                tls: self.state.tls.as_ref().map(Tls::acceptor),
            };
            tokio::spawn(conn.serve(stream, graceful.watcher()));
        }
        drop(listener);
        self.state.draining.store(true, Ordering::SeqCst);
        tracing::info!("shutting down: finishing requests in flight");
        graceful.shutdown().await;
        Ok(())
    }

    /// Reload on every SIGHUP, for as long as the runtime runs.
    ///
    /// # Errors
    /// The signal handler cannot be installed.
    pub fn reload_on_sighup(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        let server = self.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading");
                let _ = server.reload().await;
            }
        });
        Ok(())
    }
}

/// Resolves at the first SIGTERM or SIGINT.
///
/// # Errors
/// The signal handlers cannot be installed.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

/// One accepted connection, before the TLS handshake (if any).
struct Connection {
    app: Router,
    http: http1::Builder,
    peer: SocketAddr,
    handshake_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, watcher: Watcher) {
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => self.http(stream, watcher).await,
            Some(acceptor) => {
                let accepted =
                    tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream)).await;
                match accepted {
                    Ok(Ok(tls_stream)) => self.http(tls_stream, watcher).await,
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            }
        }
    }

    async fn http<I>(&self, io: I, watcher: Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (app, peer) = (self.app.clone(), self.peer);
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            tower_service::Service::call(&mut app, req)
        });
        let conn = self.http.serve_connection(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(conn).await {
            // Header timeouts, resets, malformed requests: the client's doing, not an error here.
            tracing::debug!(error = %e, "connection ended");
        }
    }
}

/// Log each lexicon that a `replace: true` file (or `--replace-lexicons`) replaced.
fn log_replaced(engine: &Engine) {
    for r in engine.replaced() {
        tracing::warn!(
            file = %r.by,
            replaced = %r.path,
            lang = %r.lang,
            category = %r.category,
            entries = r.entries,
            "lexicon replaced; its entries are no longer used"
        );
    }
}
