//! Task files from the command line (SPEC 10, "Generation"): flags or the
//! interactive menu fill a [`Draft`], which becomes a `TaskSpec`, which
//! `tnet_proto::task::generate` writes as a commented file.
//!
//! - [`args`]: the flags.
//! - [`files`]: `--files` expanded into `necessary_files`.
//! - [`menu`]: the seed's interactive menu.
//!
//! Every file is checked with the real parser before it is written, and an
//! existing file is never overwritten without `--force`.

pub mod args;
pub mod files;
pub mod menu;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tnet_proto::task::generate::{placeholder_command, Placeholder, PLACEHOLDER_SCHEDULE};
use tnet_proto::task::{
    generate, parse_task, DaemonDetails, DockerSettings, HabitDetails, Notifications, Schedule,
    ServiceDetails, TaskSpec, TaskType,
};

use self::args::GenerateArgs;
use self::files::FileBase;

/// A task being put together: like a `TaskSpec`, but any field may still be
/// missing or wrong, and settings of every type are kept while the type changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// `None` until chosen.
    pub task_type: Option<TaskType>,
    /// `task_name`.
    pub name: String,
    /// `commands`.
    pub commands: Vec<String>,
    /// `setup_commands`.
    pub setup_commands: Vec<String>,
    /// `necessary_files`, globs already expanded.
    pub necessary_files: Vec<String>,
    /// `run_in_docker`.
    pub run_in_docker: bool,
    /// `[task_details]`.
    pub notify: Notifications,
    /// `[daemon_details]`.
    pub daemon: DaemonDetails,
    /// `time_between_runs` as typed; empty when not given.
    pub schedule: String,
    /// `ignore_nonzero_exits`.
    pub ignore_nonzero_exits: bool,
    /// `[service_details]`.
    pub service: ServiceDetails,
    /// `[docker_settings]`.
    pub docker: DockerSettings,
}

/// What a draft lacks when it becomes a task: filled with placeholders, or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Fill it with a marked placeholder (a file for a person to finish).
    Fill,
    /// Refuse, naming the flag (a task about to be submitted).
    Refuse,
}

impl Draft {
    /// The draft the flags describe; `files` expands `--files`.
    pub fn from_args(args: &GenerateArgs, files: &FileBase) -> anyhow::Result<Draft> {
        let (necessary_files, missing) = files.expand(&args.files)?;
        for path in missing {
            eprintln!("note: `{path}` does not exist yet; it must when the task is submitted");
        }
        let defaults = DockerSettings::default();
        let docker = DockerSettings {
            docker_img_id: args.image.clone().unwrap_or(defaults.docker_img_id),
            apt_packages: args.apt.clone(),
            pip_packages: args.pip.clone(),
            start_container_on_reboot: args.start_container_on_reboot,
        };
        let run_in_docker = args.docker || docker != DockerSettings::default();
        Ok(Draft {
            task_type: args.task_type,
            name: match &args.name {
                Some(name) => name.clone(),
                None => default_name(&files.task_dir),
            },
            commands: args.run.clone(),
            setup_commands: args.setup.clone(),
            necessary_files,
            run_in_docker,
            notify: Notifications {
                on_end: args.on_end.unwrap_or_default(),
                on_fail: args.on_fail.unwrap_or_default(),
                on_success: args.on_success.unwrap_or_default(),
                ..Notifications::default()
            },
            daemon: DaemonDetails {
                restart_on_end: args.restart_on_end,
                restart_on_fail: args.restart_on_fail,
                restart_on_success: args.restart_on_success,
                wait_after_setup: args.wait_after_setup,
                ..DaemonDetails::default()
            },
            schedule: args.every.clone().unwrap_or_default(),
            ignore_nonzero_exits: args.ignore_nonzero_exits,
            service: ServiceDetails {
                service_fail_is_command_fail: args.service_fail_is_command_fail,
                warm: args.warm || args.workers.is_some(),
                workers: args.workers.unwrap_or(1),
                ..ServiceDetails::default()
            },
            docker,
        })
    }

