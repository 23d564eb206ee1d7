//! Host side of `wasi:http/outgoing-handler`: the [`WasiHttpHooks`] that enforce the
//! [`EgressPolicy`] and send the request themselves.
//!
//! wasmtime-wasi-http's default sender resolves and connects by name. Here the name is
//! checked against the allow-list first, resolved once, every resolved address is checked,
//! and the TCP connection goes to a *checked* address: the name is never resolved again,
//! so DNS rebinding cannot slip a private address in between check and connect. TLS
//! verifies the certificate against the requested name (webpki roots, ring, HTTP/1.1).
//!
//! A denial is an `error-code` the guest can handle (`HTTP-request-denied` for a name,
//! `destination-IP-prohibited` for an address), never a trap; it is also recorded in the
//! run so that a run that then fails is classified `policy_denied`.

use crate::egress::{EgressPolicy, EgressScheme, EgressTarget};
use crate::state::RunShared;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tracing::Instrument;
use wasmtime_wasi_http::{Error as WasiHttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Used when the guest sets no connect timeout (DNS + TCP + TLS + handshake).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Used when the guest sets no first-byte timeout (until the response head arrives).
const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);
/// Used when the guest sets no between-bytes timeout (between body frames).
const DEFAULT_BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(60);

type IoFuture = Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>;
type SendResult = Result<(http::Response<WasiBody>, IoFuture), WasiHttpError>;

/// The hooks installed in every run's `WasiHttpCtxView`.
pub(crate) struct EgressHooks {
    policy: Arc<EgressPolicy>,
    shared: Arc<RunShared>,
}

impl EgressHooks {
    pub(crate) fn new(policy: Arc<EgressPolicy>, shared: Arc<RunShared>) -> Self {
        EgressHooks { policy, shared }
    }
}

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_string();
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16();
        let span = tracing::info_span!(
            "hostcall",
            interface = "wasi:http/outgoing-handler",
            method = %request.method(),
            scheme = %scheme,
            host = %host,
            port,
        );
        let target = match self.policy.check_target(&scheme, &host, port) {
            Ok(target) => target,
            Err(denial) => {
                span.in_scope(|| self.shared.record_denial(&denial));
                return Box::new(std::future::ready(Err(WasiHttpError::HttpRequestDenied)));
            }
        };
        let sender = Sender {
            policy: self.policy.clone(),
            shared: self.shared.clone(),
            timeouts: Timeouts::from_options(options),
        };
        Box::new(sender.send(target, request).instrument(span))
    }
}

/// The guest's request timeouts, with defaults.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    connect: Duration,
    first_byte: Duration,
    between_bytes: Duration,
}

impl Timeouts {
    fn from_options(options: Option<RequestOptions>) -> Self {
        let o = options.unwrap_or_default();
        Timeouts {
            connect: o.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            first_byte: o.first_byte_timeout.unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT),
            // A zero interval would fire immediately; clamp it to something tiny but real.
            between_bytes: o
                .between_bytes_timeout
                .unwrap_or(DEFAULT_BETWEEN_BYTES_TIMEOUT)
                .max(Duration::from_millis(1)),
        }
    }
}

/// A byte stream hyper can drive: plain TCP or TLS over TCP.
trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// Everything one request needs after it passed the name gate.
struct Sender {
    policy: Arc<EgressPolicy>,
    shared: Arc<RunShared>,
    timeouts: Timeouts,
}

