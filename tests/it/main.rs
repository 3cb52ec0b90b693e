//! End-to-end tests: real `tnet-host` processes driven by the real `tnet`.

mod foundation;
mod services;
