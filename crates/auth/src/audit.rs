//! The audit sink: the authentication core hands events to a channel; one task writes them to the store in
//! batches, so a bind never waits for a database write. The channel is bounded: if the writer
//! falls behind, binds wait (backpressure) rather than events being dropped.

use std::sync::Arc;
use std::time::Duration;

use piratenldap_store::{AuditEvent, Store};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events buffered before senders wait.
const CAPACITY: usize = 10_000;
/// Largest batch per transaction.
const BATCH: usize = 500;

/// Where handlers send audit events.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditEvent>,
}

impl AuditSink {
    /// Starts the writer task. It ends, after writing what it has, when every sink is dropped.
    pub fn start(store: Arc<dyn Store>) -> (AuditSink, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(CAPACITY);
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                // Gather what arrives within a moment into the same transaction.
                let deadline = tokio::time::sleep(Duration::from_millis(50));
                tokio::pin!(deadline);
                while batch.len() < BATCH {
                    tokio::select! {
                        next = rx.recv() => match next {
                            Some(e) => batch.push(e),
                            None => break,
                        },
                        _ = &mut deadline => break,
                    }
                }
                if let Err(e) = store.append_audit(&batch).await {
                    tracing::error!(error = %e, events = batch.len(), "writing audit events failed");
                }
                batch.clear();
            }
        });
        (AuditSink { tx }, writer)
    }

    /// Records one event. Never pass a password, code or token in any field.
    pub async fn record(&self, at: OffsetDateTime, actor: &str, action: &str, subject: &str, detail: String) {
        let event = AuditEvent {
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            detail,
        };
        if self.tx.send(event).await.is_err() {
            tracing::error!("audit writer is gone; event lost");
        }
    }
}
