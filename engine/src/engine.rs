//! The run registry: start, cancel, inspect and follow runs. Cheap to clone; all clones share
//! the same runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::event::{ApprovalAnswer, CancelReason, EventKind, ResumedFrom, ReviewAnswer, RunId};
use crate::model_ref::ModelRef;
use crate::provider::Providers;
use crate::resume::{ResumeError, ResumeRun, plan};
use crate::run::steps::{Replay, RunContext, outline};
use crate::run::{DriveContext, ReviewError, RunState, Subscription, drive};
use crate::sink::RunSink;
use crate::snapshot::{RunSnapshot, RunSummary};
use crate::tool::Tools;
use crate::usage::PriceTable;
use crate::workflow::{Workflow, WorkflowError};

/// A step's text is cut off here unless configured otherwise (1 MB).
pub use crate::settings::DEFAULT_MAX_STEP_OUTPUT;

/// Finished runs kept in memory, newest first, for `get`, `wait` and `list`; older ones live on
/// only in the history. Keeps a long session's memory flat however many runs it made.
pub const RETAINED_FINISHED_RUNS: usize = 32;

/// How an engine runs models.
#[derive(Clone)]
pub struct EngineConfig {
    pub providers: Providers,
    /// The tools steps may enable (built-in ones, with their settings).
    pub tools: Tools,
    /// Used by steps that name no model.
    pub default_model: Option<ModelRef>,
    /// Receives every run and event (the history store).
    pub sink: Option<Arc<dyn RunSink>>,
    /// A step that writes more text than this (bytes) is stopped and fails with a clear message.
    pub max_step_output: usize,
    /// What tokens cost (the shipped prices unless Settings changed them).
    pub prices: PriceTable,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            providers: Providers::default(),
            tools: Tools::default(),
            default_model: None,
            sink: None,
            max_step_output: DEFAULT_MAX_STEP_OUTPUT,
            prices: PriceTable::default(),
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct StartRun {
    pub workflow: Workflow,
    pub input: String,
    /// Chosen by the caller to make starting idempotent (a retried or re-sent start returns the
    /// run it already started); a fresh one is made when `None`.
    pub run_id: Option<RunId>,
}

/// Why a run could not start. Nothing was started.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, specta::Type)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum StartError {
    #[error("the input is empty: type what the workflow should work on")]
    EmptyInput,
    #[error("{0}")]
    InvalidWorkflow(WorkflowError),
    #[error("Stepwise is shutting down and starts no new runs")]
    ShuttingDown,
    /// A caller-chosen id that an earlier run (in the history) already has.
    #[error("a run with this id already exists in the history; start with a new id")]
    RunExists,
    #[error("{0}")]
    Resume(ResumeError),
    /// `revive` of a run that does not wait only for reviews (or ended).
    #[error("this run is not waiting for a review, so there is nothing to pick up")]
    NotWaiting,
    /// A caller-chosen id could not be checked against the history (it cannot be read), so
    /// nothing was started: the run could have merged into an earlier one's record.
    #[error(
        "the history could not be read to check this run's id ({0}); nothing was started, try again"
    )]
    HistoryUnreadable(String),
}

/// What `Engine::admit` found for an id.
enum Admitted<'a> {
    /// No run has it: the runs' lock, held until the new run is in.
    New(MutexGuard<'a, Runs>),
    /// A run has it: a subscription to that run (its snapshot is large; boxed).
    Existing(Box<Subscription>),
}

/// What the steps of a run share, from the engine's configuration at its start.
fn run_context(config: EngineConfig, input: String, replay: Replay) -> RunContext {
    let default_model = config.default_model.unwrap_or_else(ModelRef::demo);
    RunContext::new(
        input,
        config.providers,
        config.tools,
        default_model,
        config.max_step_output,
    )
    .with_prices(config.prices)
    .with_replay(replay)
}

/// How a run that does not start from nothing begins.
#[derive(Default)]
struct Continuing {
    replay: Replay,
    resumed_from: Option<ResumedFrom>,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    /// Read at each start, so a reconfiguration applies to the next run (running ones keep theirs).
    config: Mutex<EngineConfig>,
    runs: Mutex<Runs>,
    /// Every run's driver task, so that shutdown can wait for all of them.
    drivers: TaskTracker,
}

