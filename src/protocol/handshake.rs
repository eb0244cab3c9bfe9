//! Connection phase messages: `HandshakeV10` (the greeting), `HandshakeResponse41`,
//! `SSLRequest`, `AuthSwitchRequest` and `AuthMoreData`.
//!
//! Encoders and decoders exist for both directions so that the server, the tests
//! and the load generator share one codec.

use super::consts::cap;
use super::error::{Error, Result};
use super::wire::{put_lenenc_int, put_lenenc_str, put_nul_str, put_u16, put_u32, Reader};

/// The server greeting (protocol version 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeV10 {
    /// Server version string, e.g. "8.0.36-understudy".
    pub server_version: Vec<u8>,
    /// Connection id (MySQL calls it the thread id).
    pub connection_id: u32,
    /// The auth nonce ("scramble"), 20 bytes for the standard plugins.
    pub nonce: Vec<u8>,
    /// Capability flags the server offers.
    pub capabilities: u32,
    /// Default collation id.
    pub charset: u8,
    /// Server status flags.
    pub status: u16,
    /// Auth plugin the nonce is meant for (only sent with PLUGIN_AUTH).
    pub auth_plugin: Vec<u8>,
}

impl HandshakeV10 {
    /// Appends the greeting payload (no packet header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(10); // protocol version
        put_nul_str(out, &self.server_version);
        put_u32(out, self.connection_id);
        let part1 = self.nonce.get(..8).unwrap_or(&self.nonce);
        let part2 = self.nonce.get(8..).unwrap_or_default();
        out.extend_from_slice(part1);
        out.extend(std::iter::repeat_n(0, 8 - part1.len()));
        out.push(0); // filler
        put_u16(out, self.capabilities as u16);
        out.push(self.charset);
        put_u16(out, self.status);
        put_u16(out, (self.capabilities >> 16) as u16);
        if self.capabilities & cap::PLUGIN_AUTH != 0 {
            out.push((self.nonce.len() + 1) as u8); // length of the whole nonce incl. trailing NUL
        } else {
            out.push(0);
        }
        out.extend_from_slice(&[0; 10]); // reserved
        if self.capabilities & cap::SECURE_CONNECTION != 0 {
            // part 2 is at least 13 bytes: 12 of nonce and a NUL (libmysql reads it so).
            out.extend_from_slice(part2);
            out.extend(std::iter::repeat_n(0, 12usize.saturating_sub(part2.len())));
            out.push(0);
        }
        if self.capabilities & cap::PLUGIN_AUTH != 0 {
            put_nul_str(out, &self.auth_plugin);
        }
    }

    /// Decodes a greeting payload. Lenient where real servers differ: a missing
    /// plugin name or a short second nonce part is accepted.
    pub fn decode(payload: &[u8]) -> Result<HandshakeV10> {
        let mut r = Reader::new(payload);
        if r.u8("protocol version")? != 10 {
            return Err(Error::Malformed("protocol version is not 10"));
        }
        let server_version = r.nul_str("server version")?.to_vec();
        let connection_id = r.u32("connection id")?;
        let mut nonce = r.bytes(8, "nonce part 1")?.to_vec();
        r.skip(1, "filler")?;
        let mut capabilities = u32::from(r.u16("capability flags")?);
        let mut charset = 0;
        let mut status = 0;
        let mut auth_plugin = Vec::new();
        if !r.is_empty() {
            charset = r.u8("charset")?;
            status = r.u16("status flags")?;
            capabilities |= u32::from(r.u16("capability flags (upper)")?) << 16;
            let auth_len = r.u8("auth data length")?;
            r.skip(10, "reserved")?;
            if capabilities & cap::SECURE_CONNECTION != 0 {
                let n = usize::from(auth_len).saturating_sub(9).max(12);
                let part2 = r.bytes(n.min(r.remaining()), "nonce part 2")?;
                nonce.extend_from_slice(part2);
                // the part-2 field is NUL-terminated
                if r.peek() == Some(0) {
                    r.skip(1, "nonce terminator")?;
                }
            }
            if capabilities & cap::PLUGIN_AUTH != 0 {
                auth_plugin = r.nul_str_or_rest("auth plugin name")?.to_vec();
            }
        }
        Ok(HandshakeV10 {
            server_version,
            connection_id,
            nonce,
            capabilities,
            charset,
            status,
            auth_plugin,
        })
    }
}

