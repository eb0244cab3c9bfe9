//! The RSA key pair of caching_sha2_password's full authentication without
//! TLS: the client asks for the public key (`0x02`), encrypts its password
//! XOR the nonce with RSA-OAEP (SHA-1, as MySQL does), and the server
//! decrypts it. aws-lc-rs (the TLS provider's library) generates the key and
//! decrypts: its OAEP decryption is constant-time, where RustCrypto's `rsa`
//! 0.9 leaks timing (the Marvin attack, RUSTSEC-2023-0071), and the
//! ciphertexts decrypted here come from whoever connects. Key files are read
//! and the public key written with RustCrypto's `pkcs1`/`pkcs8`/PEM
//! encoders; never hand-rolled.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1};
use pkcs8::der::pem::{self, LineEnding};
use pkcs8::der::Encode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use std::path::Path;

/// The key generated at start: MySQL's `auto_generate_certs` size.
pub const GENERATED_SIZE: KeySize = KeySize::Rsa2048;

/// The key pair and the public key as the client receives it (PEM).
pub struct AuthKey {
    private: OaepPrivateDecryptingKey,
    public_pem: String,
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKey").finish_non_exhaustive()
    }
}

impl AuthKey {
    /// A key generated now (tens of milliseconds; done at start).
    pub fn generate() -> Result<AuthKey, String> {
        let private = PrivateDecryptingKey::generate(GENERATED_SIZE)
            .map_err(|_| "generating an RSA key failed".to_string())?;
        AuthKey::from_private(private)
    }

    /// The key in `path` (PEM, PKCS#1 `BEGIN RSA PRIVATE KEY` as MySQL
    /// writes it, or PKCS#8 `BEGIN PRIVATE KEY`; 2048 to 8192 bits).
    pub fn load(path: &Path) -> Result<AuthKey, String> {
        let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let pkcs8 = match PrivateKeyDer::from_pem_file(path).map_err(|e| bad(&e))? {
            PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
            // PKCS#1 is the key itself; PKCS#8 wraps it with its algorithm
            PrivateKeyDer::Pkcs1(k) => {
                pkcs8::PrivateKeyInfo::new(pkcs1::ALGORITHM_ID, k.secret_pkcs1_der())
                    .to_der()
                    .map_err(|e| bad(&e))?
            }
            _ => return Err(bad(&"not an RSA private key")),
        };
        let private = PrivateDecryptingKey::from_pkcs8(&pkcs8)
            .map_err(|e| bad(&format_args!("not a usable RSA private key ({e})")))?;
        AuthKey::from_private(private)
    }

    fn from_private(private: PrivateDecryptingKey) -> Result<AuthKey, String> {
        let spki = private
            .public_key()
            .as_der()
            .map_err(|_| "encoding the public key failed".to_string())?;
        let public_pem = pem::encode_string("PUBLIC KEY", LineEnding::LF, spki.as_ref())
            .map_err(|e| format!("encoding the public key: {e}"))?;
        let private = OaepPrivateDecryptingKey::new(private)
            .map_err(|_| "an RSA key that cannot decrypt OAEP".to_string())?;
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
        // the plaintext is shorter than the modulus: one modulus of room
        let mut plain = vec![0u8; self.private.min_output_size()];
        let n = self
            .private
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut plain, None)
            .ok()?
            .len();
        plain.truncate(n);
        xor_nonce(&mut plain, nonce);
        if plain.last() == Some(&0) {
            plain.pop();
        }
        Some(plain)
    }
}

/// The password's obfuscation before encryption (both ends): XOR with the
/// nonce, repeated.
fn xor_nonce(buf: &mut [u8], nonce: &[u8]) {
    for (b, n) in buf.iter_mut().zip(nonce.iter().cycle()) {
        *b ^= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};
    use rustls::pki_types::SubjectPublicKeyInfoDer;

    /// What a client does: the password XOR the nonce, encrypted with the
    /// public key as the server sent it.
    fn encrypt(public_pem: &str, password: &[u8], nonce: &[u8]) -> Vec<u8> {
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(public_pem.as_bytes()).unwrap();
        let public =
            OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&spki).unwrap()).unwrap();
        let mut pass = password.to_vec();
        pass.push(0);
        xor_nonce(&mut pass, nonce);
        let mut out = vec![0u8; public.ciphertext_size()];
        public
            .encrypt(&OAEP_SHA1_MGF1SHA1, &pass, &mut out, None)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn a_password_encrypted_with_the_public_key_comes_back() {
        let k = AuthKey::generate().unwrap();
        assert!(k.public_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let nonce = b"abcdefghijklmnopqrst";
        let ct = encrypt(k.public_pem(), b"secret", nonce);
        assert_eq!(k.password(&ct, nonce).as_deref(), Some(&b"secret"[..]));
        assert_eq!(k.password(b"garbage", nonce), None);
        assert_eq!(k.password(&[0u8; 256], nonce), None);
        assert_eq!(k.password(&[0xffu8; 4096], nonce), None);
        assert_eq!(k.password(&ct, b""), None);
    }

    #[test]
    fn keys_load_from_pkcs1_and_pkcs8_files_and_not_from_others() {
        let dir = std::env::temp_dir().join(format!("understudy-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pkcs8 = PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .unwrap()
            .as_der()
            .unwrap();
        let pkcs8 = pkcs8.as_ref();
        let pkcs1 = pkcs8::PrivateKeyInfo::try_from(pkcs8).unwrap().private_key;
        let nonce = b"01234567890123456789";
        for (name, label, der) in [
            ("p1.pem", "RSA PRIVATE KEY", pkcs1),
            ("p8.pem", "PRIVATE KEY", pkcs8),
        ] {
            let path = dir.join(name);
            std::fs::write(
                &path,
                pem::encode_string(label, LineEnding::LF, der).unwrap(),
            )
            .unwrap();
            let k = AuthKey::load(&path).unwrap();
            let ct = encrypt(k.public_pem(), b"pw", nonce);
            assert_eq!(
                k.password(&ct, nonce).as_deref(),
                Some(&b"pw"[..]),
                "{name}"
            );
        }
        let junk = dir.join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(AuthKey::load(&junk).is_err());
        assert!(AuthKey::load(&dir.join("absent.pem")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
