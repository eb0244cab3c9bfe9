//! The RSA key pair of caching_sha2_password's full authentication without
//! TLS: the client asks for the public key (`0x02`), encrypts its password
//! XOR the nonce with RSA-OAEP (SHA-1, as MySQL does), and the server
//! decrypts it. RustCrypto's `rsa`; never hand-rolled.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use std::path::Path;

/// Bits of a key generated at start: MySQL's `auto_generate_certs` size.
pub const GENERATED_BITS: usize = 2048;

/// The key pair and the public key as the client receives it (PEM).
pub struct AuthKey {
    private: RsaPrivateKey,
    public_pem: String,
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKey").finish_non_exhaustive()
    }
}

impl AuthKey {
    /// A key generated now (takes a fraction of a second; done at start).
    pub fn generate() -> Result<AuthKey, String> {
        let mut rng = rsa::rand_core::OsRng;
        let private = RsaPrivateKey::new(&mut rng, GENERATED_BITS)
            .map_err(|e| format!("generating an RSA key: {e}"))?;
        AuthKey::from_private(private)
    }

    /// The key in `path` (PEM, PKCS#1 `BEGIN RSA PRIVATE KEY` as MySQL
    /// writes it, or PKCS#8 `BEGIN PRIVATE KEY`).
    pub fn load(path: &Path) -> Result<AuthKey, String> {
        let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let private = RsaPrivateKey::from_pkcs1_pem(&pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(&pem))
            .map_err(|e| format!("{}: not an RSA private key in PEM ({e})", path.display()))?;
        AuthKey::from_private(private)
    }

    fn from_private(private: RsaPrivateKey) -> Result<AuthKey, String> {
        let public_pem = RsaPublicKey::from(&private)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| format!("encoding the public key: {e}"))?;
        Ok(AuthKey {
            private,
            public_pem,
        })
    }

    /// The public key, PEM (`BEGIN PUBLIC KEY`), as sent to clients and
    /// reported by `@@caching_sha2_password_public_key`.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The password a client sent encrypted: RSA-OAEP decrypted, XOR the
    /// nonce (repeated), the trailing NUL dropped. `None` for anything
    /// that does not decrypt.
    pub fn password(&self, ciphertext: &[u8], nonce: &[u8]) -> Option<Vec<u8>> {
        if nonce.is_empty() {
            return None;
        }
        let mut plain = self
            .private
            .decrypt(Oaep::new::<sha1::Sha1>(), ciphertext)
            .ok()?;
        for (i, b) in plain.iter_mut().enumerate() {
            *b ^= nonce[i % nonce.len()];
        }
        if plain.last() == Some(&0) {
            plain.pop();
        }
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_encrypted_with_the_public_key_comes_back() {
        use rsa::pkcs8::DecodePublicKey;
        let k = AuthKey::generate().unwrap();
        assert!(k.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        let public = RsaPublicKey::from_public_key_pem(k.public_pem()).unwrap();
        let nonce = b"abcdefghijklmnopqrst";
        let mut pass = b"secret\0".to_vec();
        for (i, b) in pass.iter_mut().enumerate() {
            *b ^= nonce[i % nonce.len()];
        }
        let mut rng = rsa::rand_core::OsRng;
        let ct = public
            .encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), &pass)
            .unwrap();
        assert_eq!(k.password(&ct, nonce).as_deref(), Some(&b"secret"[..]));
        assert_eq!(k.password(b"garbage", nonce), None);
        assert_eq!(k.password(&[0u8; 256], nonce), None);
    }
}
