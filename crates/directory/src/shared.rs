//! The live directory shared by all connections: the current [`View`], refreshed from the store
//! when its revision changes (polled, so changes by any process, the CLI included, show up).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use piratenldap_store::{Store, StoreError};
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

/// The directory: the store and the current view of it.
pub struct Directory {
    store: Arc<dyn Store>,
    layout: Layout,
    current: RwLock<Arc<View>>,
    refresh_lock: tokio::sync::Mutex<()>,
}

impl Directory {
    /// Loads the first view.
    pub async fn load(store: Arc<dyn Store>, layout: Layout) -> Result<Arc<Directory>, DirectoryError> {
        let view = build_view(store.as_ref(), layout.clone()).await?;
        Ok(Arc::new(Directory {
            store,
            layout,
            current: RwLock::new(Arc::new(view)),
            refresh_lock: tokio::sync::Mutex::new(()),
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

    /// Rebuilds the view if the store changed since it was built. Returns whether it did.
    pub async fn refresh(&self) -> Result<bool, DirectoryError> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let revision = self.store.revision().await?;
        if revision == self.view().revision {
            return Ok(false);
        }
        let view = Arc::new(build_view(self.store.as_ref(), self.layout.clone()).await?);
        let old = match self.current.write() {
            Ok(mut v) => std::mem::replace(&mut *v, view),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), view),
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
                        Err(e) => tracing::error!(error = %e, "refreshing the directory view failed"),
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
    let (view, snapshot) = tokio::task::spawn_blocking(move || (View::build(layout, &snapshot), snapshot))
        .await
        .map_err(|e| DirectoryError::Build(e.to_string()))?;
    drop_in_background(snapshot);
    tracing::info!(
        entries = view.entries.len(),
        revision = view.revision,
        read_ms = read.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "directory view built"
    );
    Ok(view)
}

/// Drops a large value on the blocking pool, so that freeing it delays neither the caller
/// nor the reactor.
fn drop_in_background<T: Send + 'static>(value: T) {
    tokio::task::spawn_blocking(move || drop(value));
}
