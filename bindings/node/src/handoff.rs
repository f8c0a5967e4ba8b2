//! The hand-off between the JS thread and a plugin thread, without napi:
//! generic over what is handed off, on the primitives of [`crate::sync`] so
//! that loom can check it (`loom_tests`).
//!
//! - [`Mailbox`]: messages from any thread to the one thread that receives
//!   them, which polls for a while ([`PollBudget`]) before it sleeps. The
//!   plugin thread's job queue is one.
//! - [`reply`]: a one-shot answer, given at most once; a waiter whose
//!   answerer goes away unanswered wakes with `None`. A JS `fetch` answers
//!   through one.
//! - [`Exchange`]: one host call of a plugin on its own thread. The JS thread
//!   asks (CallContext requests, each answered through its own [`reply`]) and
//!   last settles it; the plugin thread serves the requests until then.
//!
//! The rules, which the loom models check: a message sent is received once
//! and never lost, also when the receiver goes from polling to sleeping as it
//! arrives (it looks again under the lock before it sleeps, and a sender wakes
//! a sleeping receiver); closing wakes the receiver; whoever waits for an
//! answer wakes with `None` when nobody can give it any more.

use std::collections::VecDeque;

use crate::sync::{lock, yield_now, Arc, AtomicBool, Condvar, Mutex, Ordering, PollBudget};

/// Messages for one receiving thread.
pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    /// Whether `state` holds a message or is closed: what a polling receiver
    /// looks at without taking the lock. Written under the lock only.
    ready: AtomicBool,
    /// A sleeping receiver waits here.
    wake: Condvar,
}

struct State<T> {
    queue: VecDeque<T>,
    /// No more messages come in; those queued are still received.
    closed: bool,
    /// The receiver sleeps on `wake`: a sender must notify it.
    sleeping: bool,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                sleeping: false,
            }),
            ready: AtomicBool::new(false),
            wake: Condvar::new(),
        }
    }
}

impl<T> Mailbox<T> {
    /// Queue `message`; it comes back when the mailbox is closed.
    pub fn send(&self, message: T) -> Result<(), T> {
        self.put(message, false)
    }

    /// Queue `message` as the last one: the mailbox closes with it, so of two
    /// last messages only one gets in.
    pub fn send_last(&self, message: T) -> Result<(), T> {
        self.put(message, true)
    }

    fn put(&self, message: T, last: bool) -> Result<(), T> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(message);
        }
        state.queue.push_back(message);
        state.closed = last;
        self.ready.store(true, Ordering::Release);
        let sleeping = state.sleeping;
        drop(state);
        if sleeping {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Take no more messages; the receiver still gets those queued, then `None`.
    pub fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        self.ready.store(true, Ordering::Release);
        let sleeping = state.sleeping;
        drop(state);
        if sleeping {
            self.wake.notify_one();
        }
    }

    /// The receiver stops receiving: close, and drop the queued messages
    /// (outside the lock: dropping an unanswered request wakes its asker).
    pub fn hang_up(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        self.ready.store(true, Ordering::Release);
        let dropped = std::mem::take(&mut state.queue);
        drop(state);
        drop(dropped);
    }

    /// For the receiver: hang up when the returned guard drops, also when
    /// the receiving thread unwinds.
    pub fn hang_up_on_drop(&self) -> HangUp<'_, T> {
        HangUp(self)
    }

    /// The next message, waiting for one; `None` once closed and empty. Polls
    /// (yielding, not spinning: on a single core the sender must run) for
    /// the [`PollBudget`], then sleeps. One thread receives from a mailbox.
    pub fn recv(&self) -> Option<T> {
        let mut budget = PollBudget::start();
        while !self.ready.load(Ordering::Acquire) && budget.poll_again() {
            yield_now();
        }
        let mut state = lock(&self.state);
        loop {
            if let Some(message) = state.queue.pop_front() {
                self.ready
                    .store(!state.queue.is_empty() || state.closed, Ordering::Release);
                return Some(message);
            }
            if state.closed {
                return None;
            }
            // Looked at under the lock: a sender that comes now finds
            // `sleeping` set and wakes this thread, so no message is lost
            // between the look and the sleep.
            state.sleeping = true;
            state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            state.sleeping = false;
        }
    }
}

/// Hangs up its mailbox when dropped (also by unwinding): see
/// [`Mailbox::hang_up_on_drop`].
pub(crate) struct HangUp<'a, T>(&'a Mailbox<T>);

impl<T> Drop for HangUp<'_, T> {
    fn drop(&mut self) {
        self.0.hang_up();
    }
}

/// A one-shot answer: the [`Replier`] gives it, the [`Reply`] waits for it.
pub(crate) fn reply<T>() -> (Replier<T>, Reply<T>) {
    let mailbox = Arc::new(Mailbox::default());
    (Replier(mailbox.clone()), Reply(mailbox))
}

/// Gives one answer; dropped unanswered, it wakes the waiter with `None`.
pub(crate) struct Replier<T>(Arc<Mailbox<T>>);

impl<T> Replier<T> {
    pub fn send(self, answer: T) {
        // Only this replier sends, once: the mailbox is open.
        let _ = self.0.send_last(answer);
    }
}

impl<T> Drop for Replier<T> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Waits for the answer of a [`Replier`].
pub(crate) struct Reply<T>(Arc<Mailbox<T>>);

impl<T> Reply<T> {
    /// The answer; `None` when the replier went away without one.
    pub fn wait(self) -> Option<T> {
        self.0.recv()
    }
}

/// One host call of a plugin running on its own thread: the thread that
/// runs the host function (the JS thread) asks questions `Q`, answered `A` by
/// the plugin thread, until it settles the call with `S`.
pub(crate) struct Exchange<Q, A, S> {
    messages: Mailbox<Message<Q, A, S>>,
}

enum Message<Q, A, S> {
    Ask(Q, Replier<A>),
    Settle(S),
}

impl<Q, A, S> Default for Exchange<Q, A, S> {
    fn default() -> Self {
        Exchange {
            messages: Mailbox::default(),
        }
    }
}

impl<Q, A, S> Exchange<Q, A, S> {
    /// Ask and wait for the answer. `None` when the call is settled, the
    /// plugin thread no longer serves it, or it dropped the question.
    pub fn ask(&self, question: Q) -> Option<A> {
        let (replier, reply) = reply();
        self.messages.send(Message::Ask(question, replier)).ok()?;
        reply.wait()
    }

    /// Settle the call; false when it already was (or nobody serves it).
    pub fn settle(&self, settlement: S) -> bool {
        self.messages.send_last(Message::Settle(settlement)).is_ok()
    }

    /// The asking side goes away without settling: `serve` returns `None`.
    pub fn abandon(&self) {
        self.messages.close();
    }

    /// On the plugin thread: answer the questions until the call is settled
    /// (`None` when it was abandoned). From then on, also when `answer`
    /// panics, nothing is served: later questions get `None` at once, and
    /// the askers of queued ones wake with `None`.
    pub fn serve(&self, mut answer: impl FnMut(Q) -> A) -> Option<S> {
        let _stop = self.messages.hang_up_on_drop();
        loop {
            match self.messages.recv()? {
                Message::Ask(question, replier) => replier.send(answer(question)),
                Message::Settle(settlement) => return Some(settlement),
            }
        }
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom_tests;
