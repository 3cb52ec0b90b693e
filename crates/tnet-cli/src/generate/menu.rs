//! `tnet --menu`: the seed's interactive menu, drawn with `dialoguer`.
//!
//! First the type, picked with the arrow keys; then "Choose a detail to edit
//! (or 'q' to exit):" over every detail of the task, each marked
//! `(*unsaved)` while it differs from what was last written, and
//! "Write Changes", which checks the task and writes the file. `q` (or Esc)
//! leaves a menu: the main one prints "exiting..." and ends.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use dialoguer::theme::Theme;
use dialoguer::{Input, Select};
use tnet_proto::task::{parse::MAX_NAME_CHARS, Notifier, Schedule, TaskType, MAX_WORKERS};

use super::{file_base, refuse_overwrite, render, target_path, write_file, Draft, Missing};

/// The seed's rendering: `->` before the chosen line, the prompt as written.
struct SeedTheme;

impl Theme for SeedTheme {
    fn format_select_prompt(&self, f: &mut dyn fmt::Write, prompt: &str) -> fmt::Result {
        write!(f, "{prompt}")
    }

    fn format_select_prompt_item(
        &self,
        f: &mut dyn fmt::Write,
        text: &str,
        active: bool,
    ) -> fmt::Result {
        write!(f, "{}{text}", if active { "->  " } else { "    " })
    }
}

/// Each type with the seed's one-line explanation.
const TYPES: [(TaskType, &str, &str); 3] = [
    (
        TaskType::Daemon,
        "Daemon",
        "Task runs as a background process, like a web server",
    ),
    (
        TaskType::Habit,
        "Habit",
        "Task runs every X interval, like a system backup",
    ),
    (
        TaskType::Service,
        "Service",
        "Task runs when requested, like a printer request",
    ),
];

/// The main menu's lines, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    TaskType,
    TaskName,
    Commands,
    SetupCommands,
    Files,
    TypeSettings,
    Notifications,
    Docker,
    Write,
}

const DETAILS: [Detail; 9] = [
    Detail::TaskType,
    Detail::TaskName,
    Detail::Commands,
    Detail::SetupCommands,
    Detail::Files,
    Detail::TypeSettings,
    Detail::Notifications,
    Detail::Docker,
    Detail::Write,
];

/// The settings of each group, as their task-file keys.
const DAEMON_FIELDS: &[Field] = &[
    Field::RestartOnEnd,
    Field::RestartOnFail,
    Field::RestartOnSuccess,
    Field::WaitAfterSetup,
];
const HABIT_FIELDS: &[Field] = &[Field::Schedule, Field::IgnoreNonzeroExits];
const SERVICE_FIELDS: &[Field] = &[Field::ServiceFailIsCommandFail, Field::Warm, Field::Workers];
const NOTIFY_FIELDS: &[Field] = &[Field::OnEnd, Field::OnFail, Field::OnSuccess];
const DOCKER_FIELDS: &[Field] = &[
    Field::RunInDocker,
    Field::Image,
    Field::AptPackages,
    Field::PipPackages,
    Field::StartOnReboot,
];

/// One setting of a settings menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    RestartOnEnd,
    RestartOnFail,
    RestartOnSuccess,
    WaitAfterSetup,
    Schedule,
    IgnoreNonzeroExits,
    ServiceFailIsCommandFail,
    Warm,
    Workers,
    OnEnd,
    OnFail,
    OnSuccess,
    RunInDocker,
    Image,
    AptPackages,
    PipPackages,
    StartOnReboot,
}

/// Runs the menu on `draft`; returns the file last written, if any.
///
/// `output` is `-o FILE`; without it the file is `<type>task.toml` here.
pub fn run(draft: Draft, output: Option<PathBuf>, force: bool) -> anyhow::Result<Option<PathBuf>> {
    use std::io::IsTerminal;
    anyhow::ensure!(
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        "--menu needs a terminal; use the flags (see `tnet --help`) to generate a task file from a script"
    );
    let mut saved = draft.clone();
    // Nothing is saved yet, so the type the user picks shows as unsaved.
    saved.task_type = None;
    let mut menu = Menu {
        theme: SeedTheme,
        draft,
        saved,
        output,
        force,
        written: None,
    };
    menu.run().map_err(|err| {
        // Ctrl-C reaches a prompt as an interrupted read; the prompt has
        // hidden the cursor, so give it back before leaving.
        let _ = dialoguer::console::Term::stderr().show_cursor();
        match err.downcast_ref::<dialoguer::Error>() {
            Some(dialoguer::Error::IO(io)) if io.kind() == std::io::ErrorKind::Interrupted => {
                anyhow::anyhow!("interrupted; nothing more was written")
            }
            _ => err,
        }
    })
}

