//! Log lines bounded in rate and length, so no client can flood the log or fill the disk
//! through it (issue 13): each place in the code that logs (a callsite) may write a burst of
//! [`BURST`] lines, then [`PER_SECOND`] a second; what it writes beyond that is counted and
//! reported once a minute as one line per callsite. Every line is cut at [`MAX_LINE_BYTES`].
//!
//! Written by hand because tracing-subscriber has no rate limit, and the crates that offer one
//! limit per message text (which a client chooses) rather than per callsite.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// Lines a callsite may write at once.
pub const BURST: f64 = 100.0;
/// Lines a callsite may write a second after its burst.
pub const PER_SECOND: f64 = 10.0;
/// The longest line written; longer lines are cut and say how much was cut.
pub const MAX_LINE_BYTES: usize = 8192;
/// How often suppressed lines are reported.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// One callsite's token bucket.
struct Bucket {
    metadata: &'static Metadata<'static>,
    tokens: f64,
    at: Instant,
    suppressed: u64,
}

impl Bucket {
    /// Takes one token at `now`; false when the callsite is over its rate.
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * PER_SECOND;
        self.tokens = (self.tokens + refill).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

/// The rate limit, a layer that disables events of callsites over their rate.
#[derive(Clone, Default)]
pub struct RateLimit {
    buckets: Arc<Mutex<HashMap<Identifier, Bucket>>>,
}

impl RateLimit {
    /// Whether an event of `metadata` may be written at `now`.
    fn allow(&self, metadata: &'static Metadata<'static>, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(metadata.callsite()).or_insert(Bucket {
            metadata,
            tokens: BURST,
            at: now,
            suppressed: 0,
        });
        bucket.take(now)
    }

    /// The callsites that suppressed lines since the last call, with their counts; resets them.
    fn take_suppressed(&self) -> Vec<(&'static Metadata<'static>, u64)> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets
            .values_mut()
            .filter(|b| b.suppressed > 0)
            .map(|b| (b.metadata, std::mem::take(&mut b.suppressed)))
            .collect()
    }

    /// Starts a thread that logs, once a minute, how many lines each callsite suppressed.
    pub fn report_in_background(&self) {
        let limit = self.clone();
        let spawned = std::thread::Builder::new().name("log-limit".into()).spawn(move || {
            loop {
                std::thread::sleep(REPORT_EVERY);
                for (metadata, count) in limit.take_suppressed() {
                    tracing::warn!(
                        suppressed = count,
                        target = metadata.target(),
                        at = %format_args!("{}:{}", metadata.file().unwrap_or("?"), metadata.line().unwrap_or(0)),
                        "log lines over the rate limit were not written"
                    );
                }
            }
        });
        if let Err(e) = spawned {
            eprintln!("warning: log rate-limit reports are off: {e}");
        }
    }
}

impl<S: Subscriber> Layer<S> for RateLimit {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        self.allow(event.metadata(), Instant::now())
    }
}

/// Standard error with every write (one formatted line) cut at [`MAX_LINE_BYTES`].
pub struct BoundedStderr;

impl<'a> MakeWriter<'a> for BoundedStderr {
    type Writer = BoundedLine<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        BoundedLine(io::stderr())
    }
}

/// A writer that cuts each write at [`MAX_LINE_BYTES`].
pub struct BoundedLine<W>(W);

impl<W: Write> Write for BoundedLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() <= MAX_LINE_BYTES {
            return self.0.write_all(buf).map(|()| buf.len());
        }
        let mut cut = MAX_LINE_BYTES;
        // Back to the start of a UTF-8 character: continuation bytes are 10xxxxxx.
        while cut > 0 && (buf[cut] & 0xc0) == 0x80 {
            cut -= 1;
        }
        self.0.write_all(&buf[..cut])?;
        writeln!(self.0, " … [{} bytes cut]", buf.len() - cut)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static CALLSITE: tracing::callsite::DefaultCallsite = tracing::callsite::DefaultCallsite::new(&META);
    static META: Metadata<'static> = tracing::metadata!(
        name: "test",
        target: "test",
        level: tracing::Level::WARN,
        fields: &[],
        callsite: &CALLSITE,
        kind: tracing::metadata::Kind::EVENT
    );

    #[test]
    fn a_callsite_gets_its_burst_then_its_rate() {
        let limit = RateLimit::default();
        let start = Instant::now();
        let written = (0..1000).filter(|_| limit.allow(&META, start)).count();
        assert_eq!(written, BURST as usize);
        let later = start + Duration::from_secs(2);
        let written = (0..1000).filter(|_| limit.allow(&META, later)).count();
        assert_eq!(written, (2.0 * PER_SECOND) as usize);
        let reported = limit.take_suppressed();
        assert_eq!(reported.len(), 1);
        assert_eq!(reported[0].1, 2000 - BURST as u64 - (2.0 * PER_SECOND) as u64);
        assert!(limit.take_suppressed().is_empty(), "reported once");
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let mut out = Vec::new();
        let line = "€".repeat(MAX_LINE_BYTES);
        BoundedLine(&mut out).write_all(line.as_bytes()).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        let kept = MAX_LINE_BYTES / 3 * 3;
        assert_eq!(
            text,
            format!("{} … [{} bytes cut]\n", "€".repeat(kept / 3), line.len() - kept)
        );
        let mut out = Vec::new();
        BoundedLine(&mut out).write_all(b"short\n").unwrap_or_default();
        assert_eq!(out, b"short\n");
    }
}
