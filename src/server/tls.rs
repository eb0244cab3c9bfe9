//! TLS between the socket and the packet framing: rustls driven sans-I/O by
//! the loop (ciphertext in with `read_tls`, `process_new_packets`, plaintext
//! out of `reader()`; plaintext in with `writer()`, ciphertext out with
//! `write_tls` into the connection's output buffer, so that back-pressure,
//! idle and shutdown checks see what is still to be sent as they do for a
//! plain connection). No thread, nothing blocks.
//!
//! The server configuration comes from `--ssl-cert`/`--ssl-key`, or a
//! self-signed certificate made at start (as MySQL 8's `auto_generate_certs`,
//! with rcgen) whose SHA-256 fingerprint is logged so that a client can pin it.
//! TLS 1.2 and 1.3; resumption by tickets (stateless: nothing kept per
//! client) and by the in-memory session cache rustls keeps by default.

use crate::config::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::sync::Arc;

/// rustls' configuration: TLS 1.3 and 1.2, client certificates verified
/// against `ca` when one is presented, tickets for resumption. Its buffer
/// limits are left as they are: received plaintext is drained by the loop
/// every turn (at most a record waits), and sent plaintext is sealed as it
/// is written (the encoder already stops at the write high-water mark).
fn make_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: Option<&std::path::Path>,
) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("--ssl-ca {}: {e}", path.display()))?
            {
                let c = c.map_err(|e| format!("--ssl-ca {}: {e}", path.display()))?;
                roots
                    .add(c)
                    .map_err(|e| format!("--ssl-ca {}: {e}", path.display()))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("--ssl-ca {}: {e}", path.display()))?;
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key: {e}"))?;
    cfg.ticketer =
        rustls::crypto::ring::Ticketer::new().map_err(|e| format!("TLS tickets: {e}"))?;
    Ok(cfg)
}

/// The server's TLS configuration for `config`, or None when TLS is off.
pub fn server_config(config: &Config) -> Result<Option<Arc<ServerConfig>>, String> {
    if !config.ssl {
        return Ok(None);
    }
    let (certs, key) = match (&config.ssl_cert, &config.ssl_key) {
        (Some(c), Some(k)) => {
            let certs = CertificateDer::pem_file_iter(c)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--ssl-cert {}: {e}", c.display()))?;
            if certs.is_empty() {
                return Err(format!("--ssl-cert {}: no certificate in it", c.display()));
            }
            let key = PrivateKeyDer::from_pem_file(k)
                .map_err(|e| format!("--ssl-key {}: {e}", k.display()))?;
            log::info!("TLS: certificate {}", c.display());
            (certs, key)
        }
        _ => {
            let names = vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ];
            let ck = rcgen::generate_simple_self_signed(names)
                .map_err(|e| format!("generating a TLS certificate: {e}"))?;
            let der = ck.cert.der().clone();
            log::info!(
                "TLS: self-signed certificate generated, SHA-256 fingerprint {}",
                fingerprint(&der)
            );
            let key = PrivateKeyDer::try_from(ck.key_pair.serialize_der())
                .map_err(|e| format!("TLS key: {e}"))?;
            (vec![der], key)
        }
    };
    make_config(certs, key, config.ssl_ca.as_deref()).map(|c| Some(Arc::new(c)))
}

/// `AA:BB:…`: a certificate's SHA-256 fingerprint as clients print it.
pub fn fingerprint(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    let mut s = String::with_capacity(d.len() * 3);
    for (i, b) in d.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// A cipher suite as OpenSSL (and so MySQL's `Ssl_cipher`) names it: the
/// IANA name for TLS 1.3, OpenSSL's own for TLS 1.2 (the suites rustls
/// offers with ring).
fn openssl_name(s: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match s {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        other => other.as_str().unwrap_or("unknown"),
    }
}

/// One connection's TLS session (boxed in the slot: only TLS connections pay).
pub struct Tls {
    conn: ServerConnection,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

/// What came of feeding ciphertext.
pub enum Fed {
    /// Fine; the plaintext is in the buffer given.
    Ok,
    /// The client ended the session (close_notify).
    Closed,
    /// Not TLS, or a TLS error: the alert (if any) is in the output; close.
    Failed(String),
}

impl Tls {
    /// A session for a client that sent an SSLRequest.
    pub fn new(config: &Arc<ServerConfig>) -> Result<Tls, String> {
        let mut conn = ServerConnection::new(config.clone()).map_err(|e| e.to_string())?;
        // rustls' 64 KiB limit on what it buffers to send would cut a batch
        // short (its writer takes what fits and says 0 to the rest); what it
        // seals is drained into the connection's output at once, where the
        // write high-water mark bounds it
        conn.set_buffer_limit(None);
        Ok(Tls { conn })
    }

    /// Feeds ciphertext from the client. The plaintext it decrypts is
    /// appended to `plain` as it comes, one `read_tls` (at most 4 KiB) at a
    /// time, so rustls never holds more than a few records of it: rustls
    /// refuses to read on once its received plaintext passes 16 KiB, and a
    /// 64 KiB read from the socket can carry 64 KiB of a large query.
    /// Whatever rustls wants to send back (handshake messages, alerts) is
    /// appended to `out`.
    pub fn feed(&mut self, mut cipher: &[u8], plain: &mut Vec<u8>, out: &mut Vec<u8>) -> Fed {
        while !cipher.is_empty() {
            match self.conn.read_tls(&mut cipher) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Fed::Failed(e.to_string()),
            }
            let st = self.conn.process_new_packets();
            // WouldBlock (all read) or an unclean end: what was read is kept
            let _ = self.conn.reader().read_to_end(plain);
            match st {
                Ok(st) if st.peer_has_closed() => {
                    self.drain(out);
                    return Fed::Closed;
                }
                Ok(_) => {}
                Err(e) => {
                    self.drain(out);
                    return Fed::Failed(e.to_string());
                }
            }
        }
        self.drain(out);
        Fed::Ok
    }

    /// Encrypts `plain` and appends the records to `out`.
    pub fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        // no buffer limit (see `new`): the writer takes it all
        let _ = self.conn.writer().write_all(plain);
        self.drain(out);
    }

    /// Appends what rustls has to send to `out`.
    fn drain(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            if self.conn.write_tls(out).is_err() {
                break;
            }
        }
    }

    /// Still in the TLS handshake.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The negotiated version and cipher suite, as MySQL names them
    /// (`TLSv1.3`, `TLS_AES_128_GCM_SHA256`).
    pub fn describe(&self) -> Option<(&'static str, &'static str)> {
        let v = match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "TLS",
        };
        let c = openssl_name(self.conn.negotiated_cipher_suite()?.suite());
        Some((v, c))
    }

    /// Queues a close_notify into `out`.
    pub fn close(&mut self, out: &mut Vec<u8>) {
        self.conn.send_close_notify();
        self.drain(out);
    }
}
