//! The bounded pool that runs argon2 and the password-strength check: at most `workers` jobs at
//! once on tokio's blocking threads, never on the reactor. Callers beyond that wait in line (a
//! semaphore queue) instead of piling up threads and memory.

use std::sync::Arc;

use piratenldap_core::metrics::Metrics;
use piratenldap_core::password::{self, HashParams, PasswordError, Verification};
use tokio::sync::{OnceCell, Semaphore};

use crate::password_rule::{self, WeakPassword};

/// Runs password hashing and verification off the reactor, a bounded number at a time.
#[derive(Clone)]
pub struct HashPool {
    permits: Arc<Semaphore>,
    params: HashParams,
    metrics: Arc<Metrics>,
    /// A hash of a random password with the configured parameters, verified for unknown bind
    /// DNs so that they cost the same time as known ones (no account enumeration by timing).
    dummy: Arc<OnceCell<String>>,
}

impl HashPool {
    /// A pool of `workers` (at least one) with the configured argon2 parameters; every
    /// verification is counted in `metrics`.
    pub fn new(workers: usize, params: HashParams, metrics: Arc<Metrics>) -> Self {
        HashPool {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            params,
            metrics,
            dummy: Arc::new(OnceCell::new()),
        }
    }

    /// Checks a password against a stored hash.
    pub async fn verify(&self, password: &str, stored: &str) -> Verification {
        self.metrics.password_verified();
        let (password, stored, params) = (password.to_string(), stored.to_string(), self.params);
        self.run(move || password::verify_password(&password, &stored, &params))
            .await
            .unwrap_or(Verification::Mismatch)
    }

    /// Burns the time of one verification (for unknown DNs); always a mismatch.
    pub async fn verify_dummy(&self, password: &str) -> Verification {
        let dummy = self
            .dummy
            .get_or_try_init(|| async { self.hash(&password::generate_password()).await })
            .await;
        if let Ok(dummy) = dummy {
            self.verify(password, dummy).await;
        }
        Verification::Mismatch
    }

    /// Hashes a new password with the configured parameters.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let (password, params) = (password.to_string(), self.params);
        self.run(move || password::hash_password(&password, &params))
            .await
            .unwrap_or_else(|| Err(PasswordError::Hash("hashing task failed".into())))
    }

    /// Checks a chosen password against [`crate::password_rule`], off the reactor.
    pub async fn check_strength(&self, password: &str, user_inputs: &[&str]) -> Result<(), WeakPassword> {
        let password = password.to_string();
        let inputs: Vec<String> = user_inputs.iter().map(|s| s.to_string()).collect();
        self.run(move || {
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            password_rule::check(&password, &inputs)
        })
        .await
        .unwrap_or(Err(WeakPassword::Guessable))
    }

    /// Runs CPU-heavy `job` in the pool; `None` if it panicked or the pool is closed.
    pub(crate) async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let queued = std::time::Instant::now();
        self.metrics.hash_queued();
        let permit = self.permits.acquire().await;
        self.metrics.hash_started(queued.elapsed().as_secs_f64());
        let _permit = permit.ok()?;
        tokio::task::spawn_blocking(move || {
            let out = job();
            // argon2's memory (19 MiB with the default parameters) back to the system now,
            // not when this thread next allocates.
            piratenldap_allocator::give_back_freed_memory();
            out
        })
        .await
        .ok()
    }
}