/// What the client sends back: `HandshakeResponse41`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandshakeResponse41 {
    /// Capability flags the client wants.
    pub capabilities: u32,
    /// Largest packet the client accepts.
    pub max_packet: u32,
    /// Client collation id.
    pub charset: u8,
    /// User name.
    pub username: Vec<u8>,
    /// Auth response (the scramble).
    pub auth_response: Vec<u8>,
    /// Initial database, with CONNECT_WITH_DB.
    pub database: Option<Vec<u8>>,
    /// Auth plugin the response was computed for, with PLUGIN_AUTH.
    pub auth_plugin: Option<Vec<u8>>,
    /// Connection attributes, with CONNECT_ATTRS.
    pub attributes: Vec<(Vec<u8>, Vec<u8>)>,
    /// The zstd level the client asks for, with ZSTD_COMPRESSION_ALGORITHM.
    pub zstd_level: Option<u8>,
}

/// Length of an `SSLRequest` payload: the fixed head of a `HandshakeResponse41`.
pub const SSL_REQUEST_LEN: usize = 32;

/// True when a connection-phase payload is an `SSLRequest` (the fixed 32-byte head
/// with CLIENT_SSL set), i.e. the client wants to start TLS now.
pub fn is_ssl_request(payload: &[u8]) -> bool {
    payload.len() == SSL_REQUEST_LEN
        && Reader::new(payload)
            .u32("capabilities")
            .is_ok_and(|c| c & cap::SSL != 0)
}

impl HandshakeResponse41 {
    /// Decodes the payload, trusting the client's flags for its layout. A client
    /// without PROTOCOL_41 is `Malformed` (the pre-4.1 response is not supported).
    pub fn decode(payload: &[u8]) -> Result<HandshakeResponse41> {
        Self::decode_for(payload, u32::MAX)
    }