struct Menu {
    theme: SeedTheme,
    /// What the user has so far.
    draft: Draft,
    /// What was last written (or the starting point), for the unsaved markers.
    saved: Draft,
    output: Option<PathBuf>,
    force: bool,
    /// The file written by this menu; written again on the next "Write Changes".
    written: Option<PathBuf>,
}

impl Menu {
    fn run(&mut self) -> anyhow::Result<Option<PathBuf>> {
        let Some(task_type) = self.pick_type("Which type of task do you want?")? else {
            eprintln!("exiting...");
            return Ok(None);
        };
        self.draft.task_type = Some(task_type);
        eprintln!("{} selected.\n", type_title(task_type));
        let mut cursor = 0;
        loop {
            let task_type = self.draft.task_type.unwrap_or(TaskType::Daemon);
            let lines: Vec<String> = DETAILS
                .iter()
                .map(|detail| self.line(*detail, task_type))
                .collect();
            let chosen = Select::with_theme(&self.theme)
                .with_prompt("Choose a detail to edit (or 'q' to exit):")
                .items(&lines)
                .default(cursor)
                .report(false)
                .interact_opt()?;
            let Some(index) = chosen else {
                if self.draft != self.saved {
                    eprintln!("(unsaved changes were not written)");
                }
                eprintln!("exiting...");
                return Ok(self.written.clone());
            };
            cursor = index;
            match DETAILS[index] {
                Detail::TaskType => {
                    if let Some(chosen) = self.pick_type("Which type of task do you want?")? {
                        self.draft.task_type = Some(chosen);
                        eprintln!("{} selected.\n", type_title(chosen));
                    }
                }
                Detail::TaskName => self.edit_name()?,
                Detail::Commands => {
                    let mut list = std::mem::take(&mut self.draft.commands);
                    let result = self.edit_list("Commands", "command", &mut list, false);
                    self.draft.commands = list;
                    result?;
                }
                Detail::SetupCommands => {
                    let mut list = std::mem::take(&mut self.draft.setup_commands);
                    let result =
                        self.edit_list("Setup Commands", "setup command", &mut list, false);
                    self.draft.setup_commands = list;
                    result?;
                }
                Detail::Files => {
                    let mut list = std::mem::take(&mut self.draft.necessary_files);
                    let result = self.edit_list("Files", "file, folder or glob", &mut list, true);
                    self.draft.necessary_files = list;
                    result?;
                }
                Detail::TypeSettings => {
                    let fields = match task_type {
                        TaskType::Daemon => DAEMON_FIELDS,
                        TaskType::Habit => HABIT_FIELDS,
                        TaskType::Service => SERVICE_FIELDS,
                    };
                    let title = format!("{} Settings", type_title(task_type));
                    self.edit_settings(&title, fields)?;
                }
                Detail::Notifications => self.edit_settings("Notifications", NOTIFY_FIELDS)?,
                Detail::Docker => self.edit_settings("Docker Settings", DOCKER_FIELDS)?,
                Detail::Write => {
                    if let Err(err) = self.write() {
                        eprintln!("error: {err:#}");
                    }
                }
            }
        }
    }

    /// A main-menu line: the detail, its value, and whether it is unsaved.
    fn line(&self, detail: Detail, task_type: TaskType) -> String {
        let (title, summary) = match detail {
            Detail::TaskType => (
                "Task Type".to_owned(),
                self.draft
                    .task_type
                    .map_or("(none)".to_owned(), |t| t.to_string()),
            ),
            Detail::TaskName => ("Task Name".to_owned(), self.draft.name.clone()),
            Detail::Commands => ("Commands".to_owned(), count(&self.draft.commands)),
            Detail::SetupCommands => (
                "Setup Commands".to_owned(),
                count(&self.draft.setup_commands),
            ),
            Detail::Files => ("Files".to_owned(), count(&self.draft.necessary_files)),
            Detail::TypeSettings => {
                let title = format!("{} Settings", type_title(task_type));
                let summary = match task_type {
                    TaskType::Habit if self.draft.schedule.trim().is_empty() => {
                        "(interval not set)".to_owned()
                    }
                    TaskType::Habit => format!("every {}", self.draft.schedule.trim()),
                    _ => String::new(),
                };
                (title, summary)
            }
            Detail::Notifications => ("Notifications".to_owned(), String::new()),
            Detail::Docker => (
                "Docker Settings".to_owned(),
                if self.draft.run_in_docker {
                    self.draft.docker.docker_img_id.clone()
                } else {
                    "(not in Docker)".to_owned()
                },
            ),
            Detail::Write => return "Write Changes".to_owned(),
        };
        let mut line = title;
        if !summary.is_empty() {
            line.push_str(": ");
            line.push_str(&summary);
        }
        if !self.is_saved(detail) {
            line.push_str(" (*unsaved)");
        }
        line
    }

