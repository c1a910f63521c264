//! The optional background cleaner: a thread that advances every shard's timing wheel
//! each `cleanup_interval`, so expired entries are reclaimed even when nobody touches the
//! cache. It holds only a `Weak` reference, and the cache's `Drop` stops and joins it.
//! Loom models drive expiry by hand, so under `clockwheel_loom` no cleaner is spawned.
#![cfg_attr(clockwheel_loom, allow(dead_code))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// Something the cleaner can tick.
pub(crate) trait Maintain: Send + Sync + 'static {
    fn run_pending_tasks(&self);
}

/// Handle to the cleaner thread; dropping it stops and joins the thread.
pub(crate) struct Cleaner {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Cleaner {
    pub(crate) fn spawn<T: Maintain>(target: Weak<T>, interval: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("clockwheel-cleaner".into())
            .spawn(move || run(&target, interval, &flag))?;
        Ok(Cleaner {
            stop,
            handle: Some(handle),
        })
    }
}

fn run<T: Maintain>(target: &Weak<T>, interval: Duration, stop: &AtomicBool) {
    loop {
        std::thread::park_timeout(interval);
        if stop.load(Ordering::Acquire) {
            return;
        }
        match target.upgrade() {
            Some(cache) => cache.run_pending_tasks(),
            None => return,
        }
    }
}

impl Drop for Cleaner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            // The last handle may be dropped by the cleaner itself (it upgraded its Weak
            // just as the user dropped theirs): it must not join itself; it exits anyway.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}