    /// Decodes the payload sent to a server that offered `server_caps`: the
    /// layout follows the flags both sides set (a client may send a flag the
    /// server never offered, and then does not use that encoding).
    pub fn decode_for(payload: &[u8], server_caps: u32) -> Result<HandshakeResponse41> {
        let mut r = Reader::new(payload);
        let capabilities = r.u32("capability flags")?;
        let layout = capabilities & server_caps;
        if capabilities & cap::PROTOCOL_41 == 0 {
            return Err(Error::Malformed(
                "client does not speak the 4.1 protocol (HandshakeResponse320 is not supported)",
            ));
        }
        let max_packet = r.u32("max packet size")?;
        let charset = r.u8("charset")?;
        r.skip(23, "filler")?;
        let username = r.nul_str_or_rest("user name")?.to_vec();
        let auth_response = if r.is_empty() {
            Vec::new()
        } else if layout & cap::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            r.lenenc_str("auth response")?.to_vec()
        } else if layout & cap::SECURE_CONNECTION != 0 {
            let n = r.u8("auth response length")?;
            r.bytes(usize::from(n), "auth response")?.to_vec()
        } else {
            r.nul_str_or_rest("auth response")?.to_vec()
        };
        let mut database = None;
        if layout & cap::CONNECT_WITH_DB != 0 && !r.is_empty() {
            let db = r.nul_str_or_rest("database")?;
            database = Some(db.to_vec());
        }
        let mut auth_plugin = None;
        if layout & cap::PLUGIN_AUTH != 0 && !r.is_empty() {
            auth_plugin = Some(r.nul_str_or_rest("auth plugin name")?.to_vec());
        }
        let mut attributes = Vec::new();
        if layout & cap::CONNECT_ATTRS != 0 && !r.is_empty() {
            let total = r.lenenc_int("attributes length")?.unwrap_or(0);
            let total =
                usize::try_from(total).map_err(|_| Error::Malformed("attributes length"))?;
            let mut a = Reader::new(r.bytes(total, "attributes")?);
            while !a.is_empty() {
                let k = a.lenenc_str("attribute name")?.to_vec();
                let v = a.lenenc_str("attribute value")?.to_vec();
                attributes.push((k, v));
            }
        }
        let mut zstd_level = None;
        if layout & cap::ZSTD_COMPRESSION_ALGORITHM != 0 && !r.is_empty() {
            zstd_level = Some(r.u8("zstd compression level")?);
        }
        Ok(HandshakeResponse41 {
            capabilities,
            max_packet,
            charset,
            username,
            auth_response,
            database,
            auth_plugin,
            attributes,
            zstd_level,
        })
    }

    /// Appends the payload; the auth response encoding follows the capability flags.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.capabilities);
        put_u32(out, self.max_packet);
        out.push(self.charset);
        out.extend_from_slice(&[0; 23]);
        put_nul_str(out, &self.username);
        if self.capabilities & cap::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            put_lenenc_str(out, &self.auth_response);
        } else if self.capabilities & cap::SECURE_CONNECTION != 0 {
            out.push(self.auth_response.len().min(255) as u8);
            let a = &self.auth_response;
            out.extend_from_slice(a.get(..255).unwrap_or(a));
        } else {
            put_nul_str(out, &self.auth_response);
        }
        if self.capabilities & cap::CONNECT_WITH_DB != 0 {
            put_nul_str(out, self.database.as_deref().unwrap_or_default());
        }
        if self.capabilities & cap::PLUGIN_AUTH != 0 {
            put_nul_str(out, self.auth_plugin.as_deref().unwrap_or_default());
        }
        if self.capabilities & cap::CONNECT_ATTRS != 0 {
            let mut attrs = Vec::new();
            for (k, v) in &self.attributes {
                put_lenenc_str(&mut attrs, k);
                put_lenenc_str(&mut attrs, v);
            }
            put_lenenc_int(out, attrs.len() as u64);
            out.extend_from_slice(&attrs);
        }
        if self.capabilities & cap::ZSTD_COMPRESSION_ALGORITHM != 0 {
            out.push(self.zstd_level.unwrap_or(3));
        }
    }
}

/// Appends an `AuthSwitchRequest` payload: 0xFE, plugin name, plugin data.
pub fn encode_auth_switch(out: &mut Vec<u8>, plugin: &str, data: &[u8]) {
    out.push(0xfe);
    put_nul_str(out, plugin.as_bytes());
    out.extend_from_slice(data);
}

/// A decoded `AuthSwitchRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSwitchRequest<'a> {
    /// Plugin to switch to.
    pub plugin: &'a [u8],
    /// Its data (for the standard plugins: the 20-byte nonce and a NUL).
    pub data: &'a [u8],
}

/// Decodes an `AuthSwitchRequest` payload (first byte 0xFE).
pub fn decode_auth_switch(payload: &[u8]) -> Result<AuthSwitchRequest<'_>> {
    let mut r = Reader::new(payload);
    if r.u8("auth switch header")? != 0xfe {
        return Err(Error::Malformed("auth switch header"));
    }
    let plugin = r.nul_str_or_rest("auth switch plugin")?;
    Ok(AuthSwitchRequest {
        plugin,
        data: r.rest(),
    })
}

