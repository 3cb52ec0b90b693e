//! Docker tasks (SPEC 8): the engine connection, each task's container, and
//! the images they run ([`images`]); [`runner`] runs commands in them.
//!
//! Every docker task, whatever its type, lives in **one long-lived container**
//! named `tnet-<host>-<home>-<task>` (`<home>`: 8 hex digits of the host's
//! home, so two hosts of one name on a machine never share a container) and
//! labelled `tnet.host` / `tnet.home` / `tnet.task`. Its main
//! process only waits; each command (a daemon's, a habit run's, a service
//! call's) is an exec in it, so a call or a run pays an exec (~tens of ms),
//! not a container start (see `docs/docker.md` for the measured costs). The
//! task's workspace is bind-mounted at the same absolute path as on the host,
//! and commands run there as the host's own uid:gid, so everything a
//! container writes in the workspace belongs to the host's user.
//!
//! A host that restarts finds its containers by label and **adopts** them:
//! the same container is used again (no duplicate), after the commands the
//! dead host left running in it are ended, as the process runner ends stale
//! process groups.

pub mod config;
pub mod images;
pub mod runner;
pub mod signal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ExecConfig, HostConfig, Mount, MountType, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;

/// Label naming the host that owns a container.
pub const LABEL_HOST: &str = "tnet.host";
/// Label holding the home of the host that owns a container: two hosts of
/// one name on a machine (a second checkout's tests, a user's second home)
/// each see only their own.
pub const LABEL_HOME: &str = "tnet.home";
/// Label naming the task (its safe name) a container belongs to.
pub const LABEL_TASK: &str = "tnet.task";
/// Label holding the image reference a container was created from.
pub const LABEL_IMAGE: &str = "tnet.image";
/// Label holding the workspace a container mounts (a container of another
/// home with the same host and task names is not this task's).
pub const LABEL_WORKSPACE: &str = "tnet.workspace";

