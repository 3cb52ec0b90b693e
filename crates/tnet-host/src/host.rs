//! The host's shared state and its task table.
//!
//! [`Shared`] is what every actor and handler may use (the store, blobs, the
//! Zenoh session). [`Host`] adds the task table, the one owner of which tasks
//! exist: a std mutex guards the map, and nothing awaits while holding it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tnet_proto::msg::{TaskState, TaskSummary};
use tnet_proto::task::{parse_task, TaskType};

use crate::blobs::BlobStore;
use crate::docker::runner::ContainerRunner;
use crate::docker::{ContainerPlan, Engine};
use crate::logs::{TaskLog, DEFAULT_CAP};
use crate::paths::Paths;
use crate::runner::{Runner, Unavailable};
use crate::store::{Desired, Store, StoredTask};
use crate::supervisor::{self, Initial, SupervisorHandle, TaskInfo};

/// What actors and handlers share.
pub struct Shared {
    /// The host's safe name.
    pub name: String,
    /// Where things live.
    pub paths: Paths,
    /// Tasks and runs.
    pub store: Store,
    /// Uploaded files.
    pub blobs: BlobStore,
    /// The host's own Zenoh session: its declarations, tokens and
    /// publications, kept for the host's life.
    pub session: zenoh::Session,
    /// The session clients reach, where a service's queryable is declared so
    /// that a call crosses no second session: the gate's while it is open
    /// (the secure default; `None` while it opens again with a new roster,
    /// `gate.rs`), the host's own session with `--insecure`.
    pub front: crate::front::Front,
    /// How commands of plain (non-docker) tasks are started.
    pub runner: Arc<dyn Runner>,
    /// The Docker engine, or why there is none (docker tasks are refused).
    pub docker: Result<Arc<Engine>, String>,
    /// What `tnet ssh` is told.
    pub ssh: tnet_proto::msg::SshInfo,
    /// The endpoints the Zenoh session listens on, as configured
    /// (`tcp/0.0.0.0:7449`); `addresses` turns them into ones to dial.
    pub listen: Vec<String>,
    /// Callers of services, followed so their calls end when they go.
    pub callers: Arc<crate::callers::Callers>,
    /// Where task actors hand their events for notifications.
    pub notify: crate::notify::NotifyHandle,
    /// The identity and roster of the secure default; `None` with `--insecure`.
    pub trust: Option<Arc<crate::security::Trust>>,
    /// What a client may send (`[limits]`), and the uploads and shells in progress.
    pub guards: crate::limits::Guards,
    /// What the host keeps and for how long (`[retention]`), and its disk use.
    pub upkeep: crate::retention::Upkeep,
}

impl Shared {
    /// The session clients reach now ([`Shared::front`]), or the host's own
    /// when there is none for a moment.
    ///
    /// A shell's keys are declared here, on the session whose queryable
    /// answered the request that opened it: Zenoh keeps one link's messages
    /// in order, so the client hears of the shell's input subscriber before
    /// the answer and no first keystroke is published to nobody, and the
    /// shell's first output finds the client's subscriber, declared before
    /// the request on the same link. (A gate opened again closes the links
    /// of the shells it carried, as it did before.)
    ///
    /// Publications are put here too: on the host's own session each crossed
    /// the Unix link to the gate whether or not anyone subscribed. One put
    /// in the moment a gate opens again goes to the host's own session, to
    /// links that are closing anyway.
    pub fn front_session(&self) -> zenoh::Session {
        self.front
            .borrow()
            .clone()
            .unwrap_or_else(|| self.session.clone())
    }
}

/// The host: shared state plus the task table.
pub struct Host {
    /// Shared state.
    pub shared: Arc<Shared>,
    tasks: Mutex<TaskTable>,
    /// Serialises the "name is free" checks of submissions with removals and
    /// edits, so two clients racing for one name cannot both pass it.
    pub change_lock: tokio::sync::Mutex<()>,
    /// The names (as written and safe) of tasks being submitted now: taken
    /// under `change_lock`, given back when the task is in the table or its
    /// submission failed. Submissions then install their files and record
    /// their tasks side by side, each record sharing the store's next commit.
    reserved: Mutex<BTreeSet<String>>,
    /// Serialises the preparation of docker tasks' images (a pull or a
    /// derived build of one image at a time).
    pub image_lock: tokio::sync::Mutex<()>,
}

