//! The plugin thread: each plugin's own native thread, given to it on its
//! first asynchronous job, which runs its [`Job`]s in order and reports each
//! as an `Event::Done` to the JS thread. When the plugin closes, its thread
//! waits a while to serve the next plugin instead of ending.
//!
//! Plugin code never runs on the libuv pool: a plugin waiting on a JS host
//! function would hold a pool thread, and enough of them would starve the
//! pool and deadlock the process. The queue is a [`Mailbox`], so the thread
//! polls for a while for its next job before it sleeps (`crate::sync`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::handoff::Mailbox;
use crate::load::LoadSettings;
use crate::lock;
use crate::outcome::{panic_text, Outcome};
use crate::plugin_state::PluginState;

/// An asynchronous job; `call_id` names it in its `Event::Done`.
pub(crate) enum Job {
    Load {
        call_id: u32,
        manifest: String,
        settings: LoadSettings,
    },
    Call {
        call_id: u32,
        name: String,
        input: Vec<u8>,
        host_context: Option<u32>,
    },
    FunctionExists {
        call_id: u32,
        name: String,
    },
    /// Close the plugin; the thread then ends.
    Close {
        call_id: u32,
    },
}

impl Job {
    fn call_id(&self) -> u32 {
        match self {
            Job::Load { call_id, .. }
            | Job::Call { call_id, .. }
            | Job::FunctionExists { call_id, .. }
            | Job::Close { call_id } => *call_id,
        }
    }

    fn run(self, state: &PluginState) -> Outcome {
        match self {
            Job::Load { manifest, settings, .. } => Outcome::from(state.load(&manifest, &settings)),
            Job::Call {
                name,
                input,
                host_context,
                ..
            } => match state.call(&name, &input, host_context, <[u8]>::to_vec) {
                Ok(output) => Outcome::Output(output),
                Err(e) => Outcome::Failed(e),
            },
            Job::FunctionExists { name, .. } => state.function_exists(&name),
            Job::Close { .. } => {
                state.close();
                Outcome::Unit
            }
        }
    }
}

/// Room for deep wasm and host-call stacks (the default is 2 MiB).
const PLUGIN_THREAD_STACK: usize = 8 * 1024 * 1024;

/// A plugin's job queue, and its thread once started.
#[derive(Default)]
pub(crate) struct PluginThread {
    jobs: Mutex<Option<Arc<Mailbox<Job>>>>,
}

/// A plugin for a plugin thread to serve: its state and its job queue.
type Assignment = (Arc<PluginState>, Arc<Mailbox<Job>>);

/// Threads whose plugin closed, each waiting a while for another plugin.
/// Starting a thread (and its first wasm on a fresh stack) costs far more
/// than a plugin's creation, so a plugin made after another one closed
/// takes over that one's thread.
static IDLE: Mutex<Vec<mpsc::Sender<Assignment>>> = Mutex::new(Vec::new());
/// How many threads wait, and for how long, before they end.
const MAX_IDLE: usize = 4;
const IDLE_FOR: Duration = Duration::from_secs(2);

/// Serve `first`, then each plugin handed over while idle.
fn serve(first: Assignment) {
    let mut next = Some(first);
    while let Some((state, queue)) = next.take() {
        let (hand_over, assignments) = mpsc::channel();
        // Offered before the close is reported, so that a plugin created
        // right after it finds this thread.
        let offer = || {
            let mut idle = lock(&IDLE);
            if idle.len() >= MAX_IDLE {
                return false;
            }
            idle.push(hand_over);
            true
        };
        let offered = run_jobs(&state, &queue, offer);
        drop((state, queue));
        if !offered {
            return;
        }
        // On timeout the sender left in IDLE fails to hand over, and the
        // submitter tries the next one or starts a thread.
        next = assignments.recv_timeout(IDLE_FOR).ok();
    }
}

/// Hand `assignment` to an idle thread, or start one for it.
fn start(assignment: Assignment) -> napi::Result<()> {
    let mut assignment = assignment;
    while let Some(idle) = lock(&IDLE).pop() {
        match idle.send(assignment) {
            Ok(()) => return Ok(()),
            Err(mpsc::SendError(back)) => assignment = back,
        }
    }
    std::thread::Builder::new()
        .name("extism-plugin".into())
        .stack_size(PLUGIN_THREAD_STACK)
        .spawn(move || serve(assignment))
        .map(drop)
        .map_err(|e| napi::Error::from_reason(format!("cannot start the plugin thread: {e}")))
}

impl PluginThread {
    /// Queue `job`, giving the plugin a thread on the first one.
    pub(crate) fn submit(&self, state: &Arc<PluginState>, job: Job) -> napi::Result<()> {
        let mut jobs = lock(&self.jobs);
        if jobs.is_none() {
            let mailbox = Arc::new(Mailbox::default());
            start((state.clone(), mailbox.clone()))?;
            *jobs = Some(mailbox);
        }
        jobs.as_ref()
            .and_then(|queue| queue.send(job).ok())
            .ok_or_else(|| napi::Error::from_reason("plugin is closed"))
    }

    /// Take no more jobs: a thread that was started ends after those queued.
    pub(crate) fn stop(&self) {
        if let Some(queue) = lock(&self.jobs).take() {
            queue.close();
        }
    }
}

impl Drop for PluginThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The plugin thread: run jobs in order until the queue or the plugin
/// closes; then `offer` the thread to the next plugin (before a close is
/// reported), and say whether it was taken.
fn run_jobs(state: &PluginState, jobs: &Mailbox<Job>, offer: impl FnOnce() -> bool) -> bool {
    // Once this plugin's jobs end, later ones fail with "plugin is closed".
    let _stop = jobs.hang_up_on_drop();
    while let Some(job) = jobs.recv() {
        let closing = matches!(job, Job::Close { .. });
        let call_id = job.call_id();
        let start = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(state)))
            .unwrap_or_else(|payload| Outcome::Failed(panic_text(payload)));
        let run_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if closing {
            // No job of this plugin runs after its close.
            jobs.hang_up();
            let offered = offer();
            state.js.send_done(call_id, outcome, run_ns);
            return offered;
        }
        state.js.send_done(call_id, outcome, run_ns);
    }
    offer()
}
