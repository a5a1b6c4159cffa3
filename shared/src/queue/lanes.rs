//! Lanes: run a partition's deliveries concurrently across conversations but one at a time,
//! in arrival order, within a conversation.
//!
//! A partition holds many conversations. Its consumer submits each delivery under its
//! `conversation_key`: a delivery whose conversation has nothing running starts at once; one
//! whose conversation is busy waits behind the ones before it and starts when the previous one
//! finished (acknowledged, or handed back). So a partition keeps the order of every conversation
//! while its conversations proceed in parallel, bounded by the broker's prefetch.
//!
//! Stopping ([`Lanes::stop`]) lets what is running finish and drops what waits: those deliveries
//! were never settled, so closing the channel hands them back to the broker, in order, for the
//! partition's next consumer.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::time::Duration;

use tokio::task::{Id, JoinSet};

/// Deliveries of type `T` by conversation, each run by `run`.
pub struct Lanes<T, F> {
    run: F,
    running: JoinSet<()>,
    /// The conversation of each running task.
    running_keys: HashMap<Id, String>,
    /// Busy conversations, with what waits behind their running delivery.
    waiting: HashMap<String, VecDeque<T>>,
    /// Deliveries submitted and not finished: running or waiting.
    held: usize,
}

impl<T, F, Fut> Lanes<T, F>
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    pub fn new(run: F) -> Self {
        Self {
            run,
            running: JoinSet::new(),
            running_keys: HashMap::new(),
            waiting: HashMap::new(),
            held: 0,
        }
    }

    /// Run `item` after everything submitted before it under `key`.
    pub fn submit(&mut self, key: String, item: T) {
        self.held += 1;
        if let Some(queue) = self.waiting.get_mut(&key) {
            queue.push_back(item);
        } else {
            self.waiting.insert(key.clone(), VecDeque::new());
            self.start(key, item);
        }
    }

    fn start(&mut self, key: String, item: T) {
        let handle = self.running.spawn((self.run)(item));
        self.running_keys.insert(handle.id(), key);
    }

    /// Whether nothing is running.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Deliveries submitted and not yet finished (running, or waiting behind their
    /// conversation): what a consumer that bounds its own intake compares with its limit.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Wait for a running delivery to finish and start the next one of its conversation. Never
    /// returns while nothing runs.
    pub async fn next_finished(&mut self) {
        let Some(done) = self.running.join_next_with_id().await else {
            return std::future::pending().await;
        };
        self.held = self.held.saturating_sub(1);
        let id = match done {
            Ok((id, ())) => id,
            Err(e) => {
                tracing::error!(error = %e, "event task failed");
                e.id()
            }
        };
        let Some(key) = self.running_keys.remove(&id) else {
            return;
        };
        match self.waiting.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(next) => self.start(key, next),
            None => {
                self.waiting.remove(&key);
            }
        }
    }

    /// Drop what waits and let what runs finish, for at most `grace`; returns whether all
    /// finished (the rest are aborted, and their deliveries go back to the broker).
    pub async fn stop(&mut self, grace: Duration) -> bool {
        self.waiting.clear();
        self.held = 0;
        let finished = tokio::time::timeout(grace, async {
            while self.running.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !finished {
            self.running.abort_all();
        }
        self.running_keys.clear();
        finished
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    type Log = Arc<Mutex<Vec<String>>>;

    /// A lane runner that records start and end of each item, sleeping `ms` in between.
    fn recorder(
        log: &Log,
    ) -> impl Fn((String, u64)) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + use<> {
        let log = log.clone();
        move |(name, ms): (String, u64)| {
            let log = log.clone();
            Box::pin(async move {
                log.lock().unwrap().push(format!("start {name}"));
                tokio::time::sleep(Duration::from_millis(ms)).await;
                log.lock().unwrap().push(format!("end {name}"));
            })
        }
    }

    async fn run_all<T, F, Fut>(lanes: &mut Lanes<T, F>)
    where
        T: Send + 'static,
        F: Fn(T) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        while !lanes.is_idle() {
            lanes.next_finished().await;
        }
    }

    #[tokio::test]
    async fn a_conversation_runs_in_order_while_others_run_beside_it() {
        let log = Log::default();
        let mut lanes = Lanes::new(recorder(&log));
        lanes.submit("a".into(), ("a1".into(), 30));
        lanes.submit("a".into(), ("a2".into(), 1));
        lanes.submit("b".into(), ("b1".into(), 1));
        run_all(&mut lanes).await;
        let log = log.lock().unwrap().clone();
        let at = |entry: &str| log.iter().position(|e| e == entry).unwrap();
        // a2 waited for a1; b1 did not wait for a.
        assert!(at("end a1") < at("start a2"));
        assert!(at("end b1") < at("end a1"));
        assert_eq!(log.len(), 6);
    }

    #[tokio::test]
    async fn held_counts_what_runs_and_what_waits_until_it_finishes() {
        let log = Log::default();
        let mut lanes = Lanes::new(recorder(&log));
        lanes.submit("a".into(), ("a1".into(), 10));
        lanes.submit("a".into(), ("a2".into(), 10));
        lanes.submit("b".into(), ("b1".into(), 10));
        assert_eq!(lanes.held(), 3);
        lanes.next_finished().await;
        assert_eq!(lanes.held(), 2);
        run_all(&mut lanes).await;
        assert_eq!(lanes.held(), 0);

        lanes.submit("c".into(), ("c1".into(), 10));
        lanes.submit("c".into(), ("c2".into(), 10));
        assert!(lanes.stop(Duration::from_secs(5)).await);
        assert_eq!(lanes.held(), 0);
    }

    #[tokio::test]
    async fn stopping_finishes_what_runs_and_drops_what_waits() {
        let log = Log::default();
        let mut lanes = Lanes::new(recorder(&log));
        lanes.submit("a".into(), ("a1".into(), 20));
        lanes.submit("a".into(), ("a2".into(), 1));
        assert!(lanes.stop(Duration::from_secs(5)).await);
        assert_eq!(*log.lock().unwrap(), ["start a1", "end a1"]);
        assert!(lanes.is_idle());

        let mut lanes = Lanes::new(recorder(&log));
        lanes.submit("slow".into(), ("s".into(), 5_000));
        tokio::task::yield_now().await;
        assert!(!lanes.stop(Duration::from_millis(20)).await);
    }
}
