//! The signing keys of a running server: read at start, and again when `oidc.keys_dir`
//! changes (`oidc rotate-key` on this machine) or an hour has passed (so a replaced key leaves
//! the JWKS when its overlap ends). A directory that no longer reads keeps the keys in use.
//! The files are looked at by [`KeyRing::refresh`] on a blocking thread (`serve` calls it
//! every few seconds), never by a request on the reactor.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use piratenldap_oidc::keys::{KeyError, KeySet};
use time::OffsetDateTime;

/// How often `serve` should call [`KeyRing::refresh`].
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Keys are read again at least this often.
const RELOAD_EVERY: Duration = Duration::from_secs(3600);

struct Loaded {
    keys: Arc<KeySet>,
    modified: Option<SystemTime>,
    loaded: Instant,
}

/// The current [`KeySet`], reloaded when its directory changes.
pub struct KeyRing {
    dir: PathBuf,
    overlap: time::Duration,
    loaded: Mutex<Loaded>,
}

fn modified(dir: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
}

impl KeyRing {
    /// Reads the keys of `dir`; fails when there is none.
    pub fn load(dir: PathBuf, overlap: time::Duration, now: OffsetDateTime) -> Result<KeyRing, KeyError> {
        let keys = Arc::new(KeySet::load(&dir, now, overlap)?);
        let at = Instant::now();
        Ok(KeyRing {
            loaded: Mutex::new(Loaded {
                keys,
                modified: modified(&dir),
                loaded: at,
            }),
            dir,
            overlap,
        })
    }

    /// The keys in use.
    pub fn get(&self) -> Arc<KeySet> {
        Arc::clone(&self.loaded.lock().unwrap_or_else(PoisonError::into_inner).keys)
    }

    /// Reads the keys again if the directory changed or an hour passed. File I/O: call it on
    /// a blocking thread.
    pub fn refresh(&self, now: OffsetDateTime) {
        let (modified_before, loaded_at) = {
            let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            (loaded.modified, loaded.loaded)
        };
        let changed = modified(&self.dir);
        if changed == modified_before && loaded_at.elapsed() < RELOAD_EVERY {
            return;
        }
        match KeySet::load(&self.dir, now, self.overlap) {
            Ok(keys) => {
                let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
                if keys.signing_kid() != loaded.keys.signing_kid() {
                    tracing::info!(kid = keys.signing_kid(), "signing with a new key");
                }
                loaded.keys = Arc::new(keys);
                loaded.modified = changed;
                loaded.loaded = Instant::now();
            }
            Err(e) => tracing::error!(error = %e, "reading the signing keys again failed; the old ones stay in use"),
        }
    }
}
