//! Outgoing TLS (HTTPS receivers, SMTP over STARTTLS or implicit TLS): rustls with
//! the system's CA bundle, or the `ca_file` of a Prometheus-style `tls_config`
//! (`ca_file`, `cert_file`/`key_file` for client certificates, `server_name`,
//! `insecure_skip_verify`, `min_version`).

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Where Debian (and most Linux distributions) keep the trusted CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// A `tls_config` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TlsOptions {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    /// `TLS10` … `TLS13` (rustls speaks TLS 1.2 and 1.3).
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

impl TlsOptions {
    /// Reads a `tls_config` object (unknown keys are ignored; the configuration
    /// reader has checked them).
    pub(crate) fn from_json(v: Option<&serde_json::Value>) -> TlsOptions {
        let Some(v) = v else { return TlsOptions::default() };
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        TlsOptions {
            ca_file: text("ca_file"),
            cert_file: text("cert_file"),
            key_file: text("key_file"),
            server_name: text("server_name"),
            insecure_skip_verify: v
                .get("insecure_skip_verify")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            min_version: text("min_version"),
            max_version: text("max_version"),
        }
    }

    /// The `tls_config` inside an `http_config`.
    pub(crate) fn from_http_config(v: Option<&serde_json::Value>) -> TlsOptions {
        TlsOptions::from_json(v.and_then(|h| h.get("tls_config")))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted roots, read once.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            for path in SYSTEM_BUNDLES {
                if let Ok(iter) = CertificateDer::pem_file_iter(path) {
                    for cert in iter.flatten() {
                        let _ = store.add(cert);
                    }
                    break;
                }
            }
            Arc::new(store)
        })
        .clone()
}

fn config(o: &TlsOptions) -> Result<ClientConfig, String> {
    let versions: &[&rustls::SupportedProtocolVersion] =
        match (o.min_version.as_deref(), o.max_version.as_deref()) {
            (Some("TLS13"), Some("TLS10" | "TLS11" | "TLS12")) => {
                return Err("min_version is above max_version".into());
            }
            (Some("TLS13"), _) => &[&rustls::version::TLS13],
            (_, Some("TLS10" | "TLS11" | "TLS12")) => &[&rustls::version::TLS12],
            _ => rustls::DEFAULT_VERSIONS,
        };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?;
    let builder = if o.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
    } else {
        let roots = match &o.ca_file {
            Some(path) => {
                let mut store = RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("ca_file {path}: {e}"))?;
                for cert in certs {
                    let cert = cert.map_err(|e| format!("ca_file {path}: {e}"))?;
                    store.add(cert).map_err(|e| format!("ca_file {path}: {e}"))?;
                }
                if store.is_empty() {
                    return Err(format!("ca_file {path}: no certificate in it"));
                }
                Arc::new(store)
            }
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    match (&o.cert_file, &o.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("cert_file {cert}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("cert_file {cert}: {e}"))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("key_file {key}: {e}"))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| e.to_string())
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("tls_config needs both cert_file and key_file".into()),
    }
}

/// Runs the TLS handshake over `stream` with `host` (or `server_name`) as the name
/// the certificate must carry.
pub(crate) async fn connect<S>(
    stream: S,
    host: &str,
    o: &TlsOptions,
) -> Result<TlsStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let cfg = config(o)?;
    let name = o.server_name.as_deref().unwrap_or(host);
    let name = ServerName::try_from(name.trim_matches(['[', ']']).to_owned())
        .map_err(|e| format!("server name {name:?}: {e}"))?;
    TlsConnector::from(Arc::new(cfg))
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS handshake with {host}: {e}"))
}

/// `insecure_skip_verify: true`: any certificate is accepted; signatures are still
/// checked so the handshake itself stays sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
