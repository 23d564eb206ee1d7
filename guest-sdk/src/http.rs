//! Outbound HTTP over `wasi:http/outgoing-handler`.
//!
//! The host only lets requests through to allow-listed hosts, and blocks private
//! networks after DNS. A refused request is an ordinary error value
//! ([`HttpError::Denied`]), never a trap.
//!
//! ```no_run
//! # use runbox_sdk::{Context, RunbookError};
//! # fn notify(ctx: &Context) -> Result<(), RunbookError> {
//! let response = ctx
//!     .http()
//!     .post("https://hooks.example.com/revoked")
//!     .header("x-runbox-dispatch", ctx.invocation().dispatch_id())
//!     .json(&serde_json::json!({"user": "agent@example.com"}))?
//!     .send()?
//!     .error_for_status()?;
//! ctx.log().info(format!("notified: {}", response.status));
//! # Ok(())
//! # }
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Starts requests. Get one with [`Context::http`](crate::Context::http).
#[derive(Debug, Clone, Copy)]
pub struct Http {
    _private: (),
}

impl Http {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// A request with this method.
    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A `GET` request.
    pub fn get(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Get, url)
    }

    /// A `POST` request.
    pub fn post(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Post, url)
    }

    /// A `PUT` request.
    pub fn put(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Put, url)
    }

    /// A `PATCH` request.
    pub fn patch(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Patch, url)
    }

    /// A `DELETE` request.
    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Delete, url)
    }
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

/// A request being built; [`send`](Self::send) runs it.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

impl RequestBuilder {
    /// Adds a header (names are case-insensitive; repeated names add values). The host
    /// refuses hop-by-hop headers such as `host`, `connection` or `transfer-encoding`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    /// Adds `authorization: Bearer <token>`.
    #[must_use]
    pub fn bearer_auth(self, token: impl fmt::Display) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the body to `value` as JSON and `content-type: application/json` (unless a
    /// content type is set already).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(value).map_err(|e| HttpError::Json {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        if !self.has_header("content-type") {
            self.headers
                .push(("content-type".to_owned(), b"application/json".to_vec()));
        }
        self.body = Some(body);
        Ok(self)
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Sends the request, writes the body, and reads the whole response.
    ///
    /// Any status is a response: use [`Response::error_for_status`] to turn 4xx/5xx
    /// into an error.
    pub fn send(mut self) -> Result<Response, HttpError> {
        let target = parse_url(&self.url).map_err(|reason| HttpError::InvalidRequest {
            url: self.url.clone(),
            reason,
        })?;
        if let Some(body) = &self.body
            && !self.has_header("content-length")
        {
            self.headers.push((
                "content-length".to_owned(),
                body.len().to_string().into_bytes(),
            ));
        }
        if crate::IN_SANDBOX {
            wasi::send(self, target)
        } else {
            Err(HttpError::Unavailable { url: self.url })
        }
    }
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values (non-UTF-8 bytes replaced).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
    url: String,
}

impl Response {
    /// The URL that was requested.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Json {
            url: self.url.clone(),
            reason: e.to_string(),
        })
    }

    /// `self` for a 1xx-3xx status, else [`HttpError::Status`] with the start of the body.
    pub fn error_for_status(self) -> Result<Self, HttpError> {
        if self.status < 400 {
            return Ok(self);
        }
        const SHOWN: usize = 512;
        let text = self.text();
        let body = match text.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text,
        };
        Err(HttpError::Status {
            url: self.url,
            status: self.status,
            body,
        })
    }
}