/// The container's main process: it only waits, and ends on TERM at once
/// (a shell as PID 1 would otherwise ignore TERM and make every stop take
/// Docker's whole grace period).
const KEEPER: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// Errors of the Docker side of a task.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine refused or failed a request.
    #[error("Docker engine: {what}: {source}")]
    Engine {
        /// What was being done.
        what: String,
        /// The engine's answer.
        source: BollardError,
    },
    /// An image could not be found locally nor pulled.
    #[error("image `{reference}` is not on this host and cannot be pulled: {reason}")]
    Pull {
        /// The resolved reference.
        reference: String,
        /// Why the pull failed.
        reason: String,
    },
    /// A pull stopped moving (its registry went away or hangs).
    #[error("the pull of `{reference}` stopped: nothing arrived for {:?} (the engine's last word: `{last}`), so its registry stopped answering. Check that the registry is up and reachable from this host, then submit again; nothing was kept", .stall)]
    PullStalled {
        /// The resolved reference.
        reference: String,
        /// How long nothing moved.
        stall: Duration,
        /// The last progress line the engine sent.
        last: String,
    },
    /// Installing packages into a derived image failed.
    #[error("installing packages into `{base}` failed (exit code {code}): {output}")]
    Build {
        /// The base image.
        base: String,
        /// The install script's exit code.
        code: i64,
        /// The tail of its output.
        output: String,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn engine(what: impl Into<String>) -> impl FnOnce(BollardError) -> DockerError {
    let what = what.into();
    move |source| DockerError::Engine { what, source }
}

/// Whether an engine error is a 404 (no such image or container).
pub fn not_found(err: &BollardError) -> bool {
    matches!(
        err,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The host's connection to its Docker engine.
pub struct Engine {
    /// The bollard client (cheap to clone).
    pub docker: Docker,
    /// The host's name, for labels and container names.
    host: String,
    /// The host's home, labelled on its containers.
    home: PathBuf,
    /// 8 hex digits of the home, in container names.
    home_tag: String,
    /// `uid:gid` of the host's user: commands run as it.
    user: String,
    /// The folder of service calls in progress, mounted so `TNET_INPUT` works.
    calls: PathBuf,
    /// One derived-image build at a time, so two tasks with the same packages
    /// submitted together build it once.
    pub(crate) build_lock: tokio::sync::Mutex<()>,
    /// A pull that moves nothing for this long is given up (`[docker]`).
    pub(crate) pull_stall: Duration,
}

/// What a task's container is made from.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    /// The task's safe name.
    pub safe_name: String,
    /// Its workspace on the host (mounted at the same path).
    pub workspace: PathBuf,
    /// The task's `[docker_settings]`.
    pub settings: tnet_proto::task::DockerSettings,
    /// Environment every exec gets (`TNET_HOST`...).
    pub env: Vec<(String, String)>,
}

impl Engine {
    /// The host pid of an exec's process, when the engine reports one
    /// (it does not for a remote or rootless engine).
    ///
    /// Right after `start_exec` the engine often still reports pid 0 for a
    /// running exec (seen on every exec in an adopted container, issue 16),
    /// and a command whose pid is unknown cannot be stopped: so this asks
    /// again until the engine knows it, the exec ended, or a few seconds passed.
    pub async fn exec_pid(&self, exec_id: &str) -> Option<u32> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let info = self.docker.inspect_exec(exec_id).await.ok()?;
            let pid = info
                .pid
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0);
            if pid.is_some() || info.exit_code.is_some() || std::time::Instant::now() >= deadline {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and
    /// agrees on an API version; `Err` when there is no engine to talk to.
    pub async fn connect(
        host: &str,
        home: &Path,
        calls: &Path,
        config: &config::DockerConfig,
    ) -> Result<Engine, DockerError> {
        let docker = Docker::connect_with_local_defaults().map_err(engine("connect"))?;
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| DockerError::Engine {
                what: "negotiate the API version".into(),
                source: BollardError::RequestTimeoutError,
            })?
            .map_err(engine("negotiate the API version"))?;
        let user = format!("{}:{}", nix::unistd::getuid(), nix::unistd::getgid());
        Ok(Engine {
            docker,
            host: host.to_owned(),
            home: home.to_path_buf(),
            home_tag: home_tag(home),
            user,
            calls: calls.to_path_buf(),
            build_lock: tokio::sync::Mutex::new(()),
            pull_stall: config.pull_stall,
        })
    }

    /// The container name of a task: `tnet-<host>-<home>-<task>`.
    pub fn container_name(&self, safe_name: &str) -> String {
        // Safe names only hold [A-Za-z0-9._-], which Docker names accept.
        format!("tnet-{}-{}-{safe_name}", self.host, self.home_tag)
    }

    /// A task's container under the name hosts gave it before names held
    /// the home (`tnet-<host>-<task>`), if there is one and it mounts this
    /// task's workspace, renamed to today's name so it is adopted, not
    /// left running beside a new one.
    async fn rename_legacy(&self, plan: &ContainerPlan) -> Result<(), DockerError> {
        let legacy = format!("tnet-{}-{}", self.host, plan.safe_name);
        let Ok(found) = self.docker.inspect_container(&legacy, None).await else {
            return Ok(());
        };
        let ours = found
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(LABEL_WORKSPACE))
            .map(String::as_str)
            == plan.workspace.to_str();
        if !ours {
            return Ok(());
        }
        let name = self.container_name(&plan.safe_name);
        let options = bollard::query_parameters::RenameContainerOptionsBuilder::default()
            .name(&name)
            .build();
        self.docker
            .rename_container(&legacy, options)
            .await
            .map_err(engine(format!("rename container {legacy} to {name}")))?;
        tracing::info!(container = %name, "container of an earlier tnet-host renamed");
        Ok(())
    }

    /// The user commands run as.
    pub fn user(&self) -> &str {
        &self.user
    }

    fn labels(&self, plan: &ContainerPlan, image: &str) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_HOST.to_owned(), self.host.clone()),
            (
                LABEL_HOME.to_owned(),
                self.home.to_string_lossy().into_owned(),
            ),
            (LABEL_TASK.to_owned(), plan.safe_name.clone()),
            (LABEL_IMAGE.to_owned(), image.to_owned()),
            (
                LABEL_WORKSPACE.to_owned(),
                plan.workspace.to_string_lossy().into_owned(),
            ),
        ])
    }

    /// Ids of this host's containers (running or not), of one task or all.
    pub async fn containers(&self, safe_name: Option<&str>) -> Result<Vec<String>, DockerError> {
        let mut labels = vec![
            format!("{LABEL_HOST}={}", self.host),
            format!("{LABEL_HOME}={}", self.home.display()),
        ];
        if let Some(task) = safe_name {
            labels.push(format!("{LABEL_TASK}={task}"));
        }
        let filters = HashMap::from([("label", labels)]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(engine("list containers"))?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }

    /// Makes sure the task's container exists, runs the right image and is
    /// running. Returns its name and whether an existing running container
    /// was found (adopted) rather than created or started.
    pub async fn ensure_container(
        &self,
        plan: &ContainerPlan,
    ) -> Result<(String, bool), DockerError> {
        let image = images::prepare(self, &plan.settings, &plan.workspace, None).await?;
        self.rename_legacy(plan).await?;
        let name = self.container_name(&plan.safe_name);
        match self.docker.inspect_container(&name, None).await {
            Ok(found) => {
                let labels = found.config.as_ref().and_then(|c| c.labels.as_ref());
                let same_image = labels.and_then(|l| l.get(LABEL_IMAGE)) == Some(&image)
                    && labels
                        .and_then(|l| l.get(LABEL_WORKSPACE))
                        .map(String::as_str)
                        == plan.workspace.to_str();
                let wants_policy = plan.settings.start_container_on_reboot;
                let has_policy = found
                    .host_config
                    .as_ref()
                    .and_then(|h| h.restart_policy.as_ref())
                    .and_then(|p| p.name)
                    == Some(RestartPolicyNameEnum::UNLESS_STOPPED);
                if same_image && wants_policy == has_policy {
                    let running = found.state.and_then(|s| s.running).unwrap_or(false);
                    if !running {
                        self.docker
                            .start_container(&name, None)
                            .await
                            .map_err(engine(format!("start container {name}")))?;
                    }
                    return Ok((name, running));
                }
                // An edit changed the image or the reboot policy (or the container is
                // another home's): a new container.
                tracing::info!(container = %name, "task's image or restart policy changed; recreating its container");
                self.remove_container(&name).await?;
            }
            Err(err) if not_found(&err) => {}
            Err(err) => return Err(engine(format!("inspect container {name}"))(err)),
        }
        self.create_container(plan, &name, &image).await?;
        self.docker
            .start_container(&name, None)
            .await
            .map_err(engine(format!("start container {name}")))?;
        tracing::info!(container = %name, image = %image, "container started");
        Ok((name, false))
    }

    async fn create_container(
        &self,
        plan: &ContainerPlan,
        name: &str,
        image: &str,
    ) -> Result<(), DockerError> {
        let bind = |path: &Path| Mount {
            target: Some(path.to_string_lossy().into_owned()),
            source: Some(path.to_string_lossy().into_owned()),
            typ: Some(MountType::BIND),
            ..Default::default()
        };
        let policy = if plan.settings.start_container_on_reboot {
            RestartPolicyNameEnum::UNLESS_STOPPED
        } else {
            RestartPolicyNameEnum::NO
        };
        let mut env: Vec<String> = plan.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend(images::missing_path(self, image).await);
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: Some(vec!["sh".into(), "-c".into(), KEEPER.into()]),
            user: Some(self.user.clone()),
            working_dir: Some(plan.workspace.to_string_lossy().into_owned()),
            env: Some(env),
            labels: Some(self.labels(plan, image)),
            host_config: Some(HostConfig {
                mounts: Some(vec![bind(&plan.workspace), bind(&self.calls)]),
                restart_policy: Some(RestartPolicy {
                    name: Some(policy),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(engine(format!("create container {name} from {image}")))?;
        Ok(())
    }

    /// Ends every process in an adopted container but its main one: what a
    /// host that died left running there (the task starts them again).
    pub async fn end_stale_commands(&self, name: &str) -> Result<(), DockerError> {
        // kill(-1) reaches every process the caller may signal except itself
        // and the namespace's init (the keeper).
        let code = self
            .exec_quiet(name, &["sh", "-c", "kill -KILL -1 2>/dev/null; exit 0"])
            .await?;
        tracing::info!(container = %name, code, "adopted a running container; ended the commands it was running");
        Ok(())
    }

    /// Runs a command in a container, discarding its output; returns its exit code.
    pub async fn exec_quiet(&self, name: &str, argv: &[&str]) -> Result<i64, DockerError> {
        self.exec_as(name, &self.user, argv).await
    }

    /// Runs a command in a container as `user`, discarding its output;
    /// returns its exit code.
    pub async fn exec_as(&self, name: &str, user: &str, argv: &[&str]) -> Result<i64, DockerError> {
        let config = ExecConfig {
            cmd: Some(argv.iter().map(|s| (*s).to_owned()).collect()),
            user: Some(user.to_owned()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self
            .docker
            .create_exec(name, config)
            .await
            .map_err(engine(format!("exec in {name}")))?;
        if let bollard::exec::StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(engine(format!("exec in {name}")))?
        {
            while output.next().await.is_some() {}
        }
        let info = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(engine(format!("inspect an exec in {name}")))?;
        Ok(info.exit_code.unwrap_or(-1))
    }

    /// Stops a task's container (a user stopped the task).
    pub async fn stop_task(&self, safe_name: &str) -> Result<(), DockerError> {
        let name = self.container_name(safe_name);
        let options = StopContainerOptionsBuilder::new().t(5).build();
        match self.docker.stop_container(&name, Some(options)).await {
            Err(err) if not_found(&err) => Ok(()),
            other => other.map_err(engine(format!("stop container {name}"))),
        }
    }

    /// Removes a task's container (the task was removed), and its derived
    /// image if no other container uses it.
    pub async fn remove_task(&self, safe_name: &str) -> Result<(), DockerError> {
        let name = self.container_name(safe_name);
        let image = match self.docker.inspect_container(&name, None).await {
            Ok(found) => found
                .config
                .and_then(|c| c.labels)
                .and_then(|l| l.get(LABEL_IMAGE).cloned()),
            Err(_) => None,
        };
        self.remove_container(&name).await?;
        if let Some(image) = image.filter(|i| i.starts_with(images::DERIVED_REPO)) {
            images::remove_if_unused(self, &image).await;
        }
        Ok(())
    }

    async fn remove_container(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Err(err) if not_found(&err) => Ok(()),
            other => other.map_err(engine(format!("remove container {name}"))),
        }
    }
}

/// 8 hex digits of a host's home, telling apart hosts of one name on a machine.
fn home_tag(home: &Path) -> String {
    let hash = blake3::hash(home.as_os_str().as_encoded_bytes());
    hash.to_hex()[..8].to_owned()
}