impl Sender {
    async fn send(self, target: EgressTarget, mut request: http::Request<WasiBody>) -> SendResult {
        let addrs = self.resolve(&target).await?;
        for addr in &addrs {
            if let Err(denial) = self.policy.check_addr(&target.host, addr.ip()) {
                self.shared.record_denial(&denial);
                return Err(WasiHttpError::DestinationIpProhibited);
            }
        }
        let connect = self.timeouts.connect;
        let tcp = tokio::time::timeout(connect, connect_first(&addrs))
            .await
            .map_err(|_| WasiHttpError::ConnectionTimeout)??;
        // Best effort: small request/response exchanges should not wait on Nagle.
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Transport> = match target.scheme {
            EgressScheme::Http => Box::new(tcp),
            EgressScheme::Https => Box::new(
                tokio::time::timeout(connect, tls_connect(&target, tcp))
                    .await
                    .map_err(|_| WasiHttpError::ConnectionTimeout)??,
            ),
        };
        let (mut sender, conn) = tokio::time::timeout(
            connect,
            hyper::client::conn::http1::handshake(TokioIo::new(stream)),
        )
        .await
        .map_err(|_| WasiHttpError::ConnectionTimeout)?
        .map_err(hyper_error)?;

        // The request line takes the origin form (`/path?query`); the absolute form is
        // only for proxies.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        *request.uri_mut() =
            http::Uri::try_from(path).map_err(|_| WasiHttpError::HttpRequestUriInvalid)?;
        let shared = self.shared.clone();
        let request = request.map(|inner| MeteredBody { inner, shared });

        // Drive the connection while waiting for the response head.
        let mut conn = Box::pin(conn);
        let response = tokio::time::timeout(self.timeouts.first_byte, sender.send_request(request));
        tokio::pin!(response);
        let mut conn_done = None;
        let response = loop {
            tokio::select! {
                biased;
                r = &mut response => break r,
                c = &mut conn, if conn_done.is_none() => conn_done = Some(c),
            }
        };
        let response = response
            .map_err(|_| WasiHttpError::ConnectionReadTimeout)?
            .map_err(hyper_error)?;
        tracing::debug!(
            status = response.status().as_u16(),
            "response head received"
        );

        let between = self.timeouts.between_bytes;
        let response = response.map(|inner| {
            ResponseBody {
                inner,
                between,
                timer: Box::pin(tokio::time::sleep(between)),
                shared: self.shared.clone(),
            }
            .boxed_unsync()
        });
        let io: IoFuture = Box::new(async move {
            match conn_done {
                Some(result) => result.map_err(hyper_error),
                None => conn.await.map_err(hyper_error),
            }
        });
        Ok((response, io))
    }

    /// The addresses to check and connect to: the literal IP, or one DNS lookup.
    async fn resolve(&self, target: &EgressTarget) -> Result<Vec<SocketAddr>, WasiHttpError> {
        if let Some(ip) = target.ip {
            return Ok(vec![SocketAddr::new(ip, target.port)]);
        }
        let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
        let addrs: Vec<SocketAddr> = tokio::time::timeout(self.timeouts.connect, lookup)
            .await
            .map_err(|_| WasiHttpError::DnsTimeout)?
            .map_err(|e| WasiHttpError::DnsError {
                rcode: Some(e.to_string()),
                info_code: None,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(WasiHttpError::DestinationNotFound);
        }
        Ok(addrs)
    }
}

/// Connects to the first address that accepts.
async fn connect_first(addrs: &[SocketAddr]) -> Result<TcpStream, WasiHttpError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                tracing::debug!(%addr, error = %e, "connect failed");
                last = Some(e);
            }
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            WasiHttpError::ConnectionRefused
        }
        Some(e) => WasiHttpError::Connect(e),
        None => WasiHttpError::DestinationNotFound,
    })
}

/// The process-wide TLS client configuration (built once: it parses the root store).
fn tls_config() -> Result<Arc<rustls::ClientConfig>, WasiHttpError> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            // An explicit provider: the process-wide default may be absent or ambiguous
            // when several crypto backends are linked in.
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            match rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
            {
                Ok(builder) => {
                    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    Some(Arc::new(config))
                }
                Err(e) => {
                    tracing::error!(error = %e, "TLS client configuration failed");
                    None
                }
            }
        })
        .clone()
        .ok_or(WasiHttpError::ConfigurationError)
}

async fn tls_connect(
    target: &EgressTarget,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, WasiHttpError> {
    use rustls::pki_types::ServerName;
    let name = match target.ip {
        Some(ip) => ServerName::from(ip),
        None => ServerName::try_from(target.host.clone())?,
    };
    tokio_rustls::TlsConnector::from(tls_config()?)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let bad_certificate = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
            if bad_certificate {
                tracing::warn!(error = %e, "TLS certificate rejected");
                WasiHttpError::TlsCertificateError
            } else {
                WasiHttpError::Tls(e)
            }
        })
}

