//! The live directory shared by all connections: the current [`View`], refreshed from the store
//! when its revision changes (polled, so changes by any process, the CLI included, show up),
//! by applying what changed in place or, for bulk changes, by rebuilding it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use piratenldap_core::metrics::Metrics;
use piratenldap_store::{Delta, Store, StoreError};
use tokio::sync::watch;

use crate::build::Layout;
use crate::view::View;

/// Why the directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Building the view panicked or was cancelled.
    #[error("building the directory view failed: {0}")]
    Build(String),
}

/// Past this many changed keys since the view's revision, a whole rebuild is cheaper than
/// applying them one by one (about 1–4 ms each at 100 000 members, against about 0.8 s of
/// CPU for a rebuild; `piratenldap-bench changes`).
pub const MAX_APPLIED_KEYS: usize = 256;

/// The directory: the store and the current view of it.
pub struct Directory {
    store: Arc<dyn Store>,
    layout: Layout,
    current: RwLock<Arc<View>>,
    refresh_lock: tokio::sync::Mutex<()>,
    /// Where refreshes are recorded (`/metrics`).
    metrics: Arc<Metrics>,
}

impl Directory {
    /// Loads the first view; refreshes are recorded in `metrics`.
    pub async fn load(
        store: Arc<dyn Store>,
        layout: Layout,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Directory>, DirectoryError> {
        let started = std::time::Instant::now();
        let view = build_view(store.as_ref(), layout.clone()).await?;
        metrics.view_refreshed("rebuild", started.elapsed().as_secs_f64(), unix_now());
        Ok(Arc::new(Directory {
            store,
            layout,
            current: RwLock::new(Arc::new(view)),
            refresh_lock: tokio::sync::Mutex::new(()),
            metrics,
        }))
    }

    /// The store behind the directory.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The tree's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The current view (cheap: an `Arc` clone).
    pub fn view(&self) -> Arc<View> {
        match self.current.read() {
            Ok(v) => Arc::clone(&v),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Brings the view up to the store's revision. Returns whether it changed. The rows of
    /// what changed since the view's revision (the store's change log) are applied in place
    /// (`View::apply`), which costs what the change costs; the view is rebuilt whole only
    /// when the store says so (the log does not reach back, a bulk change, more than
    /// [`MAX_APPLIED_KEYS`] keys) or the change is of a kind applied only by rebuilding.
    pub async fn refresh(&self) -> Result<bool, DirectoryError> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let current = self.view();
        if self.store.revision().await? == current.revision {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        let mut how = "rebuild";
        let view = match self.store.changes_since(current.revision, MAX_APPLIED_KEYS).await? {
            Delta::Unchanged => return Ok(false),
            Delta::Rebuild(why) => {
                tracing::info!(%why, "rebuilding the directory view");
                build_view(self.store.as_ref(), self.layout.clone()).await?
            }
            Delta::Rows(rows) => {
                let keys = rows.uids.len() + rows.group_names.len() + rows.service_names.len();
                let base = Arc::clone(&current);
                let applied = tokio::task::spawn_blocking(move || base.apply(&rows))
                    .await
                    .map_err(|e| DirectoryError::Build(e.to_string()))?;
                match applied {
                    Ok(view) => {
                        how = "apply";
                        tracing::debug!(
                            revision = view.revision,
                            keys,
                            micros = started.elapsed().as_micros() as u64,
                            "directory view changed in place"
                        );
                        view
                    }
                    Err(why) => {
                        tracing::info!(%why, "rebuilding the directory view");
                        build_view(self.store.as_ref(), self.layout.clone()).await?
                    }
                }
            }
        };
        drop(current);
        self.metrics
            .view_refreshed(how, started.elapsed().as_secs_f64(), unix_now());
        let old = match self.current.write() {
            Ok(mut v) => std::mem::replace(&mut *v, Arc::new(view)),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), Arc::new(view)),
        };
        // Freeing a large view takes a while: not under the lock, and not on the reactor.
        drop_in_background(old);
        Ok(true)
    }

    /// Polls the store every `interval` and refreshes the view, until `shutdown` turns true.
    pub async fn follow(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    match self.refresh().await {
                        Ok(true) => {}
                        Ok(false) => {}
                        Err(e) => {
                            self.metrics.database_error("refresh");
                            tracing::error!(error = %e, "refreshing the directory view failed")
                        }
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }
}

async fn build_view(store: &dyn Store, layout: Layout) -> Result<View, DirectoryError> {
    let started = std::time::Instant::now();
    let snapshot = store.snapshot().await?;
    let read = started.elapsed();
    // Building is CPU work proportional to the directory: keep it off the reactor.
    let view = tokio::task::spawn_blocking(move || {
        let view = View::build(layout, snapshot);
        // The build's temporaries were freed on every rayon thread: back to the system now.
        rayon::broadcast(|_| piratenldap_allocator::give_back_freed_memory());
        piratenldap_allocator::give_back_freed_memory();
        view
    })
    .await
    .map_err(|e| DirectoryError::Build(e.to_string()))?;
    tracing::info!(
        entries = view.entries.len(),
        revision = view.revision,
        read_ms = read.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "directory view built"
    );
    Ok(view)
}

/// The Unix time now, in seconds.
fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Drops a large value on the blocking pool, so that freeing it delays neither the caller
/// nor the reactor, and gives the memory back to the system.
fn drop_in_background<T: Send + 'static>(value: T) {
    tokio::task::spawn_blocking(move || {
        drop(value);
        piratenldap_allocator::give_back_freed_memory();
    });
}
