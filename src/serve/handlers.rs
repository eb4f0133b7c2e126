//! The endpoints. Scanning is CPU work of microseconds for a typical note, so it runs on the
//! async worker; large bodies go to the blocking pool so that they do not stall other
//! connections.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::http::{json_body, require_json, ApiError, Observed};
use super::{Loaded, ReloadError, Server, OPENAPI_JSON};
use crate::service::{parse_batch, parse_request, ItemResult, Op};

/// Bodies above this size are scanned on the blocking pool.
const INLINE_BYTES: usize = 64 * 1024;

/// The body of a JSON request: 415 for another content type, 413 over `--max-body` (the
/// router's `DefaultBodyLimit`), 408 when it does not arrive whole within the body timeout
/// (with `Connection: close`: the rest of a trickled body is not waited for).
async fn body_bytes(s: &Server, req: Request) -> Result<Bytes, ApiError> {
    require_json(req.headers())?;
    let read = tokio::time::timeout(s.state.config.body_timeout, Bytes::from_request(req, &()));
    let Ok(body) = read.await else {
        let mut e = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body did not arrive within the server's time limit (--body-timeout-ms)",
        );
        e.close = true;
        return Err(e);
    };
    body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "request body exceeds the server's limit (--max-body)",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the request body could not be read",
            )
        }
    })
}

fn to_json<T: Serialize>(value: &T, observed: Observed) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = json_body(bytes);
            resp.extensions_mut().insert(observed);
            resp
        }
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the response could not be encoded",
        )
        .into_response(),
    }
}

/// Run `work` inline or, for large bodies, on the blocking pool.
async fn compute<T, F>(len: usize, work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if len <= INLINE_BYTES {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work).await.map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the scan failed",
        )
    })
}

async fn one(s: &Server, op: Op, req: Request) -> Result<Response, ApiError> {
    let body = body_bytes(s, req).await?;
    let req = parse_request(&body)?;
    // The engine is held by this request until it ends, whatever reloads happen meanwhile.
    let loaded = s.state.engine.load_full();
    let limits = s.state.config.limits;
    let resp = compute(body.len(), move || loaded.engine.handle(op, req, &limits)).await??;
    let mut observed = Observed::default();
    observed.add(&resp.counts, resp.decision);
    Ok(to_json(&resp, observed))
}

pub(crate) async fn check(State(s): State<Server>, req: Request) -> Result<Response, ApiError> {
    one(&s, Op::Check, req).await
}

pub(crate) async fn scan(State(s): State<Server>, req: Request) -> Result<Response, ApiError> {
    one(&s, Op::Scan, req).await
}

pub(crate) async fn mask(State(s): State<Server>, req: Request) -> Result<Response, ApiError> {
    one(&s, Op::Mask, req).await
}

#[derive(Serialize)]
struct BatchResponse {
    results: Vec<ItemResult>,
}

pub(crate) async fn batch(State(s): State<Server>, req: Request) -> Result<Response, ApiError> {
    let body = body_bytes(&s, req).await?;
    let limits = s.state.config.limits;
    let batch = parse_batch(&body, &limits)?;
    let loaded = s.state.engine.load_full();
    let results = compute(body.len(), move || {
        loaded.engine.handle_batch(batch, &limits)
    })
    .await?;
    let mut observed = Observed::default();
    for r in &results {
        if let ItemResult::Ok(resp) = r {
            observed.add(&resp.counts, resp.decision);
        }
    }
    Ok(to_json(&BatchResponse { results }, observed))
}

#[derive(Serialize)]
struct Readiness<'a> {
    status: &'a str,
    version: u64,
    entries: usize,
    patterns: usize,
    default_policy: &'a str,
    policies: Vec<&'a str>,
}

fn readiness<'a>(status: &'a str, loaded: &'a Loaded) -> Readiness<'a> {
    Readiness {
        status,
        version: loaded.version,
        entries: loaded.engine.scanner().entries().len(),
        patterns: loaded.engine.scanner().pattern_count(),
        default_policy: loaded.engine.default_policy(),
        policies: loaded.engine.policy_names().collect(),
    }
}

pub(crate) async fn reload(State(s): State<Server>) -> Result<Response, ApiError> {
    match s.reload().await {
        Ok(_) => {
            let loaded = s.loaded();
            Ok(to_json(
                &readiness("reloaded", &loaded),
                Observed::default(),
            ))
        }
        Err(e @ ReloadError::Engine(_)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reload_failed",
            format!(
                "{e}; still serving version {}",
                s.state.engine.load().version
            ),
        )),
        Err(e @ ReloadError::Tls(_)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reload_failed",
            format!(
                "{e}; lexicons and policies are version {}",
                s.state.engine.load().version
            ),
        )),
    }
}

pub(crate) async fn healthz() -> Response {
    json_body(br#"{"status":"ok"}"#.to_vec())
}

pub(crate) async fn readyz(State(s): State<Server>) -> Response {
    let loaded = s.loaded();
    if s.state.draining.load(Ordering::SeqCst) {
        let mut resp = to_json(&readiness("draining", &loaded), Observed::default());
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return resp;
    }
    to_json(&readiness("ready", &loaded), Observed::default())
}

pub(crate) async fn metrics(State(s): State<Server>) -> Response {
    let in_flight = s
        .state
        .config
        .concurrency
        .max(1)
        .saturating_sub(s.state.slots.available_permits());
    let text = s
        .state
        .metrics
        .render(in_flight, s.state.engine.load().version);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

pub(crate) async fn openapi() -> Response {
    json_body(OPENAPI_JSON.as_bytes().to_vec())
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}
