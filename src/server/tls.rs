//! TLS between the socket and the packet framing: rustls' unbuffered
//! connection driven sans-I/O by the loop (`process_tls_records` over the
//! ciphertext one read took, decrypted in place, the plaintext appended to
//! the packet buffer; records encrypted straight into the connection's
//! output buffer, so that back-pressure, idle and shutdown checks see what
//! is still to be sent as they do for a plain connection). No thread,
//! nothing blocks, and no buffer held between reads but an unfinished
//! record.
//!
//! The server configuration comes from `--ssl-cert`/`--ssl-key`, or a
//! self-signed certificate made at start (as MySQL 8's `auto_generate_certs`,
//! with rcgen) whose SHA-256 fingerprint is logged so that a client can pin it.
//! TLS 1.2 and 1.3; resumption by tickets (stateless: nothing kept per
//! client) and by the in-memory session cache rustls keeps by default.

use super::buffer::Buf;
use crate::config::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, WriteTraffic};
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The cipher suites offered, in the server's order of preference: AES-128-GCM
/// first. It is TLS 1.3's mandatory suite, and its 128-bit strength is already
/// more than the handshake's (X25519, P-256, RSA-2048: 112 to 128 bits), so
/// AES-256's four more rounds per block and SHA-384's key schedule (SHA-512
/// blocks, where SHA-256 has the CPU's SHA instructions) would cost time
/// without adding security. Then AES-256-GCM, and ChaCha20-Poly1305 for a
/// client that offers neither.
const SUITES: &[rustls::SupportedCipherSuite] = {
    use rustls::crypto::aws_lc_rs::cipher_suite::*;
    &[
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
};

/// rustls' configuration: TLS 1.3 and 1.2, client certificates verified
/// against `ca` when one is presented, tickets for resumption.
fn make_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: Option<&std::path::Path>,
) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: SUITES.to_vec(),
        ..rustls::crypto::aws_lc_rs::default_provider()
    });
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
    // The server's order, not the client's: most clients list AES-256 first.
    cfg.ignore_client_order = true;
    cfg.ticketer =
        rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| format!("TLS tickets: {e}"))?;
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
/// offers).
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

/// Most ciphertext a connection may hold while a record (or a handshake
/// message split over records) is not wholly in: rustls' own limit on a
/// handshake message (64 KiB, the most its buffered API keeps) and one
/// record past it (16 KiB of plaintext and 2 KiB of TLS 1.2 expansion, the
/// largest record the protocol allows). A client that declares more never
/// completes it; it is refused instead of held.
const MAX_PENDING: usize = 0x1_0000 + 0x4800;

/// One connection's TLS session (boxed in the slot: only TLS connections pay).
///
/// rustls' unbuffered API: the ciphertext is decrypted where it lies (the
/// loop's read buffer, or `pending` for a record split across reads), and
/// records are encrypted straight into the connection's output. rustls'
/// buffered connection instead keeps a 4 KiB record buffer (and its
/// plaintext queues) for the connection's whole life; here an idle TLS
/// connection holds no buffer, only the session's keys and state.
pub struct Tls {
    conn: UnbufferedServerConnection,
    /// rustls panicked in this session: nothing more goes through it (the
    /// connection is closed), and the rest of the loop goes on.
    broken: bool,
    /// Ciphertext of a record not wholly in yet (empty, holding no memory,
    /// between records).
    pending: Buf,
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
    /// Not TLS, or a TLS error: close.
    Failed(String),
}

/// What one step of rustls' state machine came to.
enum Step {
    /// Go on processing.
    More,
    /// Nothing more until the client sends more (or the handshake is done
    /// and every record in is read).
    Wait,
    /// The client's close_notify.
    Closed,
}

impl Tls {
    /// A session for a client that sent an SSLRequest.
    pub fn new(config: &Arc<ServerConfig>) -> Result<Tls, String> {
        let conn = UnbufferedServerConnection::new(config.clone()).map_err(|e| e.to_string())?;
        Ok(Tls {
            conn,
            broken: false,
            pending: Buf::default(),
        })
    }

