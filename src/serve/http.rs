//! HTTP plumbing: JSON error responses and the observe / auth / limit middleware.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Server, ROUTES};
use crate::category::Category;
use crate::policy::Outcome;
use crate::service::RequestError;

/// An error answer: `{"error": {"code", "message"}}`. Messages never quote the request.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u32>,
    /// Answer with `Connection: close` (the connection is not reused).
    pub close: bool,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            close: false,
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, e.kind.code(), e.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, json_body(body.to_string().into_bytes())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// A JSON body with its content type.
pub(crate) fn json_body(bytes: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// `application/json` (any parameters, any case), or `application/<x>+json`.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false);
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
        ))
    }
}

/// What a handler tells the observe layer about a request (kept in response extensions).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Observed {
    pub counts: [u32; 7],
    pub decisions: [u32; 3],
}

impl Observed {
    pub(crate) fn add(&mut self, counts: &[u32; 7], decision: Option<Outcome>) {
        for (a, b) in self.counts.iter_mut().zip(counts) {
            *a += b;
        }
        let slot = match decision {
            Some(Outcome::Accept) => 0,
            Some(Outcome::Mask) => 1,
            Some(Outcome::Reject) => 2,
            None => return,
        };
        self.decisions[slot] += 1;
    }
}

/// The route label for a path: one of [`ROUTES`], or `other`.
fn route_label(path: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|(_, p)| *p == path)
        .map(|(_, p)| *p)
        .unwrap_or("other")
}

/// Outermost layer: metrics, one log line, JSON bodies for bare errors.
pub(crate) async fn observe(State(s): State<Server>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = route_label(req.uri().path());
    let mut resp = next.run(req).await;
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error())
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        // axum's own rejections (405, ...) come without a body we control.
        let code = match status {
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::NOT_FOUND => "not_found",
            _ => "error",
        };
        let headers = std::mem::take(resp.headers_mut());
        resp = ApiError::new(status, code, status.canonical_reason().unwrap_or("error"))
            .into_response();
        for (k, v) in headers.iter() {
            if k != header::CONTENT_LENGTH {
                resp.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    let latency = start.elapsed();
    let observed = resp
        .extensions()
        .get::<Observed>()
        .copied()
        .unwrap_or_default();
    s.state
        .metrics
        .observe(route, status.as_u16(), latency, &observed);
    let categories: Vec<&str> = Category::ALL
        .iter()
        .filter(|c| observed.counts[c.index()] > 0)
        .map(|c| c.as_str())
        .collect();
    tracing::info!(
        target: "art9::access",
        method = %method,
        path = route,
        status = status.as_u16(),
        latency_us = latency.as_micros() as u64,
        categories = %categories.join(","),
        "request"
    );
    resp
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Bearer-token check for the API and admin routes (when a token is configured). Both sides
/// are hashed first so that neither the length nor a prefix of the token leaks by timing.
pub(crate) async fn auth(State(s): State<Server>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.state.config.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().as_bytes());
        let ok = given.is_some_and(|g| bool::from(digest(g).ct_eq(&digest(token))));
        if !ok {
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token",
            )
            .into_response();
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return resp;
        }
    } else if req.uri().path().starts_with("/admin/") {
        // Without a token, admin calls are taken from this machine only.
        let local = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|c| c.0.ip().is_loopback());
        if !local {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "admin calls need a token (--token-file) unless made from loopback",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Concurrency limit (no queueing: 503 + Retry-After) and per-request timeout.
pub(crate) async fn limit(State(s): State<Server>, req: Request, next: Next) -> Response {
    let cfg = &s.state.config;
    // A declared length over the limit is refused before a slot is taken or a byte is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.max_body as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "request body exceeds the server's limit (--max-body)",
        )
        .into_response();
    }
    let Ok(_permit) = s.state.slots.clone().try_acquire_owned() else {
        s.state.metrics.saturated();
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in flight; retry later",
        );
        e.retry_after = Some(cfg.retry_after_secs);
        return e.into_response();
    };
    match tokio::time::timeout(cfg.timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took longer than the server's time limit",
            );
            e.retry_after = Some(cfg.retry_after_secs);
            e.into_response()
        }
    }
}
