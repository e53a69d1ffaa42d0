//! Who may use the write endpoints (`POST /loggers/...`, the profiler). While the report server
//! is not exposed (the default: loopback only), anyone who can reach it may. Once
//! `expose: true` is set, whatever address is bound, each write request needs
//! `Authorization: Bearer <token>` with the token from the settings: 401 without one, 403 with
//! a wrong one (and 403 for all when no token is configured).

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::secret::Secret;

/// The rule for write requests, from the report server's settings.
#[derive(Debug, Clone)]
pub(crate) struct WriteAccess {
    exposed: bool,
    token: Option<Secret<String>>,
}

impl WriteAccess {
    pub(crate) fn new(exposed: bool, token: Option<Secret<String>>) -> Self {
        let token = token.filter(|token| !token.expose().is_empty());
        WriteAccess { exposed, token }
    }

    /// Whether writes are refused to everyone: exposed, but no token to check against.
    pub(crate) fn locked(&self) -> bool {
        self.exposed && self.token.is_none()
    }

    /// `None` if the request may write, otherwise the refusal.
    fn refusal(&self, authorization: Option<&[u8]>) -> Option<(StatusCode, &'static str)> {
        if !self.exposed {
            return None;
        }
        let Some(expected) = &self.token else {
            return Some((
                StatusCode::FORBIDDEN,
                "write endpoints are off: the report server is exposed and no `token` is set",
            ));
        };
        let Some(given) = authorization.and_then(|value| value.strip_prefix(b"Bearer ")) else {
            return Some((
                StatusCode::UNAUTHORIZED,
                "this endpoint needs `Authorization: Bearer <token>`",
            ));
        };
        match same_bytes(given, expected.expose().as_bytes()) {
            true => None,
            false => Some((StatusCode::FORBIDDEN, "wrong token")),
        }
    }
}

/// Compares without stopping at the first difference, so the time taken says nothing about
/// how much of a guess was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Middleware for the write routes.
pub(crate) async fn guard(
    State(access): State<WriteAccess>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes());
    match access.refusal(authorization) {
        None => next.run(request).await,
        Some((code, message)) => {
            let mut response = (code, message).into_response();
            if code == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_needs_the_right_bearer_token() {
        let open = WriteAccess::new(false, Some(Secret::new("t".into())));
        assert_eq!(open.refusal(None), None);
        let exposed = WriteAccess::new(true, Some(Secret::new("s3cret".into())));
        assert_eq!(exposed.refusal(None).unwrap().0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            exposed.refusal(Some(b"Bearer nope")).unwrap().0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(exposed.refusal(Some(b"Bearer s3cret")), None);
        let locked = WriteAccess::new(true, None);
        assert!(locked.locked());
        assert_eq!(
            locked.refusal(Some(b"Bearer x")).unwrap().0,
            StatusCode::FORBIDDEN
        );
    }
}
