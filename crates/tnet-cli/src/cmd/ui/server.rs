//! The dashboard's routes, the access check every request passes first, and
//! the state the pages share.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::access::{self, Token};
use super::html::esc;
use super::live::Live;
use super::Acting;
use crate::client::Client;

/// What every request handler shares.
pub struct Ui {
    /// The session to the hosts.
    pub client: Client,
    /// The URL's secret.
    pub token: Token,
    /// The cookie that keeps it.
    pub cookie: String,
    /// Who the dashboard acts as.
    pub acting: Acting,
    /// Updates from the hosts, for every open page.
    pub live: Live,
}

/// Shared state as handlers receive it.
pub type Shared = State<Arc<Ui>>;

impl Ui {
    /// `path` with the CSRF token in its query, for a form's action.
    pub fn action(&self, path: &str) -> String {
        format!("{path}?{}={}", access::CSRF_PARAM, self.token.as_str())
    }
}

/// Every route, behind the access check.
pub fn router(state: Arc<Ui>) -> Router {
    Router::new()
        .route("/", get(super::hosts::page))
        .route("/tasks", get(super::tasks::page))
        .route("/task/{host}/{name}", get(super::task::page))
        .route("/task/{host}/{name}/{action}", post(super::task::act))
        .route("/habits", get(super::habits::page))
        .route("/services", get(super::services::page))
        .route("/services/{host}/{name}/call", post(super::services::call))
        .route("/inbox", get(super::inbox::page))
        .route("/inbox/{host}/{id}/ack", post(super::inbox::ack))
        .route("/live", get(super::live::stream))
        .route("/ui.css", get(css))
        .route("/ui.js", get(js))
        .layer(axum::extract::DefaultBodyLimit::max(
            super::services::MAX_INPUT,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), check_access))
        .with_state(state)
}

/// Lets a request through only with the token: in the cookie, or in the
/// URL on a first visit (answered with the cookie and a redirect to the
/// same page without it). A request that changes something must also carry
/// the token in its URL and come from the dashboard's own origin.
async fn check_access(State(ui): Shared, request: Request, next: Next) -> Response {
    let query = request.uri().query();
    let headers = request.headers();
    let from_cookie = access::cookie(
        headers.get(header::COOKIE).and_then(|v| v.to_str().ok()),
        &ui.cookie,
    );
    let cookie_ok = from_cookie.is_some_and(|t| ui.token.matches(&t));
    if request.method() == Method::GET {
        if let Some(given) = access::query_param(query, access::TOKEN_PARAM) {
            if !ui.token.matches(&given) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "this dashboard's URL has another token: copy the URL `tnet ui` printed",
                );
            }
            let cookie = format!(
                "{}={}; Path=/; HttpOnly; SameSite=Strict",
                ui.cookie,
                ui.token.as_str()
            );
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::SEE_OTHER;
            let headers = response.headers_mut();
            headers.insert(
                header::LOCATION,
                HeaderValue::from_str(request.uri().path())
                    .unwrap_or(HeaderValue::from_static("/")),
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, value);
            }
            return response;
        }
        if !cookie_ok {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "no token: open the URL `tnet ui` printed, with its ?token=",
            );
        }
        return next.run(request).await;
    }
    let csrf = access::query_param(query, access::CSRF_PARAM);
    if !csrf.is_some_and(|t| ui.token.matches(&t)) {
        return refuse(StatusCode::FORBIDDEN, "a request that changes something needs the dashboard's token in its URL (the dashboard's own forms carry it)");
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !access::same_origin(origin, host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "this request comes from another site's page: refused",
        );
    }
    next.run(request).await
}

/// A refusal as a short page.
pub fn refuse(status: StatusCode, why: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>{status}</title><p>{}</p>\n",
        esc(why)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A request the host refused or did not answer: 403 when its access
/// control refused this identity (as `Client` tells it apart), 502 otherwise.
pub fn host_refused(err: &anyhow::Error) -> Response {
    let text = format!("{err:#}");
    let status = if text.starts_with("not allowed") {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_GATEWAY
    };
    refuse(status, &text)
}

/// An HTML page.
pub fn html(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // Only the dashboard's own script and style; never inside another site's frame.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/ui.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/ui.js"),
    )
        .into_response()
}

/// A time as people read it in a table (`when` of the command line).
pub fn when(t: Option<&str>) -> String {
    crate::output::when(t)
}
