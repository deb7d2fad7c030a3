//! Ticket tokens: a compact binary payload signed with Ed25519, base64url without padding, small enough for a QR
//! code that a phone screen shows and a door scanner reads (about 140 characters for a four-character seat label).
//!
//! Layout (version 1), every length in bytes:
//!
//! | field | length | meaning |
//! |---|---|---|
//! | version | 1 | `1` |
//! | kid length `k` | 1 | 1 to 16 |
//! | kid | `k` | the signing key's id (ASCII), so that keys rotate: a scanner picks the public key by it |
//! | showtime id | 16 | UUID bytes |
//! | booking id | 16 | UUID bytes |
//! | seat length `n` | 1 | 1 to 16 |
//! | seat label | `n` | UTF-8, e.g. `F12` |
//! | signature | 64 | Ed25519 over [`DOMAIN`] followed by every byte above |
//!
//! The signed message starts with a fixed domain string, so that no other Ed25519 signature made with the same key
//! (there is none today) could ever pass for a ticket. Ed25519 signatures are deterministic: a booking's tickets are
//! the same bytes every time they are rendered, so nothing but the key needs storing.
use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use uuid::Uuid;

/// The only payload version so far.
pub const VERSION: u8 = 1;

/// Prefixed to every signed message (domain separation).
pub const DOMAIN: &[u8] = b"boxoffice-ticket-v1";

/// Longest key id and seat label a token carries.
pub const MAX_FIELD: usize = 16;

const SIGNATURE_LEN: usize = 64;

/// What a ticket token says: this seat of this booking, at this showtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketClaims {
    /// The showtime the ticket admits to.
    pub showtime: Uuid,
    /// The booking it belongs to.
    pub booking: Uuid,
    /// The seat label.
    pub seat: String,
}

/// Why a token was refused. Every variant is a forgery or a corruption as far as the door is concerned (a 400);
/// the variants are for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not base64url.
    #[error("the token is not base64url")]
    Encoding,
    /// Too short, a length out of bounds, or bytes left over.
    #[error("the token's layout is invalid")]
    Layout,
    /// A version this service does not know.
    #[error("unknown token version {0}")]
    Version(u8),
    /// A key id this service does not know (a retired key, or made up).
    #[error("unknown key id {0:?}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Signature,
}

/// One public key as published at `GET /tickets/keys` (a JWK, RFC 8037: `kty` OKP, `crv` Ed25519).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PublicKey {
    /// Always `OKP`.
    pub kty: &'static str,
    /// Always `Ed25519`.
    pub crv: &'static str,
    /// Always `EdDSA`.
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
    /// The key id tokens name.
    pub kid: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
}

/// The ticket keys: the first signs, every one verifies (older ones stay while their tickets may still be shown).
pub struct TicketKeys {
    signing: (String, SigningKey),
    verifying: HashMap<String, VerifyingKey>,
    published: Vec<PublicKey>,
}

impl std::fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketKeys").field("signing_kid", &self.signing.0).finish_non_exhaustive()
    }
}

impl TicketKeys {
    /// Keys from (kid, 32-byte seed) pairs, the first one signing. `None` without any.
    pub fn new(seeds: &[(String, [u8; 32])]) -> Option<Self> {
        let ((kid, seed), _) = seeds.split_first()?;
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        for (kid, seed) in seeds {
            let key = SigningKey::from_bytes(seed).verifying_key();
            verifying.insert(kid.clone(), key);
            published.push(PublicKey {
                kty: "OKP",
                crv: "Ed25519",
                alg: "EdDSA",
                use_: "sig",
                kid: kid.clone(),
                x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            });
        }
        Some(Self { signing: (kid.clone(), SigningKey::from_bytes(seed)), verifying, published })
    }

    /// Keys from the configuration's (kid, seed) pairs; `None` without any.
    pub fn from_seeds(seeds: &[(String, crate::config::TicketSeed)]) -> Option<Self> {
        let seeds: Vec<_> = seeds.iter().map(|(kid, seed)| (kid.clone(), seed.0)).collect();
        Self::new(&seeds)
    }

