//! The connection-phase decoders: `HandshakeResponse41::decode_for` under
//! arbitrary server capabilities (and `decode`, which trusts every client
//! flag), `SSLRequest` recognition, the greeting (`HandshakeV10`) and
//! `AuthSwitchRequest` decoders, and the scramble check.
//!
//! Input: 4 bytes of server capabilities (little-endian), then the payload.
//! Checks: no panic, and what was decoded is no larger than the payload (a
//! length field can never make the decoder allocate more than it was given).
#![no_main]

use libfuzzer_sys::fuzz_target;
use understudy::protocol::auth;
use understudy::protocol::consts::plugin;
use understudy::protocol::handshake::{self, HandshakeResponse41, HandshakeV10};
use understudy_fuzz::Choices;

fn check_response(r: &HandshakeResponse41, payload: &[u8]) {
    let attrs: usize = r.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    let decoded = r.username.len()
        + r.auth_response.len()
        + r.database.as_ref().map_or(0, Vec::len)
        + r.auth_plugin.as_ref().map_or(0, Vec::len)
        + attrs;
    assert!(
        decoded + 32 <= payload.len(),
        "decoded {decoded} bytes of fields from a {}-byte payload",
        payload.len()
    );
    // Every attribute costs at least its two length bytes.
    assert!(r.attributes.len() * 2 <= payload.len());
    // Encoding what was decoded never panics (the connection never does it,
    // but the load generator and tests share the codec).
    let mut out = Vec::new();
    r.encode(&mut out);
}

fuzz_target!(|data: &[u8]| {
    let mut c = Choices::new(data);
    let server_caps = c.u32();
    let payload = c.rest();

    if let Ok(r) = HandshakeResponse41::decode_for(payload, server_caps) {
        check_response(&r, payload);
    }
    if let Ok(r) = HandshakeResponse41::decode(payload) {
        check_response(&r, payload);
        // A decoded response passes the scramble check or fails it, quietly.
        for p in [plugin::NATIVE, plugin::CACHING_SHA2, plugin::CLEAR, ""] {
            let _ = auth::verify(
                p,
                b"pw",
                &payload[..payload.len().min(20)],
                &r.auth_response,
            );
        }
    }
    let _ = handshake::is_ssl_request(payload);

    if let Ok(g) = HandshakeV10::decode(payload) {
        assert!(g.server_version.len() + g.nonce.len() + g.auth_plugin.len() <= payload.len());
        let mut out = Vec::new();
        g.encode(&mut out);
        // The greeting a script may send is parsed by the server; re-parsing
        // our encoding of it must work when its nonce fits the fields.
        if g.nonce.len() >= 8 && g.nonce.len() <= 250 {
            assert!(
                HandshakeV10::decode(&out).is_ok(),
                "re-encoded greeting decodes"
            );
        }
    }
    if let Ok(s) = handshake::decode_auth_switch(payload) {
        assert!(s.plugin.len() + s.data.len() < payload.len());
    }
});
