//! Per-statement deadlines without a thread wake-up per statement.
//!
//! tokio's timer wakes the thread parked in the runtime's I/O driver whenever a timer is
//! registered that expires before every pending one; with no timer pending, any timer
//! does. A provider that puts each statement under a deadline (`tokio::time::timeout`) on a
//! runtime with no other timers therefore pays one extra thread wake-up per statement: the
//! profile of a PostgreSQL single-row upsert counted about 0.5 extra wake-ups and 40-50 us of
//! CPU per call, most of the gap to the hand-written driver call (see
//! `docs/benchmark-profiles.md`). A [`TimerAnchor`] keeps one timer pending, firing once a
//! second, so statement deadlines, which are seconds away, are never the earliest timer and
//! register without waking anyone. Deadlines shorter than the anchor's next tick still wake
//! the driver, as they must.

use std::sync::Arc;
use std::time::Duration;

/// Keeps one timer pending on the runtime it was started on, until dropped.
#[derive(Debug)]
pub struct TimerAnchor {
    task: tokio::task::AbortHandle,
}

impl TimerAnchor {
    /// How often the anchor's timer fires.
    pub const TICK: Duration = Duration::from_secs(1);

    /// Starts an anchor on the current tokio runtime; `None` outside one.
    pub fn start() -> Option<Arc<Self>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let task = runtime.spawn(async {
            loop {
                tokio::time::sleep(Self::TICK).await;
            }
        });
        Some(Arc::new(Self { task: task.abort_handle() }))
    }
}

impl Drop for TimerAnchor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_runtime_and_stops_when_dropped() {
        assert!(TimerAnchor::start().is_none(), "outside a runtime there is nothing to anchor");
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let anchor = TimerAnchor::start().expect("inside a runtime");
            let task = anchor.task.clone();
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(!task.is_finished(), "the anchor's timer runs while it is held");
            drop(anchor);
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(task.is_finished(), "dropping the anchor stops its task");
        });
    }
}