fn hyper_error(e: hyper::Error) -> WasiHttpError {
    if e.is_timeout() {
        WasiHttpError::HttpResponseTimeout
    } else {
        WasiHttpError::Hyper(e)
    }
}

/// The guest's request body, metered against the host-call budget.
struct MeteredBody {
    inner: WasiBody,
    shared: Arc<RunShared>,
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = WasiHttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, WasiHttpError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
            && let Err(e) = this.shared.hostcall.charge(data.len() as u64)
        {
            tracing::warn!("request body stopped: {e}");
            return Poll::Ready(Some(Err(WasiHttpError::HttpRequestBodySize(None))));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body: metered, and failed if no frame arrives within the between-bytes
/// timeout.
struct ResponseBody {
    inner: hyper::body::Incoming,
    between: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    shared: Arc<RunShared>,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = WasiHttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, WasiHttpError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(e) = this.shared.hostcall.charge(data.len() as u64)
                {
                    tracing::warn!("response body stopped: {e}");
                    return Poll::Ready(Some(Err(WasiHttpError::HttpResponseBodySize(None))));
                }
                let next = tokio::time::Instant::now() + this.between;
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(hyper_error(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(WasiHttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn empty_body() -> WasiBody {
        http_body_util::Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    fn request(uri: &str) -> http::Request<WasiBody> {
        http::Request::builder()
            .uri(uri)
            .header(http::header::HOST, "test")
            .body(empty_body())
            .unwrap()
    }

    fn hooks(policy: EgressPolicy, budget: u64) -> (EgressHooks, Arc<RunShared>) {
        let shared = Arc::new(RunShared::new(budget));
        (EgressHooks::new(Arc::new(policy), shared.clone()), shared)
    }

    async fn send(
        hooks: &mut EgressHooks,
        req: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> SendResult {
        let fut = hooks.send_request(req, options, Box::new(async { Ok(()) }));
        Pin::from(fut).await
    }

    async fn send_err(
        hooks: &mut EgressHooks,
        req: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> WasiHttpError {
        match send(hooks, req, options).await {
            Ok((resp, _)) => panic!("expected an error, got {}", resp.status()),
            Err(e) => e,
        }
    }

    /// Serves one connection: reads the request head, answers with `response`, and hands
    /// the request head back.
    async fn serve_once(response: &'static [u8]) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            if !response.is_empty() {
                sock.write_all(response).await.unwrap();
            } else {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            String::from_utf8_lossy(&head).into_owned()
        });
        (port, task)
    }

    fn local_policy(port: u16) -> EgressPolicy {
        EgressPolicy::new([format!("http://127.0.0.1:{port}")])
            .unwrap()
            .with_allowed_networks(["127.0.0.0/8"])
            .unwrap()
    }

    #[tokio::test]
    async fn name_not_on_allow_list_is_denied_and_recorded() {
        let policy = EgressPolicy::new(["https://api.pagerduty.com"]).unwrap();
        let (mut hooks, shared) = hooks(policy, 1 << 20);
        let err = send_err(&mut hooks, request("https://evil.example/x"), None).await;
        assert!(matches!(err, WasiHttpError::HttpRequestDenied), "{err}");
        assert_eq!(
            shared.denials(),
            vec!["egress to https://evil.example:443 denied: not on the allow-list".to_string()]
        );
    }

    #[tokio::test]
    async fn private_address_is_denied_without_allowed_network() {
        let policy = EgressPolicy::new(["http://127.0.0.1:9"]).unwrap();
        let (mut hooks, shared) = hooks(policy, 1 << 20);
        let err = send_err(&mut hooks, request("http://127.0.0.1:9/"), None).await;
        assert!(
            matches!(err, WasiHttpError::DestinationIpProhibited),
            "{err}"
        );
        let denials = shared.denials();
        assert_eq!(denials.len(), 1);
        assert!(
            denials[0].contains("address 127.0.0.1 is in a blocked range (loopback)"),
            "{denials:?}"
        );
    }

    #[tokio::test]
    async fn allowed_request_reaches_the_checked_address() {
        let (port, server) = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await;
        let (mut hooks, shared) = hooks(local_policy(port), 1 << 20);
        let (resp, io) = send(
            &mut hooks,
            request(&format!("http://127.0.0.1:{port}/v1/x?y=1")),
            None,
        )
        .await
        .unwrap();
        tokio::spawn(Pin::from(io));
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /v1/x?y=1 HTTP/1.1\r\n"), "{head}");
        assert!(shared.denials().is_empty());
        assert_eq!(shared.hostcall.used(), 5);
    }

    #[tokio::test]
    async fn first_byte_timeout_is_honoured() {
        let (port, _server) = serve_once(b"").await;
        let (mut hooks, _) = hooks(local_policy(port), 1 << 20);
        let options = RequestOptions {
            first_byte_timeout: Some(Duration::from_millis(100)),
            ..RequestOptions::default()
        };
        let started = std::time::Instant::now();
        let err = send_err(
            &mut hooks,
            request(&format!("http://127.0.0.1:{port}/")),
            Some(options),
        )
        .await;
        assert!(matches!(err, WasiHttpError::ConnectionReadTimeout), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn response_body_counts_against_the_budget() {
        let (port, _server) =
            serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789").await;
        let (mut hooks, shared) = hooks(local_policy(port), 4);
        let (resp, io) = send(
            &mut hooks,
            request(&format!("http://127.0.0.1:{port}/")),
            None,
        )
        .await
        .unwrap();
        tokio::spawn(Pin::from(io));
        let err = resp.into_body().collect().await.unwrap_err();
        assert!(
            matches!(err, WasiHttpError::HttpResponseBodySize(_)),
            "{err}"
        );
        assert!(shared.hostcall.exceeded());
    }

    #[tokio::test]
    async fn refused_connection_is_an_error_value() {
        // Bind then drop to get a port nobody listens on.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let (mut hooks, _) = hooks(local_policy(port), 1 << 20);
        let err = send_err(
            &mut hooks,
            request(&format!("http://127.0.0.1:{port}/")),
            None,
        )
        .await;
        assert!(matches!(err, WasiHttpError::ConnectionRefused), "{err}");
    }

    /// A self-signed certificate for `localhost`/127.0.0.1 (valid until 2125), so the TLS
    /// path can be exercised without the network.
    const SELF_SIGNED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUUw/y/uZNzls0NfVdqU6WZxnXnPcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTExMjY1M1oYDzIxMjYxMDI4
MTEyNjUzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATfWsfJQp8hpcUk4n4YO9mw+n8yb9GHilJo1+NCNvtRkiO0zFLnBRvD
QYa7zx6Wq1GC5UtPZP/5RwINbyP6qCkJo28wbTAdBgNVHQ4EFgQUE7s/Dnfq/+6P
8O7IyUE6paX+/FQwHwYDVR0jBBgwFoAUE7s/Dnfq/+6P8O7IyUE6paX+/FQwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgFJupuh+7KCoaGtNqETS2WamjJ3XzbT7A0fLOOluRUMwCIQDZ
b48913stq/2RZEgKMiVlCWk5KcAm6/rTxyqPL+j8oQ==
-----END CERTIFICATE-----";
    const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvlYhix+EBiLQgld2
h5ajKQes9wH8KCjz1li3hV7OVMGhRANCAATfWsfJQp8hpcUk4n4YO9mw+n8yb9GH
ilJo1+NCNvtRkiO0zFLnBRvDQYa7zx6Wq1GC5UtPZP/5RwINbyP6qCkJ
-----END PRIVATE KEY-----";

    #[tokio::test]
    async fn untrusted_certificate_is_a_tls_certificate_error() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = vec![CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            // The client aborts the handshake; the error here is expected.
            let _ = acceptor.accept(sock).await;
        });
        let policy = EgressPolicy::new([format!("https://127.0.0.1:{port}")])
            .unwrap()
            .with_allowed_networks(["127.0.0.0/8"])
            .unwrap();
        let (mut hooks, shared) = hooks(policy, 1 << 20);
        let err = send_err(
            &mut hooks,
            request(&format!("https://127.0.0.1:{port}/")),
            None,
        )
        .await;
        assert!(matches!(err, WasiHttpError::TlsCertificateError), "{err}");
        assert!(shared.denials().is_empty());
    }

    #[test]
    fn tls_config_builds() {
        assert!(tls_config().is_ok());
    }
}