/// Appends an `AuthMoreData` payload: 0x01 then the data.
pub fn encode_auth_more_data(out: &mut Vec<u8>, data: &[u8]) {
    out.push(0x01);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::test_hex as hex;

    /// The seed script's hand-written greeting: capabilities 0x8201, charset 8,
    /// and a nonce of 00 14 00 .. 00 (Lua's "\020" is decimal 20).
    #[test]
    fn decodes_the_seed_greeting() {
        let mut g = vec![10];
        g.extend_from_slice(b"5.0.45-proxy\0");
        g.extend_from_slice(&[0xff; 4]);
        g.extend_from_slice(&[0, 20, 0, 0, 0, 0, 0, 0]);
        g.push(0);
        g.extend_from_slice(&[1, 130, 8, 2, 0]);
        g.extend_from_slice(&[0; 26]);
        let h = HandshakeV10::decode(&g).expect("test vector");
        assert_eq!(h.server_version, b"5.0.45-proxy");
        assert_eq!(h.connection_id, u32::MAX);
        assert_eq!(
            h.capabilities,
            cap::LONG_PASSWORD | cap::PROTOCOL_41 | cap::SECURE_CONNECTION
        );
        assert_eq!(h.charset, 8);
        let mut want = vec![0u8; 20];
        want[1] = 20;
        assert_eq!(h.nonce, want);
    }

    #[test]
    fn greeting_round_trip() {
        let h = HandshakeV10 {
            server_version: b"8.0.36-understudy".to_vec(),
            connection_id: 7,
            nonce: (1..=20).collect(),
            capabilities: cap::PROTOCOL_41
                | cap::SECURE_CONNECTION
                | cap::PLUGIN_AUTH
                | cap::DEPRECATE_EOF,
            charset: 255,
            status: 2,
            auth_plugin: b"mysql_native_password".to_vec(),
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(HandshakeV10::decode(&out).expect("test vector"), h);
    }

    /// A HandshakeResponse41 shaped like the protocol documentation's example
    /// (capabilities 0x000fa68d, user "pam", 20-byte scramble, db "test").
    #[test]
    fn decodes_the_documented_response() {
        let p = hex(
            "8d a6 0f 00 00 00 00 01 21 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
             00 00 00 00 70 61 6d 00 14 ab 09 ee f6 bc b1 32 3e 61 14 38 65 c0 99 1d 95 7d 75 d4 \
             47 74 65 73 74 00 6d 79 73 71 6c 5f 6e 61 74 69 76 65 5f 70 61 73 73 77 6f 72 64 00",
        );
        let r = HandshakeResponse41::decode(&p).expect("test vector");
        assert_eq!(r.username, b"pam");
        assert_eq!(r.auth_response.len(), 20);
        assert_eq!(r.database.as_deref(), Some(&b"test"[..]));
        assert_eq!(
            r.auth_plugin.as_deref(),
            Some(&b"mysql_native_password"[..])
        );
        assert_eq!(r.charset, 0x21);
    }

    #[test]
    fn response_round_trip_in_every_auth_encoding() {
        let base = cap::PROTOCOL_41 | cap::CONNECT_WITH_DB | cap::PLUGIN_AUTH | cap::CONNECT_ATTRS;
        for extra in [
            0,
            cap::SECURE_CONNECTION,
            cap::SECURE_CONNECTION | cap::PLUGIN_AUTH_LENENC_CLIENT_DATA,
        ] {
            let r = HandshakeResponse41 {
                capabilities: base | extra,
                max_packet: 1 << 24,
                charset: 45,
                username: b"alice".to_vec(),
                auth_response: if extra == 0 {
                    b"secret".to_vec()
                } else {
                    vec![0xaa; 20]
                },
                database: Some(b"shop".to_vec()),
                auth_plugin: Some(b"mysql_native_password".to_vec()),
                attributes: vec![(b"_client_name".to_vec(), b"test".to_vec())],
                zstd_level: None,
            };
            let mut out = Vec::new();
            r.encode(&mut out);
            assert_eq!(HandshakeResponse41::decode(&out).expect("test vector"), r);
            for cut in 0..out.len() {
                // never panics on a truncated response
                let _ = HandshakeResponse41::decode(&out[..cut]);
            }
        }
    }

    #[test]
    fn ssl_request_is_recognised() {
        let mut p = Vec::new();
        put_u32(&mut p, cap::PROTOCOL_41 | cap::SSL);
        put_u32(&mut p, 1 << 24);
        p.push(45);
        p.extend_from_slice(&[0; 23]);
        assert!(is_ssl_request(&p));
        p[1] = 0;
        p[0] = 0;
        assert!(!is_ssl_request(&p));
    }

    #[test]
    fn auth_switch_round_trip() {
        let mut out = Vec::new();
        encode_auth_switch(&mut out, "mysql_native_password", b"0123456789abcdefghij\0");
        let s = decode_auth_switch(&out).expect("test vector");
        assert_eq!(s.plugin, b"mysql_native_password");
        assert_eq!(s.data, b"0123456789abcdefghij\0");
    }
}
