//! Waiting for a flight: the futures an async caller awaits (with an optional deadline,
//! enforced by the timer thread so that no runtime is needed) and what a settled flight
//! means for a caller of a given error type.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::record::{Flight, Settled};
use super::timer::Alarm;
use super::LoadError;

/// What a waiter does with a settled flight.
pub(crate) enum Next<V, E> {
    /// Return this to the caller.
    Done(Result<V, LoadError<E>>),
    /// The leader gave up (or failed with another error type): go back and join again.
    Retry,
}

/// Interprets a settled flight for a waiter whose loader's error type is `E`.
pub(crate) fn next<V, E: Send + Sync + 'static>(settled: Settled<V>) -> Next<V, E> {
    match settled {
        Settled::Loaded(value) => Next::Done(Ok(value)),
        Settled::Failed(error) => match error.downcast::<E>() {
            Ok(error) => Next::Done(Err(LoadError::Failed(error))),
            // A leader with a different error type failed: this caller's own loader may
            // well succeed, so it loads rather than receive an error it cannot name.
            Err(_) => Next::Retry,
        },
        Settled::Abandoned => Next::Retry,
    }
}

/// A deadline shared by the futures below: checked on every poll, and armed on the
/// timer thread so that the task is polled again when it passes.
struct Deadline {
    at: Option<Instant>,
    alarm: Option<Alarm>,
}

impl Deadline {
    fn new(at: Option<Instant>) -> Self {
        Deadline { at, alarm: None }
    }

    /// True if the deadline has passed; otherwise makes sure the task is woken then.
    fn check(&mut self, cx: &Context<'_>) -> bool {
        let Some(at) = self.at else { return false };
        if Instant::now() >= at {
            return true;
        }
        match &self.alarm {
            Some(alarm) => alarm.update(cx.waker()),
            None => self.alarm = Alarm::arm(at, cx.waker()),
        }
        false
    }
}

/// Waits for a flight to settle; resolves to `None` if the deadline passes first.
pub(crate) struct WaitFlight<V: Clone> {
    flight: Arc<Flight<V>>,
    slot: Option<usize>,
    deadline: Deadline,
}

impl<V: Clone> WaitFlight<V> {
    pub(crate) fn new(flight: Arc<Flight<V>>, deadline: Option<Instant>) -> Self {
        WaitFlight {
            flight,
            slot: None,
            deadline: Deadline::new(deadline),
        }
    }
}

impl<V: Clone> Future for WaitFlight<V> {
    type Output = Option<Settled<V>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(settled) = this.flight.poll_settled(&mut this.slot, cx) {
            this.slot = None;
            return Poll::Ready(Some(settled));
        }
        if this.deadline.check(cx) {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

impl<V: Clone> Drop for WaitFlight<V> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.flight.unregister(slot);
        }
    }
}

/// Polls a (pinned) loader future until it finishes or the deadline passes (`None`).
/// On `None` the loader is dropped by the caller: that is the load's cancellation.
pub(crate) struct Loading<'a, F> {
    loader: Pin<&'a mut F>,
    deadline: Deadline,
}

impl<'a, F> Loading<'a, F> {
    pub(crate) fn new(loader: Pin<&'a mut F>, deadline: Option<Instant>) -> Self {
        Loading {
            loader,
            deadline: Deadline::new(deadline),
        }
    }
}

impl<F: Future> Future for Loading<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = self.loader.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if self.deadline.check(cx) {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}
