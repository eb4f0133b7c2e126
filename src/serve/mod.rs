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
//! 4. the handler: content type (415), body size (413), JSON (400), then the engine.
//!
//! # Reload
//! [`Server::reload`] loads lexicons and policies again from the [`EngineSource`] on a
//! blocking thread and swaps them in atomically (`arc-swap`): a request holds the engine it
//! started with to its end; a load error keeps the old engine.
//!
//! # Shutdown
//! [`Server::run`] stops accepting when its shutdown future resolves and waits for the
//! requests in flight (axum graceful shutdown); `/readyz` answers 503 meanwhile.

mod handlers;
mod http;
mod metrics;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};

use crate::service::{Engine, EngineError, EngineSource, Limits};

pub use metrics::Metrics;

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
        let engine = Engine::load(&source)?;
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

    /// Load lexicons and policies again and swap them in; on error the old ones stay.
    /// Returns the new version.
    ///
    /// # Errors
    /// The new lexicons or policies do not load.
    pub async fn reload(&self) -> Result<u64, EngineError> {
        let _one_at_a_time = self.state.reload_lock.lock().await;
        let source = self.state.source.clone();
        let loaded = tokio::task::spawn_blocking(move || Engine::load(&source)).await;
        let result = match loaded {
            Ok(r) => r,
            // The load panicked: keep the old engine.
            Err(_) => Err(EngineError::Aborted),
        };
        match result {
            Ok(engine) => {
                let version = self.state.versions.fetch_add(1, Ordering::SeqCst) + 1;
                self.state
                    .engine
                    .store(Arc::new(Loaded { engine, version }));
                self.state.metrics.reloaded(true);
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
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (as [`Server::run`]
    /// does): without a token, `/admin/reload` is taken only from a loopback peer, and a
    /// request whose peer address is unknown is refused.
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
    /// Accepting connections failed.
    pub async fn run<F>(self, listener: TcpListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let app = self.router();
        let state = self.state.clone();
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            state.draining.store(true, Ordering::SeqCst);
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await
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