/// Why a request did not produce a response (or, from
/// [`Response::error_for_status`], an unwanted status).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The host's egress policy refused the request: the host is not on the allow-list
    /// (`HttpRequestDenied`) or resolved to a prohibited address
    /// (`DestinationIpProhibited`).
    Denied {
        /// The URL that was requested.
        url: String,
        /// What the host reported.
        reason: String,
    },
    /// The request could not be formed: a bad URL, header or method.
    InvalidRequest {
        /// The URL that was requested.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A DNS, connect or read timeout.
    Timeout {
        /// The URL that was requested.
        url: String,
        /// Which timeout.
        reason: String,
    },
    /// DNS, connection, TLS or protocol failure.
    Transport {
        /// The URL that was requested.
        url: String,
        /// What failed.
        reason: String,
    },
    /// Writing the request body or reading the response body failed.
    Body {
        /// The URL that was requested.
        url: String,
        /// What failed.
        reason: String,
    },
    /// Serialising the request body or parsing the response as JSON failed.
    Json {
        /// The URL that was requested.
        url: String,
        /// The serde error.
        reason: String,
    },
    /// A 4xx/5xx status, from [`Response::error_for_status`].
    Status {
        /// The URL that was requested.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// Outbound HTTP needs the runbox host; this build is not running in it.
    Unavailable {
        /// The URL that was requested.
        url: String,
    },
}

impl HttpError {
    /// Whether trying again later may succeed: timeouts, transport failures and 5xx or
    /// 429 statuses.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Transport { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The URL that was requested.
    pub fn url(&self) -> &str {
        match self {
            Self::Denied { url, .. }
            | Self::InvalidRequest { url, .. }
            | Self::Timeout { url, .. }
            | Self::Transport { url, .. }
            | Self::Body { url, .. }
            | Self::Json { url, .. }
            | Self::Status { url, .. }
            | Self::Unavailable { url } => url,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied { url, reason } => {
                write!(
                    f,
                    "request to {url} denied by the host's egress policy: {reason}"
                )
            }
            Self::InvalidRequest { url, reason } => write!(f, "invalid request to {url}: {reason}"),
            Self::Timeout { url, reason } => write!(f, "request to {url} timed out: {reason}"),
            Self::Transport { url, reason } => write!(f, "request to {url} failed: {reason}"),
            Self::Body { url, reason } => write!(f, "request to {url}: body: {reason}"),
            Self::Json { url, reason } => write!(f, "request to {url}: JSON: {reason}"),
            Self::Status { url, status, body } => {
                write!(f, "request to {url} answered {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            Self::Unavailable { url } => write!(
                f,
                "request to {url}: outbound HTTP needs the runbox host (not available on this target)"
            ),
        }
    }
}

impl std::error::Error for HttpError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UrlScheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    scheme: UrlScheme,
    authority: String,
    path_with_query: String,
}

/// Splits an absolute `http(s)://authority/path?query` URL; the fragment is dropped.
fn parse_url(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "expected an absolute http:// or https:// URL".to_owned())?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        UrlScheme::Https
    } else if scheme.eq_ignore_ascii_case("http") {
        UrlScheme::Http
    } else {
        return Err(format!("unsupported scheme {scheme:?} (use http or https)"));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() {
        return Err("missing host".to_owned());
    }
    if authority.contains('@') {
        return Err("credentials in the URL are not supported; send a header instead".to_owned());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL contains whitespace or control characters".to_owned());
    }
    let tail = tail.split('#').next().unwrap_or_default();
    let path_with_query = if tail.is_empty() {
        "/".to_owned()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_owned()
    };
    Ok(Target {
        scheme,
        authority: authority.to_owned(),
        path_with_query,
    })
}