    /// The public keys, signing key first.
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.published
    }

    /// The signed token of `claims`.
    ///
    /// # Errors
    /// A seat label longer than [`MAX_FIELD`] bytes (the catalog's labels are far shorter).
    pub fn sign(&self, claims: &TicketClaims) -> Result<String, TokenError> {
        let (kid, key) = &self.signing;
        let seat = claims.seat.as_bytes();
        if seat.is_empty() || seat.len() > MAX_FIELD {
            return Err(TokenError::Layout);
        }
        let mut bytes = Vec::with_capacity(3 + kid.len() + 32 + seat.len() + SIGNATURE_LEN);
        bytes.push(VERSION);
        push_field(&mut bytes, kid.as_bytes());
        bytes.extend_from_slice(claims.showtime.as_bytes());
        bytes.extend_from_slice(claims.booking.as_bytes());
        push_field(&mut bytes, seat);
        let signature = key.sign(&signed_message(&bytes));
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The claims of a token whose signature verifies with the key it names.
    ///
    /// # Errors
    /// Any malformed, unknown-key or badly signed token.
    pub fn verify(&self, token: &str) -> Result<TicketClaims, TokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| TokenError::Encoding)?;
        let (payload, signature) =
            bytes.split_at_checked(bytes.len().saturating_sub(SIGNATURE_LEN)).ok_or(TokenError::Layout)?;
        let mut reader = Reader(payload);
        let version = reader.byte()?;
        if version != VERSION {
            return Err(TokenError::Version(version));
        }
        let kid = std::str::from_utf8(reader.field()?).map_err(|_| TokenError::Layout)?.to_owned();
        let showtime = reader.uuid()?;
        let booking = reader.uuid()?;
        let seat = std::str::from_utf8(reader.field()?).map_err(|_| TokenError::Layout)?.to_owned();
        if !reader.0.is_empty() || signature.len() != SIGNATURE_LEN {
            return Err(TokenError::Layout);
        }
        let key = self.verifying.get(&kid).ok_or(TokenError::UnknownKey(kid))?;
        let signature = Signature::from_slice(signature).map_err(|_| TokenError::Signature)?;
        // Strict: small-order keys and malleable signatures are refused too, so one ticket has one valid token.
        key.verify_strict(&signed_message(payload), &signature).map_err(|_| TokenError::Signature)?;
        Ok(TicketClaims { showtime, booking, seat })
    }
}

fn push_field(bytes: &mut Vec<u8>, field: &[u8]) {
    // Callers bound every field by MAX_FIELD, so the length fits a byte.
    bytes.push(u8::try_from(field.len()).unwrap_or(u8::MAX));
    bytes.extend_from_slice(field);
}

fn signed_message(payload: &[u8]) -> Vec<u8> {
    [DOMAIN, payload].concat()
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(TokenError::Layout)?;
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, TokenError> {
        Ok(self.take(1)?[0])
    }

    fn field(&mut self) -> Result<&'a [u8], TokenError> {
        let len = usize::from(self.byte()?);
        if len == 0 || len > MAX_FIELD {
            return Err(TokenError::Layout);
        }
        self.take(len)
    }

    fn uuid(&mut self) -> Result<Uuid, TokenError> {
        Uuid::from_slice(self.take(16)?).map_err(|_| TokenError::Layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[(&str, u8)]) -> TicketKeys {
        let seeds: Vec<_> = list.iter().map(|(kid, b)| ((*kid).to_owned(), [*b; 32])).collect();
        TicketKeys::new(&seeds).expect("keys")
    }

    fn claims() -> TicketClaims {
        TicketClaims { showtime: Uuid::from_u128(1), booking: Uuid::from_u128(2), seat: "F12".into() }
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims_and_is_qr_sized() {
        let k = keys(&[("t1", 7)]);
        let token = k.sign(&claims()).expect("signs");
        assert_eq!(k.verify(&token), Ok(claims()));
        assert!(token.len() <= 150, "{} characters", token.len());
        assert_eq!(k.sign(&claims()).expect("signs"), token, "deterministic");
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let k = keys(&[("t1", 7)]);
        let bytes = URL_SAFE_NO_PAD.decode(k.sign(&claims()).expect("signs")).expect("b64");
        for i in 0..bytes.len() * 8 {
            let mut forged = bytes.clone();
            forged[i / 8] ^= 1 << (i % 8);
            assert!(k.verify(&URL_SAFE_NO_PAD.encode(&forged)).is_err(), "bit {i} flipped still verifies");
        }
    }

    #[test]
    fn a_rotated_out_key_verifies_while_listed_and_unknown_kids_are_refused() {
        let old = keys(&[("t1", 7)]);
        let token = old.sign(&claims()).expect("signs");
        let rotated = keys(&[("t2", 9), ("t1", 7)]);
        assert_eq!(rotated.verify(&token), Ok(claims()));
        assert_eq!(rotated.public_keys().len(), 2);
        assert_eq!(keys(&[("t2", 9)]).verify(&token), Err(TokenError::UnknownKey("t1".into())));
        // The same kid with another key: the signature fails.
        assert_eq!(keys(&[("t1", 8)]).verify(&token), Err(TokenError::Signature));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let k = keys(&[("t1", 7)]);
        for token in ["", "!!!", "AQ", &URL_SAFE_NO_PAD.encode([1u8; 40]), &URL_SAFE_NO_PAD.encode([1u8; 200])] {
            assert!(k.verify(token).is_err(), "{token:?}");
        }
    }
}
