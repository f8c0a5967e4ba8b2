//! Every interleaving of the JS thread and a plugin thread (and a third
//! thread where it matters) through the hand-off, under loom:
//! `cargo test --release -p extism-node --features loom --lib loom_`.

use super::{reply, Exchange, Mailbox};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// A question asked by the JS thread is answered once by the plugin thread,
/// and the answer reaches the asker, also when either of them goes from
/// polling to sleeping just as the other sends (a lost wake-up would leave
/// both threads blocked, which loom reports).
#[test]
fn loom_an_answer_is_received_once_and_never_lost() {
    model(|| {
        let exchange = Arc::new(Exchange::<u32, u32, &'static str>::default());
        let js = {
            let exchange = exchange.clone();
            thread::spawn(move || {
                assert_eq!(exchange.ask(1), Some(10));
                assert!(exchange.settle("done"));
                // Settled: nothing more is answered, or settled again.
                assert_eq!(exchange.ask(2), None);
                assert!(!exchange.settle("again"));
            })
        };
        let answered = AtomicUsize::new(0);
        let settled = exchange.serve(|q| {
            answered.fetch_add(1, SeqCst);
            q * 10
        });
        assert_eq!(settled, Some("done"));
        assert_eq!(answered.load(SeqCst), 1, "a question answered more than once");
        js.join().unwrap();
    });
}

/// A message sent to a mailbox is received exactly once, and the receiver
/// that waits for it (polling, then sleeping) always wakes.
#[test]
fn loom_a_message_is_received_once() {
    model(|| {
        let mailbox = Arc::new(Mailbox::default());
        let sender = {
            let mailbox = mailbox.clone();
            thread::spawn(move || {
                assert!(mailbox.send(7u32).is_ok());
                mailbox.close();
            })
        };
        assert_eq!(mailbox.recv(), Some(7));
        assert_eq!(mailbox.recv(), None, "a message received twice");
        sender.join().unwrap();
    });
}

/// The call settled (by another thread) while a question waits: the plugin
/// thread stops serving, and the asker wakes with its answer or with `None`,
/// never waits forever.
#[test]
fn loom_settling_wakes_a_waiting_question() {
    model(|| {
        let exchange = Arc::new(Exchange::<u32, u32, u32>::default());
        let asker = {
            let exchange = exchange.clone();
            thread::spawn(move || exchange.ask(1))
        };
        let settler = {
            let exchange = exchange.clone();
            thread::spawn(move || assert!(exchange.settle(5)))
        };
        assert_eq!(exchange.serve(|q| q * 10), Some(5));
        let answer = asker.join().unwrap();
        assert!(answer.is_none() || answer == Some(10), "wrong answer {answer:?}");
        settler.join().unwrap();
    });
}

/// The plugin thread fails (`answer` panics) while questions wait: each
/// asker wakes with `None` (the failing one's replier is dropped by the
/// unwinding, a queued one's question by the hang-up), never waits forever.
#[test]
fn loom_a_failing_plugin_thread_wakes_its_askers() {
    quiet_panics();
    model(|| {
        let exchange = Arc::new(Exchange::<u32, u32, ()>::default());
        let askers: Vec<_> = (1..=2)
            .map(|q| {
                let exchange = exchange.clone();
                thread::spawn(move || exchange.ask(q))
            })
            .collect();
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exchange.serve(|q| {
                if q == 1 {
                    std::panic::panic_any(ANSWER_FAILED)
                } else {
                    q * 10
                }
            })
        }));
        assert!(served.is_err(), "served without a settlement");
        let answers: Vec<_> = askers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(answers[0], None);
        assert!(
            answers[1].is_none() || answers[1] == Some(20),
            "wrong answer {:?}",
            answers[1]
        );
    });
}

/// The payload of the panic of `loom_a_failing_plugin_thread_wakes_its_askers`.
const ANSWER_FAILED: &str = "answer failed (on purpose)";

/// Keep that panic (in every interleaving) out of the test output.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&ANSWER_FAILED) {
                default(info);
            }
        }));
    });
}

/// Shutting down while someone waits wakes them: a job queue closed while
/// the plugin thread waits for a job, an exchange abandoned while the plugin
/// thread serves it, a replier dropped while its waiter waits.
#[test]
fn loom_closing_wakes_the_waiter() {
    model(|| {
        let jobs = Arc::new(Mailbox::<u32>::default());
        let exchange = Arc::new(Exchange::<u32, u32, u32>::default());
        let (replier, answer) = reply::<u32>();
        let closer = {
            let (jobs, exchange) = (jobs.clone(), exchange.clone());
            thread::spawn(move || {
                jobs.close();
                exchange.abandon();
                drop(replier);
            })
        };
        assert_eq!(jobs.recv(), None);
        assert_eq!(exchange.serve(|q| q), None);
        assert_eq!(answer.wait(), None);
        closer.join().unwrap();
    });
}

/// Two questions in a row each get their own answer, never the other's.
#[test]
fn loom_successive_questions_get_their_own_answers() {
    model(|| {
        let exchange = Arc::new(Exchange::<u32, u32, ()>::default());
        let js = {
            let exchange = exchange.clone();
            thread::spawn(move || {
                assert_eq!(exchange.ask(1), Some(10));
                assert_eq!(exchange.ask(2), Some(20));
                assert!(exchange.settle(()));
            })
        };
        assert_eq!(exchange.serve(|q| q * 10), Some(()));
        js.join().unwrap();
    });
}

/// Of two settlements racing, exactly one gets in.
#[test]
fn loom_a_call_is_settled_once() {
    model(|| {
        let exchange = Arc::new(Exchange::<u32, u32, u32>::default());
        let settlers: Vec<_> = (1..=2)
            .map(|n| {
                let exchange = exchange.clone();
                thread::spawn(move || exchange.settle(n))
            })
            .collect();
        let settled = exchange.serve(|q| q).expect("settled");
        let won: Vec<bool> = settlers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "settled twice: {won:?}");
        assert!(won[settled as usize - 1]);
    });
}
