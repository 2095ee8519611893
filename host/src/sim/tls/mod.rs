//! TLS for the practice cluster's Kubernetes API: kubectl (client-go) does not send a bearer
//! token over plain HTTP, so the API is served over HTTPS with a fixed loopback certificate.
//!
//! The CA and server key in this directory were generated for this purpose only (CN
//! "tke-recycle practice cluster CA", server SAN IP:127.0.0.1 and localhost, valid 20 years).
//! They protect nothing: the sim binds only 127.0.0.1. The kubeconfig the sim writes carries the
//! CA as `certificate-authority-data`, so kubectl and kube-rs verify the server normally.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The CA certificate (PEM) clients trust.
pub const CA_PEM: &str = include_str!("ca.pem");
const SERVER_PEM: &str = include_str!("server.pem");
const SERVER_KEY_PEM: &str = include_str!("server-key.pem");

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The embedded certificate or key does not parse.
    #[error("failed to parse the embedded certificate or key")]
    PemInvalid(#[source] rustls::pki_types::pem::Error),
    /// rustls refused the configuration.
    #[error("failed to build the TLS server configuration")]
    ConfigRejected(#[source] rustls::Error),
}

fn acceptor() -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_PEM.as_bytes())
        .chain(CertificateDer::pem_slice_iter(CA_PEM.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(TlsError::PemInvalid)?;
    let key =
        PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).map_err(TlsError::PemInvalid)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsError::ConfigRejected)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(TlsError::ConfigRejected)?;
    // axum serves HTTP/1.1 here; offering only it keeps clients from trying h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A listener that hands axum TLS streams; handshakes run in their own tasks so a slow or
/// broken client never blocks the accept loop.
pub struct TlsListener {
    addr: SocketAddr,
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Wrap a bound TCP listener.
    pub fn new(tcp: TcpListener) -> Result<Self, TlsError> {
        let acceptor = acceptor()?;
        let addr = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, rx) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                // A response is several writes (TLS records, chunks); with Nagle on, the last
                // small one waits for the client's delayed ACK (up to 40 ms on Linux). Real API
                // servers (Go) set TCP_NODELAY on every connection.
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                    {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener {
            addr,
            rx,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The accept task only ends when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