#[derive(Default)]
struct Runs {
    by_id: HashMap<RunId, Arc<RunState>>,
    /// Start order, for `list`.
    order: Vec<RunId>,
    /// Runs that have ended, oldest first; at most [`RETAINED_FINISHED_RUNS`] stay.
    finished: std::collections::VecDeque<RunId>,
    shutting_down: bool,
}

impl Runs {
    /// A run has emitted its terminal event: keep it among the recent ones, drop the oldest.
    fn retire(&mut self, id: RunId) {
        self.finished.push_back(id);
        while self.finished.len() > RETAINED_FINISHED_RUNS {
            if let Some(old) = self.finished.pop_front() {
                self.by_id.remove(&old);
            }
        }
        // `order` may name runs that have left (`list` skips them); pruned now and then rather
        // than on every retirement, which would cost a pass over every run each time.
        if self.order.len() > 2 * self.by_id.len() + 64 {
            let by_id = &self.by_id;
            self.order.retain(|x| by_id.contains_key(x));
        }
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                runs: Mutex::new(Runs::default()),
                drivers: TaskTracker::new(),
            }),
        }
    }

    /// Nothing under this lock can leave the map half-updated, so a poisoned lock is still sound.
    fn runs(&self) -> MutexGuard<'_, Runs> {
        self.inner
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn config(&self) -> EngineConfig {
        self.inner
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// New providers, tools, default model, step limit and prices (settings changed) for the
    /// runs started from now on.
    pub fn reconfigure(
        &self,
        providers: Providers,
        tools: Tools,
        default_model: Option<ModelRef>,
        max_step_output: usize,
        prices: PriceTable,
    ) {
        let mut config = self
            .inner
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        config.providers = providers;
        // Running MCP servers carry over unless their entries changed; a changed one's server
        // is stopped once no run uses it (`Tools::reusing_servers_of`).
        config.tools = tools.reusing_servers_of(&config.tools);
        config.default_model = default_model;
        config.max_step_output = max_step_output;
        config.prices = prices;
    }

    /// The tools runs started now would get (their MCP servers included).
    pub fn tools(&self) -> Tools {
        self.config().tools
    }

    fn run(&self, id: RunId) -> Option<Arc<RunState>> {
        self.runs().by_id.get(&id).cloned()
    }

    /// Starts a run in the background and returns its id; `RunStarted` is already emitted when
    /// this returns. Starting again with the id of an existing run returns that run's id and
    /// starts nothing. Must be called within a Tokio runtime.
    pub fn start(&self, req: StartRun) -> Result<RunId, StartError> {
        self.start_inner(req, Continuing::default())
            .map(|(id, _)| id)
    }

    /// Like [`Engine::start`], and also subscribes to the run before its first event, so the
    /// subscription sees every event from `RunStarted` on (its snapshot is at seq 0). For an
    /// existing id it is a plain subscription to that run.
    pub fn start_subscribed(&self, req: StartRun) -> Result<(RunId, Subscription), StartError> {
        self.start_inner(req, Continuing::default())
    }

    /// Continues a run that ended: a new run, linked to it, that reuses the outputs of the
    /// steps before `from` (no model is asked for them) and runs from there on. Subscribed from
    /// its first event, like [`Engine::start_subscribed`].
    pub fn resume(&self, req: ResumeRun) -> Result<(RunId, Subscription), StartError> {
        let plan = plan(&req).map_err(StartError::Resume)?;
        let resumed_from = ResumedFrom {
            run_id: req.original.run_id,
            step: plan.from.clone(),
        };
        let reused: Vec<&str> = plan.reused.iter().map(String::as_str).collect();
        let replay = Replay::continued(req.original.clone(), &reused, &plan.from);
        self.start_inner(
            StartRun {
                workflow: plan.workflow,
                input: req.original.input,
                run_id: req.run_id,
            },
            Continuing {
                replay,
                resumed_from: Some(resumed_from),
            },
        )
    }

    /// Brings back a run that was waiting for reviews when its process ended (the history's
    /// `waiting` runs): it waits again, and goes on when answered. `snapshot` is the fold of its
    /// saved events; `workflow` the one it ran. Its events continue after `snapshot.last_seq`.
    pub fn revive(
        &self,
        snapshot: RunSnapshot,
        workflow: Workflow,
    ) -> Result<(RunId, Subscription), StartError> {
        if !snapshot.can_wait_across_restart() {
            return Err(StartError::NotWaiting);
        }
        self.take_over(snapshot, workflow)
    }

    /// Goes on with a run another process began, from `snapshot`: its finished steps give their
    /// saved outputs (nothing is asked of a model for them), a step that waited for its review
    /// waits again, and every other step runs. A step the snapshot shows running is run again
    /// from its start: give a checkpoint (`cluster::checkpoint`), where such steps are back to
    /// pending. Its events continue after `snapshot.last_seq`. What a cluster worker does with
    /// a run another worker had (§13); `revive` is the case of a run that only waited.
    pub fn take_over(
        &self,
        snapshot: RunSnapshot,
        workflow: Workflow,
    ) -> Result<(RunId, Subscription), StartError> {
        let config = self.config();
        let id = snapshot.run_id;
        let mut runs = match self.admit(id)? {
            Admitted::New(runs) => runs,
            Admitted::Existing(sub) => return Ok((id, *sub)),
        };
        if let Some(sink) = &config.sink {
            // A run another worker began is new to this history (asked outside the runs'
            // lock would be better, but the answer only picks how it is written).
            match sink.has_run(id) {
                Ok(false) => sink.run_taken_over(&workflow, &snapshot),
                _ => sink.run_revived(&snapshot),
            }
        }
        let replay = Replay::revived(&snapshot);
        let input = snapshot.input.clone();
        let run = Arc::new(RunState::revived(snapshot, config.sink.clone()));
        let subscription = run.subscribe();
        runs.by_id.insert(id, run.clone());
        runs.order.push(id);
        let cx = DriveContext {
            workflow,
            context: run_context(config, input, replay),
        };
        self.spawn_driver(id, run, cx);
        drop(runs);
        Ok((id, subscription))
    }

    /// Takes the runs' lock for a run with this id: refused while shutting down; a run that
    /// already has the id is followed instead (a re-sent start).
    fn admit(&self, id: RunId) -> Result<Admitted<'_>, StartError> {
        let runs = self.runs();
        if runs.shutting_down {
            return Err(StartError::ShuttingDown);
        }
        Ok(match runs.by_id.get(&id) {
            Some(existing) => Admitted::Existing(Box::new(existing.subscribe())),
            None => Admitted::New(runs),
        })
    }

    fn start_inner(
        &self,
        req: StartRun,
        continuing: Continuing,
    ) -> Result<(RunId, Subscription), StartError> {
        let input = req.input.trim().to_string();
        if input.is_empty() {
            return Err(StartError::EmptyInput);
        }
        req.workflow
            .validate()
            .map_err(StartError::InvalidWorkflow)?;

        let config = self.config();
        let id = req.run_id.unwrap_or_else(Uuid::new_v4);
        // A chosen id may belong to a run that has left memory but lives on in the history:
        // never merge a new run into its record. (Asked before taking the lock: it reads a file.)
        if req.run_id.is_some()
            && self.run(id).is_none()
            && let Some(sink) = &config.sink
            && sink
                .has_run(id)
                .map_err(|e| StartError::HistoryUnreadable(e.0))?
        {
            return Err(StartError::RunExists);
        }
        let mut runs = match self.admit(id)? {
            Admitted::New(runs) => runs,
            Admitted::Existing(sub) => return Ok((id, *sub)),
        };
        let default_model = config.default_model.clone().unwrap_or_else(ModelRef::demo);
        let sink = config.sink.clone();
        if let Some(sink) = &sink {
            sink.run_created(id, &req.workflow, &input, crate::run::now_ms());
        }
        let run = Arc::new(RunState::new(id, sink));
        let subscription = run.subscribe();
        run.emit(EventKind::RunStarted {
            workflow_name: req.workflow.name.clone(),
            input: input.clone(),
            steps: outline(&req.workflow, &default_model),
            resumed_from: continuing.resumed_from,
        });
        runs.by_id.insert(id, run.clone());
        runs.order.push(id);

        let cx = DriveContext {
            workflow: req.workflow,
            context: run_context(config, input, continuing.replay),
        };
        self.spawn_driver(id, run, cx);
        drop(runs);
        Ok((id, subscription))
    }

    /// Spawned under the runs' lock: a shutdown that takes the lock next finds the driver on
    /// the tracker and waits for it.
    fn spawn_driver(&self, id: RunId, run: Arc<RunState>, cx: DriveContext) {
        let engine = Arc::downgrade(&self.inner);
        self.inner.drivers.spawn(async move {
            drive(run, cx).await;
            if let Some(inner) = engine.upgrade() {
                Engine { inner }.runs().retire(id);
            }
        });
    }

    /// Answers the review of the step at `path` (approve, edit, send back).
    pub fn answer_review(
        &self,
        id: RunId,
        path: &str,
        answer: ReviewAnswer,
    ) -> Result<(), ReviewError> {
        self.run(id)
            .ok_or(ReviewError::NotWaiting)?
            .answer_review(path, answer)
    }

    /// Stops a run that only waits for reviews, with no terminal event: it stays `waiting`, and
    /// whoever has its snapshot can go on with it (`revive`, `take_over`). True iff this call
    /// parked it.
    pub fn park(&self, id: RunId) -> bool {
        self.run(id).is_some_and(|run| run.park())
    }

    /// Cancels a run. True iff this call moved a pending or running run to `cancelled`: false for
    /// an unknown id, a run that has already ended, or a second cancel. Once it returns true no
    /// more text is emitted and `RunCancelled` follows as the run's last event.
    pub fn cancel(&self, id: RunId, reason: CancelReason) -> bool {
        self.run(id).is_some_and(|run| run.cancel(reason))
    }

    /// Answers the tool call `call_id` of the step at `path` that waits for the person. Returns
    /// what "Allow always" allows for it — the tool as Settings list it (`fetch_page`,
    /// `SERVER.TOOL`) or, for an address `fetch_page` asked about, its host — when a call was
    /// waiting, `None` otherwise (an unknown run or call, or one already answered or stopped).
    pub fn answer_tool_call(
        &self,
        id: RunId,
        path: &str,
        call_id: &str,
        answer: ApprovalAnswer,
    ) -> Option<crate::tool::Grant> {
        self.run(id)?.answer(path, call_id, answer)
    }

    /// Whether this engine holds the run (live, or among the recent finished ones): a check
    /// that copies nothing, unlike `get`.
    pub fn holds(&self, id: RunId) -> bool {
        self.run(id).is_some()
    }

    /// The run's state now (status, every step's status and text so far, last seq).
    pub fn get(&self, id: RunId) -> Option<RunSnapshot> {
        self.run(id).map(|r| r.snapshot())
    }

    /// Every run this engine knows, oldest first.
    pub fn list(&self) -> Vec<RunSummary> {
        let runs: Vec<Arc<RunState>> = {
            let runs = self.runs();
            // `order` may still name a run that left memory, even twice if its id came back.
            let mut seen = std::collections::HashSet::new();
            runs.order
                .iter()
                .filter(|id| seen.insert(**id))
                .filter_map(|id| runs.by_id.get(id).cloned())
                .collect()
        };
        runs.iter().map(|r| r.summary()).collect()
    }

    /// Drops a finished run from memory (it was deleted from the history, or parked for another
    /// leg to take over). A live run stays.
    pub fn forget(&self, id: RunId) {
        let mut runs = self.runs();
        if runs.by_id.get(&id).is_some_and(|r| r.is_finished()) {
            runs.by_id.remove(&id);
            runs.finished.retain(|x| *x != id);
        }
    }

    /// The run's snapshot plus every later event, with no gap and no duplicate.
    pub fn subscribe(&self, id: RunId) -> Option<Subscription> {
        self.run(id).map(|r| r.subscribe())
    }

    /// Waits until the run has emitted its terminal event, then returns its final snapshot
    /// (`None` for a run this engine does not know, or no longer keeps in memory).
    pub async fn wait(&self, id: RunId) -> Option<RunSnapshot> {
        let run = self.run(id)?;
        run.wait_finished().await;
        Some(run.snapshot())
    }

    /// How many runs have not emitted their terminal event yet.
    pub fn live_count(&self) -> usize {
        self.runs()
            .by_id
            .values()
            .filter(|r| !r.is_finished())
            .count()
    }

    /// Stops accepting runs, cancels every live one with `reason` — except a run that only waits
    /// for reviews, which is parked: it stays `waiting` in the history for the next start — and
    /// waits until all of them have ended. Callers bound it with a timeout.
    pub async fn shutdown(&self, reason: CancelReason) {
        let live: Vec<Arc<RunState>> = {
            let mut runs = self.runs();
            runs.shutting_down = true;
            runs.by_id.values().cloned().collect()
        };
        for run in &live {
            if !run.park() {
                run.cancel(reason);
            }
        }
        self.inner.drivers.close();
        self.inner.drivers.wait().await;
        // No run is left to use them: end the MCP servers (and everything they started).
        self.config().tools.shutdown().await;
    }
}
