//! The HTTP server loop: `axum::serve` with the connection-level limits it does not expose.
//!
//! `axum::serve` builds its hyper connections without a timer, so a client can hold a connection open forever by
//! sending half a request head (slowloris) or nothing at all. Here each connection is served by hyper's HTTP/1.1
//! builder with a timer and `header_read_timeout` (`BOXOFFICE_HEADER_READ_TIMEOUT_MS`): a request head must be
//! complete within it, and an idle keep-alive connection is closed after it too. HTTP/1.1 only: the ingress
//! terminates TLS and HTTP/2, and hyper's HTTP/2 detection would otherwise wait, untimed, for a first byte.
//!
//! What `axum::serve` does and this keeps: `ConnectInfo<SocketAddr>` on every request, `TCP_NODELAY`, accept errors
//! that do not stop the server (a full file table waits a second), and graceful shutdown (stop accepting, close idle
//! connections, let in-flight requests finish within the drain time).

use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets open requests finish for up to `drain`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    drain: Duration,
    header_read_timeout: Duration,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_error(err).await;
                    continue;
                }
            },
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "TCP_NODELAY not set");
        }
        let service = router.clone().map_request(move |mut request: axum::http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            request
        });
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Timeouts, resets and malformed requests end here; they are the client's business, not an error of ours.
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %remote, "connection closed with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(seconds = drain.as_secs(), "drain timeout: closing remaining connections");
        }
    }
}

/// Per-connection errors (the peer reset before we accepted) are ignored; anything else (e.g. `EMFILE`) is logged
/// and waited out for a second, as `axum::serve` does, instead of spinning.
async fn accept_error(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
