//! What both binaries' `--help` and man pages show of environment variables.
//!
//! clap prints `[env: TNET_CONNECT=]` for a variable that is not set, which
//! reads as "set to nothing"; these show a variable's value only when it is
//! set, and man pages never carry the values of the machine that made them.

use std::ffi::OsStr;

use clap::Command;

/// `command` with each environment variable's value hidden from `--help`
/// unless `is_set` says it is set (the name is always shown), in every
/// subcommand too. The caller passes `|name| std::env::var_os(name).is_some()`:
/// this crate reads no environment itself.
pub fn env_values_only_when_set(command: Command, is_set: &dyn Fn(&OsStr) -> bool) -> Command {
    let command = command.mut_args(|arg| match arg.get_env() {
        Some(name) if !is_set(name) => arg.hide_env_values(true),
        _ => arg,
    });
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    subcommands.into_iter().fold(command, |command, name| {
        command.mut_subcommand(name, |sub| env_values_only_when_set(sub, is_set))
    })
}

/// `command` as man pages show it: every environment variable by name, no value.
pub fn for_man_pages(command: Command) -> Command {
    env_values_only_when_set(command, &|_| false)
}

#[cfg(test)]
mod tests {
    use clap::{Arg, Command};

    use super::*;

    fn help(command: Command) -> String {
        let mut command = command;
        command.render_long_help().to_string()
    }

    fn cli() -> Command {
        Command::new("t")
            .arg(Arg::new("connect").long("connect").env("T_SET"))
            .arg(Arg::new("home").long("home").env("T_UNSET"))
            .subcommand(Command::new("sub").arg(Arg::new("fleet").long("fleet").env("T_SUB")))
    }

    #[test]
    fn a_value_shows_only_when_its_variable_is_set() {
        // clap alone shows `=` and nothing for an unset variable.
        let set = |name: &OsStr| name == "T_SET";
        let mut command = env_values_only_when_set(cli(), &set);
        command.build();
        let top = help(command.clone());
        assert!(top.contains("[env: T_UNSET]"), "{top}");
        assert!(!top.contains("T_UNSET="), "{top}");
        assert!(top.contains("[env: T_SET="), "{top}");
        let sub = command.find_subcommand("sub").expect("sub").clone();
        let sub = help(sub);
        assert!(sub.contains("[env: T_SUB]"), "{sub}");
    }
}
