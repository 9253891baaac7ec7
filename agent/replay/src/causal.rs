//! Happens-before across connections. On the source, a request that began after another request's response
//! had been written was sent by a client that could have seen that response — a GET after another
//! connection's PUT, a search after a refresh — so the replay must not send it before that request has been
//! answered by the target. Captured timing alone does not give this: a target slower than the source, a source
//! read late (Kafka), or an as-fast-as-possible catch-up all let a later request overtake an earlier one.
//!
//! Every queued exchange takes a [`Ticket`] keyed by when its response ended in the capture; an exchange waits
//! before sending until no ticket older than its own request start is left. Waits only ever go to earlier
//! capture times, so they cannot form a cycle. Requests that overlapped in the capture still overlap in the
//! replay, so its parallelism is the source's.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The exchanges queued and not yet done, by captured response end.
#[derive(Debug, Default)]
pub(crate) struct Order {
    pending: Mutex<BTreeSet<(i128, u64)>>,
    next: AtomicU64,
    changed: Notify,
}

/// An exchange's place in the [`Order`], given up when dropped (the exchange was replayed, dead-lettered,
/// skipped, or abandoned at shutdown or revocation).
#[derive(Debug)]
pub(crate) struct Ticket {
    order: Arc<Order>,
    key: (i128, u64),
}

impl Order {
    fn pending(&self) -> MutexGuard<'_, BTreeSet<(i128, u64)>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a ticket for an exchange whose response ended at `done_nanos` in the capture.
    pub(crate) fn enter(self: &Arc<Self>, done_nanos: i128) -> Ticket {
        let key = (done_nanos, self.next.fetch_add(1, Ordering::Relaxed));
        self.pending().insert(key);
        Ticket { order: self.clone(), key }
    }

    /// Waits until every exchange whose response ended before `start_nanos` is done.
    pub(crate) async fn wait_before(&self, start_nanos: i128) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a ticket dropped in between still wakes this wait.
            changed.as_mut().enable();
            if self.pending().first().is_none_or(|&(done, _)| done >= start_nanos) {
                return;
            }
            changed.await;
        }
    }

    /// Exchanges not yet done.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.pending().len()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let first = {
            let mut pending = self.order.pending();
            let first = pending.first() == Some(&self.key);
            pending.remove(&self.key);
            first
        };
        // Only the oldest ticket can release a wait.
        if first {
            self.order.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_request_waits_for_responses_captured_before_it_began_and_no_others() {
        let order = Arc::new(Order::default());
        let put = order.enter(100);
        let overlapping = order.enter(300);
        let waiter = {
            let order = order.clone();
            tokio::spawn(async move { order.wait_before(200).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the GET began after the PUT's response: it waits");
        drop(put);
        tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap();
        assert_eq!(order.len(), 1, "an exchange that overlapped it in the capture does not hold it");
        drop(overlapping);
        assert_eq!(order.len(), 0);
    }
}
