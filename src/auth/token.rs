//! Access tokens: JWTs signed with HMAC-SHA256.
//!
//! Verification pins the algorithm (HS256 only: a token claiming `none` or RS256 is refused), requires and checks
//! `exp`, `iat`, `iss`, `aud` and `sub`, and requires a `kid` naming a known key so keys can rotate: tokens are
//! signed with the current key (`BOXOFFICE_JWT_SECRET`, `BOXOFFICE_JWT_KEY_ID`); the keys of
//! `BOXOFFICE_JWT_PREVIOUS_KEYS` only verify, and are dropped from it once their last tokens have expired (one token
//! lifetime after the rotation).

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{Role, UserId};
use crate::config::AuthConfig;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    /// The user's role when the token was issued.
    pub role: Role,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Why a token was refused (all of them become a 401; the reason is for logs and tests).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The header names no key we know.
    #[error("unknown signing key")]
    UnknownKey,
    /// Bad signature, algorithm, structure or claims.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Past `exp`.
    #[error("token expired")]
    Expired,
}

/// Signs and verifies tokens.
pub struct TokenKeys {
    kid: String,
    encoding: EncodingKey,
    /// Every key that verifies, by `kid`: the current one and the previous ones.
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut verifying: Vec<&str> = self.decoding.keys().map(String::as_str).collect();
        verifying.sort_unstable();
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .field("verifying", &verifying)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys from configuration; without a configured secret, a random one (tokens then die with the process and are
    /// not shared between processes: for tools such as the load generator; `serve` refuses to start without one).
    pub fn from_config(config: &AuthConfig) -> Self {
        let secret = match &config.jwt_secret {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "BOXOFFICE_JWT_SECRET is not set: using a random key; tokens will not survive a restart"
                );
                let mut bytes = vec![0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                bytes
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // We never issue `nbf`, but a token that carries one is not valid before it (RFC 7519 §4.1.5): the library
        // checks it only when asked.
        validation.validate_nbf = true;
        validation.leeway = 5;
        let mut decoding: HashMap<String, DecodingKey> = config
            .jwt_previous_keys
            .iter()
            .map(|(kid, secret)| (kid.clone(), DecodingKey::from_secret(secret.expose().as_bytes())))
            .collect();
        decoding.insert(config.jwt_key_id.clone(), DecodingKey::from_secret(&secret));
        Self {
            kid: config.jwt_key_id.clone(),
            encoding: EncodingKey::from_secret(&secret),
            decoding,
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: config.token_ttl,
        }
    }

    /// Issues a token for `user` with `role`.
    ///
    /// # Errors
    /// Signing failed (it does not with an HMAC key; kept as an error rather than a panic).
    pub fn issue(&self, user: UserId, role: Role) -> anyhow::Result<IssuedToken> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        self.sign(&Claims {
            sub: user.0,
            role,
            iat: now,
            exp: now.saturating_add(ttl),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        })
        .map(|token| IssuedToken { token, expires_in: self.ttl.as_secs() })
    }

    /// Signs arbitrary claims with the current key (tests use it to make expired or foreign tokens).
    ///
    /// # Errors
    /// Signing failed.
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Verifies a compact JWT and returns its claims.
    ///
    /// # Errors
    /// See [`TokenError`].
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let Some(key) = header.kid.as_deref().and_then(|kid| self.decoding.get(kid)) else {
            return Err(TokenError::UnknownKey);
        };
        jsonwebtoken::decode::<Claims>(token, key, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(e.to_string()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn keys(secret: &str, kid: &str, audience: &str) -> TokenKeys {
        rotated(secret, kid, audience, &[])
    }

    fn rotated(secret: &str, kid: &str, audience: &str, previous: &[(&str, &str)]) -> TokenKeys {
        TokenKeys::from_config(&AuthConfig {
            jwt_secret: Some(Secret::new(secret)),
            jwt_key_id: kid.into(),
            jwt_previous_keys: previous.iter().map(|(k, s)| ((*k).to_owned(), Secret::new(*s))).collect(),
            issuer: "boxoffice".into(),
            audience: audience.into(),
            token_ttl: Duration::from_secs(60),
            bootstrap_admin: None,
            ticket_keys: Vec::new(),
        })
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let k = keys(SECRET, "k1", "api");
        let user = UserId(Uuid::new_v4());
        let issued = k.issue(user, Role::Admin).expect("signs");
        let claims = k.verify(&issued.token).expect("verifies");
        assert_eq!((claims.sub, claims.role), (user.0, Role::Admin));
        assert_eq!(issued.expires_in, 60);
    }

    #[test]
    fn foreign_expired_tampered_and_unsigned_tokens_are_refused() {
        let k = keys(SECRET, "k1", "api");
        let user = UserId(Uuid::new_v4());
        let token = k.issue(user, Role::Customer).expect("signs").token;

        let other_secret = keys("another-secret-another-secret-xx", "k1", "api");
        assert!(matches!(other_secret.verify(&token), Err(TokenError::Invalid(_))));
        let other_kid = keys(SECRET, "k2", "api");
        assert_eq!(other_kid.verify(&token), Err(TokenError::UnknownKey));
        let other_aud = keys(SECRET, "k1", "other");
        assert!(matches!(other_aud.verify(&token), Err(TokenError::Invalid(_))));

        let now = OffsetDateTime::now_utc().unix_timestamp();
        let expired = k
            .sign(&Claims {
                sub: user.0,
                role: Role::Customer,
                iat: now - 600,
                exp: now - 300,
                iss: "boxoffice".into(),
                aud: "api".into(),
            })
            .expect("signs");
        assert_eq!(k.verify(&expired), Err(TokenError::Expired));

        // Flip the role in the payload without re-signing.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(k.verify(&parts.join(".")).is_err());

        // alg=none with our kid.
        use base64_free::encode;
        let none_header = encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        let unsigned = format!("{none_header}.{}.", token.split('.').nth(1).unwrap_or_default());
        assert!(k.verify(&unsigned).is_err());
    }

    #[test]
    fn a_token_is_not_valid_before_its_nbf() {
        let k = keys(SECRET, "k1", "api");
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let with_nbf = |nbf: i64| {
            let claims = serde_json::json!({
                "sub": Uuid::new_v4(), "role": "customer", "iat": now, "exp": now + 600,
                "iss": "boxoffice", "aud": "api", "nbf": nbf,
            });
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("k1".into());
            jsonwebtoken::encode(&header, &claims, &k.encoding).expect("signs")
        };
        assert!(matches!(k.verify(&with_nbf(now + 300)), Err(TokenError::Invalid(_))), "nbf five minutes ahead");
        assert!(k.verify(&with_nbf(now - 1)).is_ok(), "nbf in the past");
    }

    #[test]
    fn after_a_rotation_old_tokens_verify_and_new_ones_use_the_new_key() {
        const NEW: &str = "fedcba9876543210fedcba9876543210-new";
        let before = keys(SECRET, "k1", "api");
        let old_token = before.issue(UserId(Uuid::new_v4()), Role::Customer).expect("signs").token;
        let after = rotated(NEW, "k2", "api", &[("k1", SECRET)]);
        assert!(after.verify(&old_token).is_ok(), "a token of the previous key still verifies");
        let new_token = after.issue(UserId(Uuid::new_v4()), Role::Customer).expect("signs").token;
        assert_eq!(jsonwebtoken::decode_header(&new_token).expect("header").kid.as_deref(), Some("k2"));
        assert_eq!(before.verify(&new_token), Err(TokenError::UnknownKey), "the old deployment does not know k2");
        // A previous kid with a token signed by some other secret: the kid is known, the signature is not.
        let forged = keys("another-secret-another-secret-xx", "k1", "api").issue(UserId(Uuid::new_v4()), Role::Admin);
        assert!(matches!(after.verify(&forged.expect("signs").token), Err(TokenError::Invalid(_))));
        let unknown = keys(NEW, "k9", "api").issue(UserId(Uuid::new_v4()), Role::Admin).expect("signs").token;
        assert_eq!(after.verify(&unknown), Err(TokenError::UnknownKey));
        assert!(!format!("{after:?}").contains("fedcba"), "Debug shows key ids only");
    }

    /// Minimal URL-safe base64 without padding, to forge an `alg: none` header in the test above.
    mod base64_free {
        pub fn encode(input: &[u8]) -> String {
            const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in input.chunks(3) {
                let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
                for i in 0..=chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                }
            }
            out
        }
    }
}
