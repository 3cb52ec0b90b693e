//! Where the host keeps things.
//!
//! Workspaces are `<home>/<Safe_Name>/` (SPEC 3.3). The host's own records live
//! in `<home>/.tnet/`: safe names never start with a dot, so no task can own
//! that folder and no user file collides with a record.

use std::path::{Path, PathBuf};

/// The layout of a host's home folder.
#[derive(Debug, Clone)]
pub struct Paths {
    home: PathBuf,
}

impl Paths {
    /// The layout under `home`.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Paths { home: home.into() }
    }

    /// The tasks folder itself.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A task's workspace.
    pub fn workspace(&self, safe_name: &str) -> PathBuf {
        self.home.join(safe_name)
    }

    /// The host's records folder.
    pub fn records(&self) -> PathBuf {
        self.home.join(".tnet")
    }

    /// The host config file read when `--host-config` is not given.
    pub fn host_config(&self) -> PathBuf {
        self.records().join("host.toml")
    }

    /// The SQLite store.
    pub fn database(&self) -> PathBuf {
        self.records().join("host.sqlite3")
    }

    /// Complete uploaded files, named by hash.
    pub fn blobs(&self) -> PathBuf {
        self.records().join("blobs")
    }

    /// Complete uploaded files whose file a workspace shares (`BlobStore::install`).
    pub fn lent_blobs(&self) -> PathBuf {
        self.blobs().join("lent")
    }

    /// Uploads in progress.
    pub fn partial_blobs(&self) -> PathBuf {
        self.records().join("partial")
    }

    /// Workspaces being assembled; emptied at start.
    pub fn staging(&self) -> PathBuf {
        self.records().join("staging")
    }

    /// Per-task output logs.
    pub fn logs(&self) -> PathBuf {
        self.records().join("logs")
    }

    /// One folder per service call in progress (its input, its process
    /// group); whatever is left at start belongs to calls a dead host left behind.
    pub fn calls(&self) -> PathBuf {
        self.records().join("calls")
    }

    /// Creates every folder the host writes to.
    pub fn create_all(&self) -> std::io::Result<()> {
        for dir in [
            self.home.clone(),
            self.records(),
            self.blobs(),
            self.lent_blobs(),
            self.partial_blobs(),
            self.staging(),
            self.logs(),
            self.calls(),
        ] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }
}