    /// The task, and which of its values are placeholders.
    ///
    /// A habit or a service needs a command and a habit a schedule; with
    /// [`Missing::Fill`] each missing one becomes a marked placeholder
    /// (a harmless `echo`, [`PLACEHOLDER_SCHEDULE`]).
    pub fn to_spec(&self, missing: Missing) -> anyhow::Result<(TaskSpec, Vec<Placeholder>)> {
        let Some(task_type) = self.task_type else {
            bail!("choose a task type: --type daemon, habit or service");
        };
        let mut placeholders = Vec::new();
        let mut commands = self.commands.clone();
        if commands.is_empty() && task_type != TaskType::Daemon {
            match missing {
                Missing::Fill => {
                    commands.push(placeholder_command(&self.name));
                    placeholders.push(Placeholder::Commands);
                }
                Missing::Refuse => bail!("a {task_type} needs a command: give --run COMMAND"),
            }
        }
        let habit = if task_type == TaskType::Habit {
            let text = if self.schedule.trim().is_empty() {
                match missing {
                    Missing::Fill => {
                        placeholders.push(Placeholder::Schedule);
                        PLACEHOLDER_SCHEDULE
                    }
                    Missing::Refuse => {
                        bail!("a habit needs an interval: give --every 5m (or a cron expression)")
                    }
                }
            } else {
                self.schedule.as_str()
            };
            Some(HabitDetails {
                time_between_runs: Schedule::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?,
                ignore_nonzero_exits: self.ignore_nonzero_exits,
                time_zone: None,
                catch_up: tnet_proto::task::CatchUp::default(),
                value_pattern: None,
            })
        } else {
            None
        };
        // Settings of the other types are not written, so they are not kept.
        let spec = TaskSpec {
            name: self.name.trim().to_owned(),
            task_type,
            commands,
            setup_commands: self.setup_commands.clone(),
            necessary_files: self.necessary_files.clone(),
            run_in_docker: self.run_in_docker,
            stop_grace: tnet_proto::task::DEFAULT_STOP_GRACE,
            keep_runs: None,
            notify: self.notify.clone(),
            daemon: if task_type == TaskType::Daemon {
                self.daemon.clone()
            } else {
                DaemonDetails::default()
            },
            habit,
            service: if task_type == TaskType::Service {
                self.service.clone()
            } else {
                ServiceDetails::default()
            },
            docker: self.docker.clone(),
        };
        Ok((spec, placeholders))
    }
}

/// The task file's text for `draft`, checked with the real parser, and
/// which of its values are placeholders.
pub fn render(
    draft: &Draft,
    missing: Missing,
    shown_as: &str,
) -> anyhow::Result<(String, Vec<Placeholder>)> {
    let (spec, placeholders) = draft.to_spec(missing)?;
    let text = generate(&spec, &placeholders);
    match parse_task(shown_as, &text) {
        Ok(parsed) if parsed == spec => Ok((text, placeholders)),
        Ok(_) => bail!("the generated task file does not read back as the task (a bug in tnet)"),
        Err(problems) => bail!("{problems}"),
    }
}

/// Where the file goes: `-o FILE`, or `<type>task.toml` in the current folder.
pub fn target_path(output: Option<&Path>, task_type: TaskType) -> PathBuf {
    output.map_or_else(
        || PathBuf::from(format!("{}task.toml", task_type.as_str())),
        Path::to_path_buf,
    )
}

/// The default `task_name`: the name of the folder the task file is in.
pub fn default_name(task_dir: &Path) -> String {
    task_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "task".to_owned())
}

/// Writes `text` to `path`; an existing file only with `force`.
pub fn write_file(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    if force {
        return std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()));
    }
    // `create_new` refuses atomically, so no file appearing meanwhile is lost.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(refuse_overwrite(path))
        }
        Err(err) => return Err(err).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The message for a task file that is already there.
pub fn refuse_overwrite(path: &Path) -> String {
    format!(
        "{} already exists; add --force to overwrite it, or -o FILE to write elsewhere",
        path.display()
    )
}