/// The `wasi:http` plumbing. Compiled on every target (so it is type-checked and linted
/// everywhere) but only called inside the sandbox.
mod wasi {
    use super::{HttpError, Method, RequestBuilder, Response, Target, UrlScheme};
    use crate::bindings::wasi::http::outgoing_handler;
    use crate::bindings::wasi::http::types::{
        self as http, ErrorCode, FutureIncomingResponse, IncomingResponse, OutgoingBody,
    };
    use crate::bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};

    /// Bytes asked for per read of the response body.
    const READ_CHUNK: u64 = 64 * 1024;

    pub(super) fn send(request: RequestBuilder, target: Target) -> Result<Response, HttpError> {
        let RequestBuilder {
            method,
            url,
            headers,
            body,
        } = request;
        let invalid = |reason: String| HttpError::InvalidRequest {
            url: url.clone(),
            reason,
        };

        let fields = http::Fields::from_list(&headers).map_err(|e| {
            invalid(match e {
                http::HeaderError::Forbidden => {
                    "a header is not allowed by the host (hop-by-hop or host)".to_owned()
                }
                other => format!("bad header: {other:?}"),
            })
        })?;
        let outgoing = http::OutgoingRequest::new(fields);
        outgoing
            .set_method(&wit_method(method))
            .map_err(|()| invalid("bad method".to_owned()))?;
        outgoing
            .set_scheme(Some(&match target.scheme {
                UrlScheme::Http => http::Scheme::Http,
                UrlScheme::Https => http::Scheme::Https,
            }))
            .map_err(|()| invalid("bad scheme".to_owned()))?;
        outgoing
            .set_authority(Some(&target.authority))
            .map_err(|()| invalid(format!("bad host {:?}", target.authority)))?;
        outgoing
            .set_path_with_query(Some(&target.path_with_query))
            .map_err(|()| invalid(format!("bad path {:?}", target.path_with_query)))?;
        // Without a body, never take the body resource: a request with an (empty)
        // streamed body goes out chunked, which some servers refuse for GET.
        let outgoing_body = match &body {
            Some(_) => Some(
                outgoing
                    .body()
                    .map_err(|()| invalid("the request body was already taken".to_owned()))?,
            ),
            None => None,
        };

        // Hand the request over first, then stream the body: the host consumes the
        // body while sending, so writing a large body before `handle` could fill the
        // host's buffer and block forever.
        let future = outgoing_handler::handle(outgoing, None).map_err(|c| from_code(&url, c))?;

        let body_result = match (outgoing_body, &body) {
            (Some(outgoing_body), Some(bytes)) => write_body(outgoing_body, bytes),
            _ => Ok(()),
        };

        // A refused or failed request usually shows up as a failed body write first; the
        // response future then says why, so it takes precedence. And when a response
        // did arrive, it is the truth about the request (a server may answer, e.g. 413,
        // before reading the whole body): a body-write error alone is reported only when
        // there is no response.
        let incoming = match wait_response(&future) {
            Ok(incoming) => incoming,
            Err(code) => {
                return Err(match body_result {
                    Err(reason) if matches!(code, ErrorCode::InternalError(_)) => HttpError::Body {
                        url,
                        reason: format!("writing the request body: {reason}"),
                    },
                    _ => from_code(&url, code),
                });
            }
        };
        drop(future);
        read_response(incoming, url)
    }

    fn wit_method(method: Method) -> http::Method {
        match method {
            Method::Get => http::Method::Get,
            Method::Head => http::Method::Head,
            Method::Post => http::Method::Post,
            Method::Put => http::Method::Put,
            Method::Patch => http::Method::Patch,
            Method::Delete => http::Method::Delete,
            Method::Options => http::Method::Options,
        }
    }

    /// Writes `bytes` as the whole request body, respecting the stream's write budget
    /// (`check-write`), then finishes the body.
    fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), String> {
        let stream = body
            .write()
            .map_err(|()| "the body stream was already taken".to_owned())?;
        let written = write_all(&stream, bytes);
        // The stream is a child of the body: drop it before finishing the body.
        drop(stream);
        written?;
        OutgoingBody::finish(body, None).map_err(|code| describe_code(&code).1)
    }

    fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), String> {
        let pollable = stream.subscribe();
        while !bytes.is_empty() {
            let budget = stream.check_write().map_err(|e| stream_error(&e))?;
            if budget == 0 {
                pollable.block();
                continue;
            }
            let n = usize::try_from(budget)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            stream.write(&bytes[..n]).map_err(|e| stream_error(&e))?;
            bytes = &bytes[n..];
        }
        match stream.flush() {
            // Every byte was handed over and the host already closed the stream: with a
            // content-length body, reaching the declared length ends it.
            Ok(()) | Err(StreamError::Closed) => {}
            Err(e) => return Err(stream_error(&e)),
        }
        // The flush is done when the stream accepts writes again, or is closed because
        // the whole body has been consumed.
        loop {
            pollable.block();
            match stream.check_write() {
                Ok(0) => continue,
                Ok(_) | Err(StreamError::Closed) => return Ok(()),
                Err(e) => return Err(stream_error(&e)),
            }
        }
    }

    fn wait_response(future: &FutureIncomingResponse) -> Result<IncomingResponse, ErrorCode> {
        loop {
            match future.get() {
                Some(Ok(result)) => return result,
                Some(Err(())) => {
                    return Err(ErrorCode::InternalError(Some(
                        "the response was already taken".to_owned(),
                    )));
                }
                None => future.subscribe().block(),
            }
        }
    }

    fn read_response(incoming: IncomingResponse, url: String) -> Result<Response, HttpError> {
        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect();
        let body_error = |reason: String| HttpError::Body {
            url: url.clone(),
            reason: format!("reading the response body: {reason}"),
        };
        let incoming_body = incoming
            .consume()
            .map_err(|()| body_error("already consumed".to_owned()))?;
        let stream = incoming_body
            .stream()
            .map_err(|()| body_error("the stream was already taken".to_owned()))?;
        let read = read_all(&stream);
        // Children before parents: stream, then body, then response.
        drop(stream);
        drop(http::IncomingBody::finish(incoming_body));
        drop(incoming);
        let body = read.map_err(|reason| match reason {
            ReadError::Code(code) => from_code(&url, code),
            ReadError::Other(reason) => body_error(reason),
        })?;
        Ok(Response {
            status,
            headers,
            body,
            url,
        })
    }

    enum ReadError {
        Code(ErrorCode),
        Other(String),
    }

    fn read_all(stream: &InputStream) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => return Ok(body),
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(match http::http_error_code(&error) {
                        Some(code) => ReadError::Code(code),
                        None => ReadError::Other(error.to_debug_string()),
                    });
                }
            }
        }
    }

    fn stream_error(error: &StreamError) -> String {
        match error {
            StreamError::Closed => "the stream was closed".to_owned(),
            StreamError::LastOperationFailed(e) => match http::http_error_code(e) {
                Some(code) => describe_code(&code).1,
                None => e.to_debug_string(),
            },
        }
    }

    #[derive(Clone, Copy)]
    pub(super) enum Class {
        Denied,
        Invalid,
        Timeout,
        Transport,
        Body,
    }

    pub(super) fn from_code(url: &str, code: ErrorCode) -> HttpError {
        let (class, reason) = describe_code(&code);
        let url = url.to_owned();
        match class {
            Class::Denied => HttpError::Denied { url, reason },
            Class::Invalid => HttpError::InvalidRequest { url, reason },
            Class::Timeout => HttpError::Timeout { url, reason },
            Class::Transport => HttpError::Transport { url, reason },
            Class::Body => HttpError::Body { url, reason },
        }
    }

    /// A class and a readable reason for a `wasi:http` error code.
    pub(super) fn describe_code(code: &ErrorCode) -> (Class, String) {
        use Class::*;
        use ErrorCode as E;
        let (class, reason): (Class, String) = match code {
            E::HttpRequestDenied => (Denied, "the host is not on the allow-list".into()),
            E::DestinationIpProhibited => (
                Denied,
                "the destination address is prohibited (private or reserved network)".into(),
            ),
            E::DnsTimeout => (Timeout, "DNS lookup timed out".into()),
            E::ConnectionTimeout => (Timeout, "connect timed out".into()),
            E::ConnectionReadTimeout => (Timeout, "read timed out".into()),
            E::ConnectionWriteTimeout => (Timeout, "write timed out".into()),
            E::HttpResponseTimeout => (Timeout, "no response in time".into()),
            E::DnsError(p) => (
                Transport,
                format!(
                    "DNS lookup failed{}",
                    p.rcode
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
            ),
            E::DestinationNotFound => (Transport, "destination not found".into()),
            E::DestinationUnavailable => (Transport, "destination unavailable".into()),
            E::DestinationIpUnroutable => (Transport, "destination unroutable".into()),
            E::ConnectionRefused => (Transport, "connection refused".into()),
            E::ConnectionTerminated => (Transport, "connection terminated".into()),
            E::ConnectionLimitReached => (Transport, "connection limit reached".into()),
            E::TlsProtocolError => (Transport, "TLS protocol error".into()),
            E::TlsCertificateError => (Transport, "TLS certificate error".into()),
            E::TlsAlertReceived(p) => (
                Transport,
                format!(
                    "TLS alert received{}",
                    p.alert_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ),
            ),
            E::HttpRequestMethodInvalid => (Invalid, "invalid method".into()),
            E::HttpRequestUriInvalid => (Invalid, "invalid URI".into()),
            E::HttpRequestUriTooLong => (Invalid, "URI too long".into()),
            E::HttpRequestLengthRequired
            | E::HttpRequestBodySize(_)
            | E::HttpRequestHeaderSectionSize(_)
            | E::HttpRequestHeaderSize(_)
            | E::HttpRequestTrailerSectionSize(_)
            | E::HttpRequestTrailerSize(_) => (Invalid, format!("request refused: {code:?}")),
            E::HttpResponseIncomplete
            | E::HttpResponseHeaderSectionSize(_)
            | E::HttpResponseHeaderSize(_)
            | E::HttpResponseBodySize(_)
            | E::HttpResponseTrailerSectionSize(_)
            | E::HttpResponseTrailerSize(_)
            | E::HttpResponseTransferCoding(_)
            | E::HttpResponseContentCoding(_) => (Body, format!("bad response: {code:?}")),
            E::HttpUpgradeFailed | E::HttpProtocolError | E::LoopDetected => {
                (Transport, format!("{code:?}"))
            }
            E::ConfigurationError => (Transport, "host configuration error".into()),
            E::InternalError(Some(message)) => (Transport, message.clone()),
            E::InternalError(None) => (Transport, "internal error".into()),
        };
        (class, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wasi::http::types::ErrorCode;

    #[test]
    fn urls() {
        let t = parse_url("https://api.example.com/v1/x?y=1#frag").unwrap();
        assert_eq!(t.scheme, UrlScheme::Https);
        assert_eq!(t.authority, "api.example.com");
        assert_eq!(t.path_with_query, "/v1/x?y=1");
        let t = parse_url("HTTP://127.0.0.1:8080").unwrap();
        assert_eq!(t.scheme, UrlScheme::Http);
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path_with_query, "/");
        assert_eq!(parse_url("http://h?q=1").unwrap().path_with_query, "/?q=1");
        assert!(
            parse_url("ftp://h/")
                .unwrap_err()
                .contains("unsupported scheme")
        );
        assert!(parse_url("example.com/x").is_err());
        assert!(
            parse_url("https:///x")
                .unwrap_err()
                .contains("missing host")
        );
        assert!(
            parse_url("https://u:p@h/")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(parse_url("https://h/a b").is_err());
    }

    #[test]
    fn denials_name_the_url() {
        let error = wasi::from_code("https://evil.example/x", ErrorCode::HttpRequestDenied);
        assert!(matches!(error, HttpError::Denied { .. }));
        assert_eq!(
            error.to_string(),
            "request to https://evil.example/x denied by the host's egress policy: the host is not on the allow-list"
        );
        assert!(!error.is_retryable());
        let error = wasi::from_code("http://10.0.0.1/", ErrorCode::DestinationIpProhibited);
        assert!(matches!(error, HttpError::Denied { .. }));
        let error = wasi::from_code("http://h/", ErrorCode::ConnectionTimeout);
        assert!(matches!(error, HttpError::Timeout { .. }));
        assert!(error.is_retryable());
        let error = wasi::from_code("http://h/", ErrorCode::InternalError(Some("boom".into())));
        assert_eq!(error.to_string(), "request to http://h/ failed: boom");
    }

    #[test]
    fn builder_and_stub() {
        let request = Http::new()
            .post("http://127.0.0.1:9/hook")
            .header("x-a", "1")
            .json(&serde_json::json!({"a": 1}))
            .unwrap();
        assert!(request.has_header("Content-Type"));
        assert_eq!(request.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert!(matches!(request.send(), Err(HttpError::Unavailable { .. })));
        assert!(matches!(
            Http::new().get("nope").send(),
            Err(HttpError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn responses() {
        let response = Response {
            status: 503,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"busy":true}"#.to_vec(),
            url: "http://h/".into(),
        };
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert!(!response.is_success());
        assert_eq!(
            response.json::<serde_json::Value>().unwrap()["busy"],
            serde_json::json!(true)
        );
        let error = response.error_for_status().unwrap_err();
        assert!(error.is_retryable());
        assert_eq!(
            error.to_string(),
            r#"request to http://h/ answered 503: {"busy":true}"#
        );
    }
}