/// A name held for a submission until it is dropped.
pub struct Reservation<'h> {
    host: &'h Host,
    names: [String; 2],
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut reserved = self.host.lock_reserved();
        for name in &self.names {
            reserved.remove(name);
        }
    }
}

/// The tasks, and whether the host is stopping (then no task is added).
#[derive(Default)]
struct TaskTable {
    tasks: BTreeMap<String, SupervisorHandle>,
    closing: bool,
}

/// A task was to start while the host is stopping (it is in the store, so
/// the host's next start runs it).
#[derive(Debug, thiserror::Error)]
#[error("the host is stopping: `{0}` is recorded, and starts when the host starts again")]
pub struct Closing(pub String);

impl Host {
    /// A host with no tasks loaded yet.
    pub fn new(shared: Arc<Shared>) -> Host {
        Host {
            shared,
            tasks: Mutex::new(TaskTable::default()),
            change_lock: tokio::sync::Mutex::new(()),
            reserved: Mutex::new(BTreeSet::new()),
            image_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn lock_reserved(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // Plain inserts and removes: nothing is left half-changed by a panic.
        self.reserved.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `name` and `safe_name` for a submission; `None` when another
    /// submission holds either now. Call it under `change_lock`, after
    /// [`Host::find`] said neither is taken.
    pub fn reserve(&self, name: &str, safe_name: &str) -> Option<Reservation<'_>> {
        let mut reserved = self.lock_reserved();
        if reserved.contains(name) || reserved.contains(safe_name) {
            return None;
        }
        reserved.insert(name.to_owned());
        reserved.insert(safe_name.to_owned());
        Some(Reservation {
            host: self,
            names: [name.to_owned(), safe_name.to_owned()],
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, TaskTable> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The task called `name` (as written, or its safe name).
    pub fn find(&self, name: &str) -> Option<SupervisorHandle> {
        let table = self.table();
        table
            .tasks
            .get(name)
            .cloned()
            .or_else(|| table.tasks.values().find(|h| h.info.name == name).cloned())
    }

    /// Every task's handle.
    pub fn all(&self) -> Vec<SupervisorHandle> {
        self.table().tasks.values().cloned().collect()
    }

    /// Marks the host as stopping and returns every task's handle, to shut
    /// them down. From here [`Host::launch`] starts nothing, so a submission
    /// racing with the shutdown cannot leave a task running behind it.
    pub fn close(&self) -> Vec<SupervisorHandle> {
        let mut table = self.table();
        table.closing = true;
        table.tasks.values().cloned().collect()
    }

    /// Starts the actor of a stored task and adds it to the table.
    pub fn launch(
        &self,
        stored: &StoredTask,
        initial: Initial,
    ) -> anyhow::Result<SupervisorHandle> {
        let spec = parse_task(&stored.file_name, &stored.task_toml)?;
        let log = Arc::new(TaskLog::open(
            &self.shared.paths.logs(),
            &stored.safe_name,
            DEFAULT_CAP,
        )?);
        let runner = self.runner_for(&spec, &stored.safe_name);
        self.shared
            .store
            .keep_runs()
            .set_task(&stored.safe_name, spec.keep_runs.map(u64::from));
        let info = Arc::new(TaskInfo {
            runner,
            name: stored.name.clone(),
            safe_name: stored.safe_name.clone(),
            spec,
            task_toml: stored.task_toml.clone(),
            log,
        });
        // Checked and inserted under one lock with `close`: a task is either
        // in the table `close` returns, or never started.
        let mut table = self.table();
        if table.closing {
            return Err(Closing(stored.name.clone()).into());
        }
        let handle = supervisor::spawn(
            self.shared.clone(),
            info,
            stored.restarts,
            stored.setup_done,
            initial,
        );
        table.tasks.insert(stored.safe_name.clone(), handle.clone());
        Ok(handle)
    }

    /// The runner of a task: the process runner, or its container's.
    fn runner_for(&self, spec: &tnet_proto::task::TaskSpec, safe_name: &str) -> Arc<dyn Runner> {
        if !spec.run_in_docker {
            return self.shared.runner.clone();
        }
        match &self.shared.docker {
            Ok(engine) => {
                let workspace = self.shared.paths.workspace(safe_name);
                let plan = ContainerPlan {
                    safe_name: safe_name.to_owned(),
                    env: vec![
                        ("TNET_HOST".into(), self.shared.name.clone()),
                        ("TNET_TASK".into(), spec.name.clone()),
                        (
                            "TNET_WORKSPACE".into(),
                            workspace.to_string_lossy().into_owned(),
                        ),
                    ],
                    workspace,
                    settings: spec.docker.clone(),
                };
                Arc::new(ContainerRunner::new(engine.clone(), plan))
            }
            Err(why) => Arc::new(Unavailable(format!(
                "`{}` runs in Docker, but this host has no Docker engine: {why}",
                spec.name
            ))),
        }
    }

    /// Takes a task out of the table.
    pub fn forget(&self, safe_name: &str) -> Option<SupervisorHandle> {
        self.table().tasks.remove(safe_name)
    }

    /// Loads every stored task and brings each back to where it was: tasks a
    /// user stopped stay stopped, tasks whose commands had finished stay
    /// finished, the rest start again.
    pub fn restore(&self) -> anyhow::Result<()> {
        for stored in self.shared.store.tasks()? {
            let initial = match stored.desired {
                Desired::Stopped => Initial::Idle(TaskState::Stopped),
                Desired::Running => self.resume_state(&stored)?,
            };
            if let Err(err) = self.launch(&stored, initial) {
                // A task this build cannot read any more is kept in the store, not dropped.
                tracing::error!(task = %stored.name, "cannot load task: {err:#}");
            }
        }
        Ok(())
    }

    /// Where a task that should run picks up, from its last recorded run.
    fn resume_state(&self, stored: &StoredTask) -> anyhow::Result<Initial> {
        let Ok(spec) = parse_task(&stored.file_name, &stored.task_toml) else {
            return Ok(Initial::Start);
        };
        if spec.task_type != TaskType::Daemon {
            return Ok(Initial::Start);
        }
        let last = self.shared.store.recent_runs(&stored.safe_name, 1)?.pop();
        let Some(run) = last else {
            return Ok(Initial::Start);
        };
        let ended = |outcome: &str| run.outcome == outcome;
        Ok(match run.phase.as_str() {
            "setup" if ended("failed") => Initial::Idle(TaskState::Failed),
            // Set up and waiting for the user's edit (wait_after_setup).
            "setup" if ended("succeeded") && spec.daemon.wait_after_setup => {
                Initial::Idle(TaskState::Waiting)
            }
            "run" if ended("succeeded") && !spec.daemon.restarts_after(true) => {
                Initial::Idle(TaskState::Finished)
            }
            "run" if ended("failed") && !spec.daemon.restarts_after(false) => {
                Initial::Idle(TaskState::Failed)
            }
            _ => Initial::Start,
        })
    }

    /// `tnet ls` for this host.
    pub fn summary(&self, handle: &SupervisorHandle) -> TaskSummary {
        let snap = handle.snapshot();
        TaskSummary {
            host: self.shared.name.clone(),
            name: handle.info.name.clone(),
            task_type: handle.info.spec.task_type.as_str().to_owned(),
            state: snap.state,
            pid: snap.pid,
            restarts: snap.restarts,
            last_run: snap.last_run,
            next_run: snap.next_run,
            exit_code: snap.exit_code,
        }
    }
}
