//! The plugin thread: each plugin's own native thread, started on its first
//! asynchronous job, which runs its [`Job`]s in order and reports each as an
//! `Event::Done` to the JS thread.
//!
//! Plugin code never runs on the libuv pool: a plugin waiting on a JS host
//! function would hold a pool thread, and enough of them would starve the
//! pool and deadlock the process. The queue is a [`Mailbox`], so the thread
//! polls for a while for its next job before it sleeps (`crate::sync`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

impl PluginThread {
    /// Queue `job`, starting the thread on the first one.
    pub(crate) fn submit(&self, state: &Arc<PluginState>, job: Job) -> napi::Result<()> {
        let mut jobs = lock(&self.jobs);
        if jobs.is_none() {
            let mailbox = Arc::new(Mailbox::default());
            let (state, queue) = (state.clone(), mailbox.clone());
            std::thread::Builder::new()
                .name(format!("extism-plugin-{}", state.js.plugin_id()))
                .stack_size(PLUGIN_THREAD_STACK)
                .spawn(move || run_jobs(&state, &queue))
                .map_err(|e| napi::Error::from_reason(format!("cannot start the plugin thread: {e}")))?;
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

/// The plugin thread: run jobs in order until the queue or the plugin closes.
fn run_jobs(state: &PluginState, jobs: &Mailbox<Job>) {
    // Once this thread ends, later jobs fail with "plugin is closed".
    let _stop = jobs.hang_up_on_drop();
    while let Some(job) = jobs.recv() {
        let closing = matches!(job, Job::Close { .. });
        let call_id = job.call_id();
        let start = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(state)))
            .unwrap_or_else(|payload| Outcome::Failed(panic_text(payload)));
        let run_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        state.js.send_done(call_id, outcome, run_ns);
        if closing {
            break;
        }
    }
}
