//! End-to-end tests: real `tnet-host` processes driven by the real `tnet`.

mod daemons;
mod disk;
mod docker;
mod fleet;
mod foundation;
mod generate;
mod habits;
mod limits;
mod newcomer;
mod notify;
mod packaging;
mod reliability;
mod retention;
mod security;
mod service_manager;
mod services;
mod shell;
mod soak;
mod ui;
mod warm;
