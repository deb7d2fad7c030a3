//! TLS to the database (CockroachDB in secure mode): the service verifies the server against the configured CA and
//! presents its client certificate.
//!
//! PostgreSQL in the test stack speaks plain TCP, so a proxy made here plays the secure server: it answers the
//! client's SSLRequest, terminates TLS with a certificate of a CA made for the test (requiring a client certificate
//! from the same CA), and forwards the decrypted stream to the real server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use boxoffice::db::{Db, DbSetupError};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use uuid::Uuid;

use crate::helpers::{TestApp, expect_status, fresh_database, pg_addr, test_config};

/// A CA with a server certificate for `localhost` and a client certificate, as PEM files in a fresh directory.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("boxoffice-tls-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "boxoffice test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("CA");

        let server_key = KeyPair::generate().expect("key");
        let mut server = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key).expect("server certificate");

        let client_key = KeyPair::generate().expect("key");
        let mut client = CertificateParams::new(Vec::<String>::new()).expect("params");
        client.distinguished_name.push(DnType::CommonName, "boxoffice");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &ca_cert, &ca_key).expect("client certificate");

        for (name, pem) in [
            ("ca.crt", ca_cert.pem()),
            ("node.crt", server_cert.pem()),
            ("node.key", server_key.serialize_pem()),
            ("client.boxoffice.crt", client_cert.pem()),
            ("client.boxoffice.key", client_key.serialize_pem()),
        ] {
            std::fs::write(dir.join(name), pem).expect("write PEM");
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The TLS-terminating proxy. It requires a client certificate of its CA (no handshake completes without one) and
/// counts the sessions that presented one.
struct SecureProxy {
    addr: SocketAddr,
    with_client_certificate: Arc<AtomicUsize>,
}

impl SecureProxy {
    async fn start(pki: &Pki) -> Self {
        let load = |name: &str| Path::new(&pki.path(name)).to_owned();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(load("ca.crt")).expect("read CA") {
            roots.add(cert.expect("CA PEM")).expect("CA");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .expect("client verifier");
        let chain: Vec<_> = CertificateDer::pem_file_iter(load("node.crt"))
            .expect("read certificate")
            .collect::<Result<_, _>>()
            .expect("certificate PEM");
        let key = PrivateKeyDer::from_pem_file(load("node.key")).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("server config");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let with_client_certificate = Arc::new(AtomicUsize::new(0));
        let counter = with_client_certificate.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                tokio::spawn(async move {
                    let _ = Self::serve(socket, acceptor, counter).await;
                });
            }
        });
        Self { addr, with_client_certificate }
    }

    async fn serve(mut socket: TcpStream, acceptor: TlsAcceptor, counter: Arc<AtomicUsize>) -> std::io::Result<()> {
        // SSLRequest: length 8, code 80877103. Anything else is a client that did not ask for TLS: hang up.
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).await?;
        if request != [0, 0, 0, 8, 4, 210, 22, 47] {
            return Ok(());
        }
        socket.write_all(b"S").await?;
        let mut tls = acceptor.accept(socket).await?;
        if tls.get_ref().1.peer_certificates().is_some_and(|chain| !chain.is_empty()) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        let mut upstream = TcpStream::connect(pg_addr()).await?;
        tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
        Ok(())
    }
}

fn tls_vars<'a>(pki: &'a Pki, url: &'a str) -> Vec<(&'static str, String)> {
    vec![
        ("BOXOFFICE_DATABASE_URL", url.to_owned()),
        ("BOXOFFICE_DB_CA_CERT", pki.path("ca.crt")),
        ("BOXOFFICE_DB_CLIENT_CERT", pki.path("client.boxoffice.crt")),
        ("BOXOFFICE_DB_CLIENT_KEY", pki.path("client.boxoffice.key")),
    ]
}

#[tokio::test]
async fn the_service_reaches_a_tls_only_database_with_its_ca_and_client_certificate() {
    let pki = Pki::new();
    let proxy = SecureProxy::start(&pki).await;
    let db = fresh_database().await;
    let url = format!("postgres://postgres@localhost:{}/{db}?sslmode=require", proxy.addr.port());
    let vars = tls_vars(&pki, &url);
    let overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_on(&db, test_config(&db, &overrides)).await;

    let body = expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(body["checks"]["database"], "up");
    let client = app.db().await;
    let row = client.query_one("SELECT current_database()", &[]).await.expect("query over TLS");
    assert_eq!(row.get::<_, String>(0), db.to_string());
    assert!(proxy.with_client_certificate.load(Ordering::SeqCst) >= 1, "the client certificate was presented");
}

#[tokio::test]
async fn without_its_client_certificate_the_service_cannot_connect() {
    let pki = Pki::new();
    let proxy = SecureProxy::start(&pki).await;
    let db = fresh_database().await;
    let url = format!("postgres://postgres@localhost:{}/{db}?sslmode=require", proxy.addr.port());
    let vars = tls_vars(&pki, &url);
    let overrides: Vec<(&str, &str)> = vars[..2].iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = test_config(&db, &overrides);
    let pools = Db::connect(&config.database).await.expect("pools build lazily");
    pools.write.get().await.expect_err("the server requires a client certificate");
    assert_eq!(proxy.with_client_certificate.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let (pki, impostor) = (Pki::new(), Pki::new());
    let proxy = SecureProxy::start(&impostor).await;
    let db = fresh_database().await;
    let url = format!("postgres://postgres@localhost:{}/{db}?sslmode=require", proxy.addr.port());
    let vars = tls_vars(&pki, &url);
    let overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = test_config(&db, &overrides);
    let pools = Db::connect(&config.database).await.expect("pools build lazily");
    let err = pools.write.get().await.expect_err("an unknown CA is not trusted");
    // Both test CAs share a name, so rustls reports a bad signature rather than an unknown issuer.
    assert!(format!("{err:?}").contains("InvalidCertificate"), "{err:?}");
}

#[tokio::test]
async fn a_missing_certificate_file_is_named_at_start_up() {
    let pki = Pki::new();
    let db = fresh_database().await;
    let url = format!("postgres://postgres@localhost:1/{db}?sslmode=require");
    let mut vars = tls_vars(&pki, &url);
    vars[1].1 = pki.path("no-such-ca.crt");
    let overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = test_config(&db, &overrides);
    let err = Db::connect(&config.database).await.expect_err("refused");
    assert!(matches!(&err, DbSetupError::Tls(m) if m.contains("no-such-ca.crt")), "{err}");
}
