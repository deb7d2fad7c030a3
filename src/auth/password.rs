//! Password hashing: argon2id, with parameters chosen and written down here.
//!
//! Parameters: m = 19 MiB, t = 2 iterations, p = 1 lane (the OWASP Password Storage Cheat Sheet's first argon2id
//! option): about 20–40 ms on one core of the target machines, which bounds login throughput per core to a few
//! dozen per second — the login rate limiter, not this cost, is the defence against online guessing. Hashes are
//! PHC strings, so these parameters can rise later and old hashes still verify. Hashing runs on the blocking pool
//! so it never stalls the async workers, and at most one hash per CPU runs at a time ([`HASHING`]): callers hold
//! no pooled connection while they wait or hash (see `auth::routes`).

use std::num::NonZeroUsize;
use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Memory cost in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified against when the account does not exist, so that an unknown email
/// and a wrong password cost the same time.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| hash_blocking("decoy password never used").unwrap_or_default());

/// Hashes running at once: one per CPU the process may use (cgroup quotas included). Unbounded, a burst of logins
/// started one blocking thread of 19 MiB per request: hundreds of them took the CPUs from the async workers (every
/// other request slowed down, connections were held longer) and could take the memory too. Waiting here costs the
/// same for every login, whatever the account, so it tells nothing about which accounts exist.
static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, NonZeroUsize::get)));

/// Runs `work` on the blocking pool once a [`HASHING`] permit is free.
///
/// # Errors
/// The blocking task panicked or was cancelled.
async fn run_hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    // The semaphore is never closed, so acquiring fails only if it were: then hash without a permit.
    let _permit = HASHING.acquire().await.ok();
    Ok(tokio::task::spawn_blocking(work).await?)
}

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher().hash_password(password.as_bytes(), &salt)?.to_string())
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Hashes a password into a PHC string.
///
/// # Errors
/// The blocking pool is gone, or argon2 refused the input (it accepts any password of our bounded lengths).
pub async fn hash(password: String) -> anyhow::Result<String> {
    let phc = run_hashing(move || hash_blocking(&password)).await??;
    Ok(phc)
}

/// Verifies `password` against `hash`, or against a decoy when there is no account (`None`), in the same time.
/// Returns false for the decoy whatever the password.
pub async fn verify(password: String, hash: Option<String>) -> bool {
    run_hashing(move || match hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            verify_blocking(&password, &DECOY_HASH);
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse".into()).await.expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse".into(), Some(phc.clone())).await);
        assert!(!verify("correct horsf".into(), Some(phc)).await);
        assert!(!verify("decoy password never used".into(), None).await);
        assert!(!verify("x".into(), Some("not a phc string".into())).await);
    }
}
