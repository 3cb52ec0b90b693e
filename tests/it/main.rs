//! End-to-end tests: real `tnet-host` processes driven by the real `tnet`.

mod daemons;
mod docker;
mod fleet;
mod foundation;
mod generate;
mod habits;
mod limits;
mod newcomer;
mod notify;
mod packaging;
mod security;
mod service_manager;
mod services;
mod shell;