    /// Feeds ciphertext from the client (decrypted in place, so `cipher` is
    /// clobbered). The plaintext is appended to `plain`, whatever rustls
    /// sends back (handshake messages, tickets) to `out`. A record cut off
    /// at the end is kept for the next read.
    pub fn feed(&mut self, cipher: &mut [u8], plain: &mut Vec<u8>, out: &mut Vec<u8>) -> Fed {
        if self.broken {
            return Fed::Failed("TLS session broken".into());
        }
        // a bug in rustls (or in how it is driven here) on this client's
        // bytes costs this connection, not the loop and its other clients
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.feed_records(cipher, plain, out)
        })) {
            Ok(r) => r,
            Err(_) => {
                log::error!("TLS: rustls panicked on a client's records; closing that connection");
                self.broken = true;
                Fed::Failed("rustls panicked".into())
            }
        }
    }

    fn feed_records(&mut self, cipher: &mut [u8], plain: &mut Vec<u8>, out: &mut Vec<u8>) -> Fed {
        if self.pending.is_empty() {
            // the common case: whole records in one read, processed where
            // they lie; a tail of a record is kept
            let mut at = 0;
            let r = self.process(cipher, &mut at, plain, out);
            // kept whatever came of it: rustls' count of a handshake
            // message being joined refers to these bytes, in any later call
            if let Some(rest) = cipher.get(at..).filter(|r| !r.is_empty()) {
                self.pending.extend(rest);
            }
            return self.bounded(r);
        }
        self.pending.extend(cipher);
        let mut buf = std::mem::take(&mut self.pending);
        let mut at = 0;
        let r = self.process(buf.bytes_mut(), &mut at, plain, out);
        buf.consume(at);
        self.pending = buf;
        self.bounded(r)
    }

    /// `r`, or a failure when the record waiting to be completed is longer
    /// than any the protocol allows.
    fn bounded(&mut self, r: Fed) -> Fed {
        if matches!(r, Fed::Ok) && self.pending.len() > MAX_PENDING {
            return Fed::Failed(format!(
                "{} bytes of an unfinished TLS record",
                self.pending.len()
            ));
        }
        r
    }

    /// Runs rustls over `buf[*at..]` until it needs more input, advancing
    /// `*at` past what it has used.
    fn process(
        &mut self,
        buf: &mut [u8],
        at: &mut usize,
        plain: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Fed {
        loop {
            let Some(input) = buf.get_mut(*at..) else {
                return Fed::Failed("TLS discarded past its input".into());
            };
            let status = self.conn.process_tls_records(input);
            let mut discard = status.discard;
            let step = match status.state {
                Err(e) => {
                    *at = at.saturating_add(discard);
                    if let Some(rest) = buf.get_mut(*at..) {
                        self.alerts(rest, out);
                    }
                    return Fed::Failed(e.to_string());
                }
                Ok(state) => Self::step(state, plain, out, &mut discard),
            };
            *at = at.saturating_add(discard);
            match step {
                Ok(Step::More) => {}
                Ok(Step::Wait) => return Fed::Ok,
                Ok(Step::Closed) => return Fed::Closed,
                Err(e) => return Fed::Failed(e),
            }
        }
    }

    /// Handles one state rustls reached.
    fn step(
        state: ConnectionState<'_, '_, ServerConnectionData>,
        plain: &mut Vec<u8>,
        out: &mut Vec<u8>,
        discard: &mut usize,
    ) -> Result<Step, String> {
        match state {
            ConnectionState::ReadTraffic(mut r) => {
                while let Some(rec) = r.next_record() {
                    let rec = rec.map_err(|e| e.to_string())?;
                    *discard = discard.saturating_add(rec.discard);
                    plain.extend_from_slice(rec.payload);
                }
                Ok(Step::More)
            }
            ConnectionState::EncodeTlsData(mut e) => {
                let at = out.len();
                // a handshake flight is a few KiB; rustls says how much
                // more it needs when that is not enough
                out.resize(at + 4096, 0);
                let n = match e.encode(&mut out[at..]) {
                    Err(EncodeError::InsufficientSize(s)) => {
                        out.resize(at + s.required_size, 0);
                        e.encode(&mut out[at..]).map_err(|e| e.to_string())?
                    }
                    r => r.map_err(|e| e.to_string())?,
                };
                out.truncate(at + n);
                Ok(Step::More)
            }
            ConnectionState::TransmitTlsData(t) => {
                // `out` is the connection's output: sent in order with
                // what follows
                t.done();
                Ok(Step::More)
            }
            ConnectionState::BlockedHandshake | ConnectionState::WriteTraffic(_) => Ok(Step::Wait),
            ConnectionState::PeerClosed | ConnectionState::Closed => Ok(Step::Closed),
            // no early data is accepted (max_early_data_size is 0), and the
            // enum is non-exhaustive
            _ => Err("unexpected TLS state".into()),
        }
    }

    /// After an error: the alert rustls queued for the client, into `out`
    /// (a garbage ClientHello gets one before the close).
    ///
    /// `buf` is what rustls was processing when it failed: its count of a
    /// handshake message it was joining refers to those bytes, and it
    /// indexes them (out of bounds, a panic) if given anything shorter.
    fn alerts(&mut self, buf: &mut [u8], out: &mut Vec<u8>) {
        // a handful of records at most; the bound keeps a misbehaving state
        // machine from spinning
        for _ in 0..8 {
            let status = self.conn.process_tls_records(buf);
            match status.state {
                Ok(
                    state @ (ConnectionState::EncodeTlsData(_)
                    | ConnectionState::TransmitTlsData(_)),
                ) => {
                    if Self::step(state, &mut Vec::new(), out, &mut 0).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// Encrypts `plain` and appends the records to `out`.
    pub fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        self.guarded_write(out, |w, room| w.encrypt(plain, room), plain.len());
    }

    /// [`Tls::write`], a panic in it caught (see `feed`): what it wrote is
    /// dropped and the session marked broken, so the next read closes it.
    fn guarded_write(
        &mut self,
        out: &mut Vec<u8>,
        f: impl FnMut(
            &mut WriteTraffic<'_, ServerConnectionData>,
            &mut [u8],
        ) -> Result<usize, EncryptError>,
        len: usize,
    ) {
        if self.broken {
            return;
        }
        let at = out.len();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.write(out, f, len)))
            .is_err()
        {
            log::error!("TLS: rustls panicked sealing an answer; closing that connection");
            self.broken = true;
            out.truncate(at);
        }
    }

    /// Runs `f` (an encryption of `len` bytes of plaintext) on the traffic
    /// state into the end of `out`, with room enough: records carry at most
    /// 16 KiB of plaintext and add a header, a content type and a tag (under
    /// 64 bytes a record in the suites offered); rustls says when it needs
    /// more. Handshake data still due is encoded first.
    fn write(
        &mut self,
        out: &mut Vec<u8>,
        mut f: impl FnMut(
            &mut WriteTraffic<'_, ServerConnectionData>,
            &mut [u8],
        ) -> Result<usize, EncryptError>,
        len: usize,
    ) {
        loop {
            // the unfinished record, if any, goes back in (see `alerts`):
            // feeding it nothing would not be the same state
            let status = self.conn.process_tls_records(self.pending.bytes_mut());
            let discard = status.discard;
            let go_on = match status.state {
                Ok(ConnectionState::WriteTraffic(mut w)) => {
                    let at = out.len();
                    out.resize(at + len + (len / 16384 + 1) * 64, 0);
                    let n = match f(&mut w, &mut out[at..]) {
                        Err(EncryptError::InsufficientSize(s)) => {
                            out.resize(at + s.required_size, 0);
                            f(&mut w, &mut out[at..]).unwrap_or(0)
                        }
                        r => r.unwrap_or(0),
                    };
                    out.truncate(at + n);
                    false
                }
                Ok(
                    state @ (ConnectionState::EncodeTlsData(_)
                    | ConnectionState::TransmitTlsData(_)),
                ) => Self::step(state, &mut Vec::new(), out, &mut 0).is_ok(),
                // handshaking or closed: nothing can be sent (the loop
                // seals only after the handshake)
                _ => false,
            };
            self.pending.consume(discard);
            if !go_on {
                return;
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
        self.guarded_write(out, |w, room| w.queue_close_notify(room), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Tls {
        // TLS is on by default
        Tls::new(&server_config(&Config::default()).unwrap().unwrap()).unwrap()
    }

    /// Half of a ClientHello that declares 1 KiB: the first record of a
    /// handshake message rustls is joining.
    fn half_hello() -> Vec<u8> {
        let mut rec = vec![0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x04, 0x00];
        rec.extend_from_slice(&[0x03; 60]);
        rec
    }

    /// A session fed [`half_hello`], and its (empty) plaintext and output.
    fn half_fed() -> (Tls, Vec<u8>, Vec<u8>) {
        let mut t = session();
        let (mut plain, mut out) = (Vec::new(), Vec::new());
        assert!(matches!(
            t.feed(&mut half_hello(), &mut plain, &mut out),
            Fed::Ok
        ));
        (t, plain, out)
    }

    #[test]
    fn an_unfinished_handshake_message_is_kept_for_the_next_read() {
        let (mut t, _, mut out) = half_fed();
        assert_eq!(
            t.pending.len(),
            half_hello().len(),
            "kept whole: rustls counts those bytes"
        );
        // sealing meanwhile (nothing can be sent yet) leaves them as they are
        t.seal(b"x", &mut out);
        assert!(out.is_empty() && !t.broken);
        assert_eq!(t.pending.len(), half_hello().len());
    }

    /// A panic inside rustls costs the session, not the loop: here rustls
    /// is handed fewer bytes than the handshake message it was joining (the
    /// misuse that once took the server down), it panics indexing them, and
    /// the session is marked broken instead.
    #[test]
    fn a_panic_in_rustls_breaks_only_that_session() {
        let (mut t, mut plain, mut out) = half_fed();
        t.pending = Buf::default(); // lose the bytes rustls is counting on
        t.seal(b"x", &mut out);
        assert!(t.broken, "rustls should have panicked and been caught");
        assert!(out.is_empty());
        assert!(matches!(
            t.feed(&mut [0x16], &mut plain, &mut out),
            Fed::Failed(_)
        ));
    }
}