    /// Whether `detail` is as last written.
    fn is_saved(&self, detail: Detail) -> bool {
        let (now, then) = (&self.draft, &self.saved);
        match detail {
            Detail::TaskType => now.task_type == then.task_type,
            Detail::TaskName => now.name == then.name,
            Detail::Commands => now.commands == then.commands,
            Detail::SetupCommands => now.setup_commands == then.setup_commands,
            Detail::Files => now.necessary_files == then.necessary_files,
            Detail::TypeSettings => {
                now.daemon == then.daemon
                    && now.schedule == then.schedule
                    && now.ignore_nonzero_exits == then.ignore_nonzero_exits
                    && now.service == then.service
            }
            Detail::Notifications => now.notify == then.notify,
            Detail::Docker => now.run_in_docker == then.run_in_docker && now.docker == then.docker,
            Detail::Write => true,
        }
    }

    /// The type list with the seed's explanations; `None` on `q`.
    fn pick_type(&self, prompt: &str) -> anyhow::Result<Option<TaskType>> {
        let lines: Vec<String> = TYPES
            .iter()
            .map(|(_, title, what)| format!("{title:<8}({what})"))
            .collect();
        let current = TYPES
            .iter()
            .position(|(t, _, _)| Some(*t) == self.draft.task_type)
            .unwrap_or(0);
        let chosen = Select::with_theme(&self.theme)
            .with_prompt(prompt)
            .items(&lines)
            .default(current)
            .report(false)
            .interact_opt()?;
        Ok(chosen.map(|index| TYPES[index].0))
    }

    fn edit_name(&mut self) -> anyhow::Result<()> {
        let name: String = Input::with_theme(&self.theme)
            .with_prompt("Task name")
            .with_initial_text(self.draft.name.clone())
            .validate_with(|name: &String| check_name(name))
            .interact_text()?;
        self.draft.name = name.trim().to_owned();
        Ok(())
    }

    /// A list of strings: pick one to change it (empty removes it), or add one.
    fn edit_list(
        &self,
        title: &str,
        noun: &str,
        list: &mut Vec<String>,
        files: bool,
    ) -> anyhow::Result<()> {
        let mut cursor = 0;
        loop {
            let mut lines = list.clone();
            lines.push(format!("Add a {noun}"));
            lines.push("Done".to_owned());
            let prompt = format!(
                "{title}: choose one to change (empty removes it), or add one (or 'q' to go back):"
            );
            let chosen = Select::with_theme(&self.theme)
                .with_prompt(prompt)
                .items(&lines)
                .default(cursor.min(lines.len() - 1))
                .report(false)
                .interact_opt()?;
            let Some(index) = chosen else {
                return Ok(());
            };
            cursor = index;
            if index == list.len() + 1 {
                return Ok(());
            }
            let adding = index == list.len();
            let initial = list.get(index).cloned().unwrap_or_default();
            let entry: String = Input::with_theme(&self.theme)
                .with_prompt(if adding {
                    format!("New {noun}")
                } else {
                    noun.to_owned()
                })
                .with_initial_text(initial)
                .allow_empty(true)
                .validate_with(|entry: &String| -> Result<(), String> {
                    if files && !entry.trim().is_empty() {
                        self.expand(entry).map(|_| ())
                    } else {
                        Ok(())
                    }
                })
                .interact_text()?;
            let entries = if entry.trim().is_empty() {
                Vec::new()
            } else if files {
                self.expand(&entry).map_err(anyhow::Error::msg)?
            } else {
                vec![entry]
            };
            if !adding {
                list.remove(index);
            }
            let at = index.min(list.len());
            for (offset, entry) in entries.into_iter().enumerate() {
                if !list.contains(&entry) {
                    list.insert(at + offset, entry);
                }
            }
        }
    }

    /// A file entry as it goes into `necessary_files` (globs expanded).
    fn expand(&self, entry: &str) -> Result<Vec<String>, String> {
        let path = self.path();
        let base = file_base(&path).map_err(|e| format!("{e:#}"))?;
        base.expand(&[entry.trim().to_owned()])
            .map(|(files, _)| files)
            .map_err(|e| format!("{e:#}"))
    }

