//! The signing keys of a running server: read at start, and again when `oidc.keys_dir`
//! changes (`oidc rotate-key` on this machine) or an hour has passed (so a replaced key leaves
//! the JWKS when its overlap ends). A directory that no longer reads keeps the keys in use.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use piratenldap_oidc::keys::{KeyError, KeySet};
use time::OffsetDateTime;

/// How often the directory's modification time is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Keys are read again at least this often.
const RELOAD_EVERY: Duration = Duration::from_secs(3600);

struct Loaded {
    keys: Arc<KeySet>,
    modified: Option<SystemTime>,
    loaded: Instant,
    checked: Instant,
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
                checked: at,
            }),
            dir,
            overlap,
        })
    }

    /// The keys to use at `now`.
    pub fn get(&self, now: OffsetDateTime) -> Arc<KeySet> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let at = Instant::now();
        if at.duration_since(loaded.checked) < CHECK_EVERY {
            return Arc::clone(&loaded.keys);
        }
        loaded.checked = at;
        let changed = modified(&self.dir);
        if changed == loaded.modified && at.duration_since(loaded.loaded) < RELOAD_EVERY {
            return Arc::clone(&loaded.keys);
        }
        match KeySet::load(&self.dir, now, self.overlap) {
            Ok(keys) => {
                if keys.signing_kid() != loaded.keys.signing_kid() {
                    tracing::info!(kid = keys.signing_kid(), "signing with a new key");
                }
                loaded.keys = Arc::new(keys);
                loaded.modified = changed;
                loaded.loaded = at;
            }
            Err(e) => tracing::error!(error = %e, "reading the signing keys again failed; the old ones stay in use"),
        }
        Arc::clone(&loaded.keys)
    }
}
