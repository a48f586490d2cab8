//! The audit sink: the authentication core hands events to a channel; one task writes them to
//! the store in batches, so a bind never waits for a database write. The channel is bounded: if
//! the writer falls behind, binds wait (backpressure) rather than events being dropped. While
//! the store refuses them, events wait in the writer (at most [`CAPACITY`], the oldest dropped
//! and counted in the log beyond that) and are written when it answers again.

use std::sync::Arc;
use std::time::Duration;

use piratenldap_store::{AuditEvent, Store};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events buffered before senders wait, and events kept while the store is down.
const CAPACITY: usize = 10_000;
/// How often events kept while the store is down are tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Largest batch per transaction.
const BATCH: usize = 500;

/// Where handlers send audit events.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditEvent>,
}

/// Writes the waiting events and then `batch`; what the store refuses waits for the next try.
async fn flush(store: &dyn Store, waiting: &mut std::collections::VecDeque<AuditEvent>, batch: &mut Vec<AuditEvent>) {
    waiting.extend(batch.drain(..));
    if waiting.is_empty() {
        return;
    }
    let events: Vec<AuditEvent> = waiting.iter().cloned().collect();
    match store.append_audit(&events).await {
        Ok(()) => waiting.clear(),
        Err(e) => {
            let dropped = waiting.len().saturating_sub(CAPACITY);
            waiting.drain(..dropped);
            tracing::error!(error = %e, waiting = waiting.len(), dropped, "writing audit events failed; they wait for the database");
        }
    }
}

impl AuditSink {
    /// Starts the writer task. It ends, after writing what it has, when every sink is dropped.
    pub fn start(store: Arc<dyn Store>) -> (AuditSink, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(CAPACITY);
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            // Events the store refused (it is down): written again before newer ones, at most
            // CAPACITY of them; beyond that the oldest are dropped and counted in the log.
            let mut waiting: std::collections::VecDeque<AuditEvent> = std::collections::VecDeque::new();
            loop {
                let first = if waiting.is_empty() {
                    rx.recv().await
                } else {
                    // Retry the waiting events at least every second.
                    match tokio::time::timeout(RETRY, rx.recv()).await {
                        Ok(next) => next,
                        Err(_) => {
                            flush(store.as_ref(), &mut waiting, &mut Vec::new()).await;
                            continue;
                        }
                    }
                };
                let Some(first) = first else { break };
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
                flush(store.as_ref(), &mut waiting, &mut batch).await;
            }
            flush(store.as_ref(), &mut waiting, &mut batch).await;
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