    /// A menu of settings: a flag toggles, anything else opens a prompt.
    fn edit_settings(&mut self, title: &str, fields: &[Field]) -> anyhow::Result<()> {
        let mut cursor = 0;
        loop {
            let mut lines: Vec<String> = fields
                .iter()
                .map(|field| format!("{}: {}", field.key(), field.show(&self.draft)))
                .collect();
            lines.push("Done".to_owned());
            let chosen = Select::with_theme(&self.theme)
                .with_prompt(format!("{title} (Enter changes one, 'q' to go back):"))
                .items(&lines)
                .default(cursor)
                .report(false)
                .interact_opt()?;
            let Some(index) = chosen else {
                return Ok(());
            };
            let Some(field) = fields.get(index) else {
                return Ok(());
            };
            cursor = index;
            self.edit_field(*field)?;
        }
    }

    fn edit_field(&mut self, field: Field) -> anyhow::Result<()> {
        if let Some(flag) = field.flag(&mut self.draft) {
            *flag = !*flag;
            if !self.draft.service.warm {
                // `workers` belongs to warm services only.
                self.draft.service.workers = 1;
            }
            return Ok(());
        }
        let draft = &mut self.draft;
        match field {
            Field::Schedule => {
                let text: String = Input::with_theme(&self.theme)
                    .with_prompt("time_between_runs (\"5m\", \"1h 30m\", or cron \"*/5 * * * *\")")
                    .with_initial_text(draft.schedule.clone())
                    .validate_with(|text: &String| Schedule::parse(text).map(|_| ()))
                    .interact_text()?;
                draft.schedule = text.trim().to_owned();
            }
            Field::OnEnd | Field::OnFail | Field::OnSuccess => {
                const CHOICES: [(Notifier, &str); 3] = [
                    (Notifier::None, "none"),
                    (Notifier::Email, "email (through the host's mail server)"),
                    (
                        Notifier::Qmail,
                        "qmail (kept in the host's inbox, `tnet inbox`)",
                    ),
                ];
                let slot = match field {
                    Field::OnEnd => &mut draft.notify.on_end,
                    Field::OnFail => &mut draft.notify.on_fail,
                    _ => &mut draft.notify.on_success,
                };
                let current = CHOICES.iter().position(|(n, _)| n == slot).unwrap_or(0);
                let chosen = Select::with_theme(&self.theme)
                    .with_prompt(format!("{}:", field.key()))
                    .items(CHOICES.map(|(_, text)| text))
                    .default(current)
                    .report(false)
                    .interact_opt()?;
                if let Some(index) = chosen {
                    *slot = CHOICES[index].0;
                }
            }
            Field::Workers => {
                let text: String = Input::with_theme(&self.theme)
                    .with_prompt(format!(
                        "workers (warm services: processes kept running, 1 to {MAX_WORKERS})"
                    ))
                    .with_initial_text(draft.service.workers.to_string())
                    .validate_with(|text: &String| check_workers(text).map(|_| ()))
                    .interact_text()?;
                if let Ok(n) = check_workers(&text) {
                    draft.service.workers = n;
                    // Workers are kept by warm services only.
                    draft.service.warm |= n > 1;
                }
            }
            Field::Image => {
                let image: String = Input::with_theme(&self.theme)
                    .with_prompt("docker_img_id (\"Ubuntu 22.04\", python:3.12-slim, ...)")
                    .with_initial_text(draft.docker.docker_img_id.clone())
                    .interact_text()?;
                draft.docker.docker_img_id = image.trim().to_owned();
            }
            Field::AptPackages | Field::PipPackages => {
                let list = if field == Field::AptPackages {
                    &mut draft.docker.apt_packages
                } else {
                    &mut draft.docker.pip_packages
                };
                let text: String = Input::with_theme(&self.theme)
                    .with_prompt(format!("{} (separated by spaces)", field.key()))
                    .with_initial_text(list.join(" "))
                    .allow_empty(true)
                    .interact_text()?;
                *list = text.split_whitespace().map(str::to_owned).collect();
            }
            _ => {}
        }
        Ok(())
    }

    /// Where "Write Changes" writes.
    fn path(&self) -> PathBuf {
        match &self.written {
            Some(path) => path.clone(),
            None => target_path(
                self.output.as_deref(),
                self.draft.task_type.unwrap_or(TaskType::Daemon),
            ),
        }
    }