/// Where files are named from, for a task file at `path`.
pub fn file_base(path: &Path) -> anyhow::Result<FileBase> {
    let cwd = std::env::current_dir()
        .context("cannot read the current folder")?
        .canonicalize()
        .context("cannot resolve the current folder")?;
    let absolute = cwd.join(path);
    let parent = absolute.parent().unwrap_or(&cwd);
    let task_dir = parent.canonicalize().with_context(|| {
        format!(
            "cannot write {}: its folder {} does not exist",
            path.display(),
            parent.display()
        )
    })?;
    let task_file = task_dir.join(absolute.file_name().unwrap_or_default());
    Ok(FileBase {
        cwd,
        task_dir,
        task_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FileBase {
        let dir = std::env::temp_dir();
        FileBase {
            cwd: dir.clone(),
            task_dir: dir.clone(),
            task_file: dir.join("t.toml"),
        }
    }

    fn draft(task_type: TaskType) -> Draft {
        let base = base();
        let args = GenerateArgs {
            task_type: Some(task_type),
            name: Some("temperature_monitor".to_owned()),
            ..GenerateArgs::default()
        };
        Draft::from_args(&args, &base).expect("a draft")
    }

    #[test]
    fn a_habit_without_command_or_interval_gets_marked_placeholders() {
        let (text, placeholders) =
            render(&draft(TaskType::Habit), Missing::Fill, "habittask.toml").expect("text");
        assert_eq!(placeholders, [Placeholder::Commands, Placeholder::Schedule]);
        let spec = parse_task("habittask.toml", &text).expect("valid");
        assert_eq!(spec.habit.expect("habit").time_between_runs.as_str(), "5m");
        assert_eq!(text.matches("PLACEHOLDER").count(), 2, "{text}");
    }

    #[test]
    fn submitting_needs_what_placeholders_would_fill() {
        let err = render(&draft(TaskType::Habit), Missing::Refuse, "t").expect_err("refused");
        assert!(err.to_string().contains("--run"), "{err}");
        let mut habit = draft(TaskType::Habit);
        habit.commands.push("date".to_owned());
        let err = render(&habit, Missing::Refuse, "t").expect_err("refused");
        assert!(err.to_string().contains("--every"), "{err}");
        assert!(render(&draft(TaskType::Daemon), Missing::Refuse, "t").is_ok());
    }

    #[test]
    fn warm_flags_write_a_warm_service_the_parser_takes() {
        let base = base();
        let args = GenerateArgs {
            task_type: Some(TaskType::Service),
            name: Some("model".to_owned()),
            run: vec!["python3 worker.py".to_owned()],
            workers: Some(3),
            ..GenerateArgs::default()
        };
        let warm = Draft::from_args(&args, &base).expect("a draft");
        let (text, _) = render(&warm, Missing::Refuse, "servicetask.toml").expect("text");
        let spec = parse_task("servicetask.toml", &text).expect("valid");
        assert!(spec.service.warm, "--workers implies --warm:\n{text}");
        assert_eq!(spec.service.workers, 3);
        assert!(text.contains("warm = true"), "{text}");

        // A worker is one command: two are the parser's clear error.
        let mut two = warm.clone();
        two.commands.push("echo more".to_owned());
        let err = render(&two, Missing::Refuse, "servicetask.toml").expect_err("two commands");
        assert!(
            err.to_string().contains("a warm service has one command"),
            "{err}"
        );
        assert_eq!(
            GenerateArgs {
                warm: true,
                ..GenerateArgs::default()
            }
            .foreign_flags(TaskType::Habit),
            ["--warm"]
        );
    }

    #[test]
    fn a_bad_name_is_reported_by_the_parser() {
        let mut bad = draft(TaskType::Daemon);
        bad.name = "  ".to_owned();
        let err = render(&bad, Missing::Fill, "daemontask.toml").expect_err("empty name");
        assert!(err.to_string().contains("daemontask.toml:"), "{err}");
    }
}