    /// "Write Changes": check the task, write the file, clear the markers.
    fn write(&mut self) -> anyhow::Result<()> {
        let task_type = self.draft.task_type.unwrap_or(TaskType::Daemon);
        if task_type != TaskType::Daemon && self.draft.commands.is_empty() {
            anyhow::bail!("a {task_type} needs a command: choose Commands and add one");
        }
        if task_type == TaskType::Habit && self.draft.schedule.trim().is_empty() {
            anyhow::bail!(
                "a habit needs an interval: choose Habit Settings, then time_between_runs"
            );
        }
        let path = self.path();
        let shown = path.display().to_string();
        let (text, _) = render(&self.draft, Missing::Refuse, &shown)?;
        let overwrite = self.force || self.written.is_some();
        if !overwrite && Path::new(&path).exists() {
            anyhow::bail!(refuse_overwrite(&path));
        }
        write_file(&path, &text, overwrite).with_context(|| format!("cannot write {shown}"))?;
        eprintln!("wrote {shown}");
        self.saved = self.draft.clone();
        self.written = Some(path);
        Ok(())
    }
}

impl Field {
    /// The key in the task file.
    fn key(self) -> &'static str {
        match self {
            Field::RestartOnEnd => "restart_on_end",
            Field::RestartOnFail => "restart_on_fail",
            Field::RestartOnSuccess => "restart_on_success",
            Field::WaitAfterSetup => "wait_after_setup",
            Field::Schedule => "time_between_runs",
            Field::IgnoreNonzeroExits => "ignore_nonzero_exits",
            Field::ServiceFailIsCommandFail => "service_fail_is_command_fail",
            Field::Warm => "warm",
            Field::Workers => "workers",
            Field::OnEnd => "on_end",
            Field::OnFail => "on_fail",
            Field::OnSuccess => "on_success",
            Field::RunInDocker => "run_in_docker",
            Field::Image => "docker_img_id",
            Field::AptPackages => "apt_packages",
            Field::PipPackages => "pip_packages",
            Field::StartOnReboot => "start_container_on_reboot",
        }
    }

    /// The value as the menu shows it.
    fn show(self, draft: &Draft) -> String {
        let notify = &draft.notify;
        match self {
            Field::Schedule if draft.schedule.trim().is_empty() => "(not set)".to_owned(),
            Field::Schedule => draft.schedule.clone(),
            Field::OnEnd => notify.on_end.as_str().to_owned(),
            Field::OnFail => notify.on_fail.as_str().to_owned(),
            Field::OnSuccess => notify.on_success.as_str().to_owned(),
            Field::Image => draft.docker.docker_img_id.clone(),
            Field::Workers => draft.service.workers.to_string(),
            Field::AptPackages => format!("[{}]", draft.docker.apt_packages.join(", ")),
            Field::PipPackages => format!("[{}]", draft.docker.pip_packages.join(", ")),
            _ => {
                // `flag` is the one mapping of keys to flags, for toggling
                // and for showing; a draft is small enough to copy for it.
                let mut copy = draft.clone();
                self.flag(&mut copy).is_some_and(|f| *f).to_string()
            }
        }
    }

    /// The setting as a flag, when it is one.
    fn flag(self, draft: &mut Draft) -> Option<&mut bool> {
        Some(match self {
            Field::RestartOnEnd => &mut draft.daemon.restart_on_end,
            Field::RestartOnFail => &mut draft.daemon.restart_on_fail,
            Field::RestartOnSuccess => &mut draft.daemon.restart_on_success,
            Field::WaitAfterSetup => &mut draft.daemon.wait_after_setup,
            Field::IgnoreNonzeroExits => &mut draft.ignore_nonzero_exits,
            Field::ServiceFailIsCommandFail => &mut draft.service.service_fail_is_command_fail,
            Field::Warm => &mut draft.service.warm,
            Field::RunInDocker => &mut draft.run_in_docker,
            Field::StartOnReboot => &mut draft.docker.start_container_on_reboot,
            _ => return None,
        })
    }
}

/// "Daemon", "Habit", "Service".
fn type_title(task_type: TaskType) -> &'static str {
    TYPES
        .iter()
        .find(|(t, _, _)| *t == task_type)
        .map_or("Task", |(_, title, _)| title)
}

/// A list's summary: nothing, its one entry, or how many.
fn count(list: &[String]) -> String {
    match list {
        [] => "(none)".to_owned(),
        [one] if one.chars().count() <= 40 => one.clone(),
        many => format!("{} entries", many.len()),
    }
}

/// A number of workers the parser will take.
fn check_workers(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(format!("a whole number from 1 to {MAX_WORKERS}")),
    }
}

/// A task name the parser will take.
fn check_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        Err("the name may not be empty".to_owned())
    } else if name.chars().any(char::is_control) {
        Err("the name may not hold control characters".to_owned())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(format!(
            "the name may have at most {MAX_NAME_CHARS} characters"
        ))
    } else {
        Ok(())
    }
}
