//! Progress of a request that prepares a docker task's image, published on
//! [`crate::keys::progress`] while the request runs, so the submitting
//! `tnet run` shows an image pull as `docker pull` does.

use serde::{Deserialize, Serialize};

/// One report: a layer's status (`Downloading`, `Pull complete`...), with
/// its byte counts when the engine gives them, or a line about the whole
/// image (no `layer`). The host also sends one every few seconds while it
/// works, so a client can tell a long pull from a host that went away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The layer (a short digest), when the report is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// What is happening, in the engine's words.
    pub status: String,
    /// Bytes done so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// Bytes in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

impl Progress {
    /// A line about the whole image.
    pub fn note(status: impl Into<String>) -> Progress {
        Progress {
            layer: None,
            status: status.into(),
            current: None,
            total: None,
        }
    }

    /// A sign of life with nothing to show (an empty status): the host is
    /// still preparing the image.
    pub fn alive() -> Progress {
        Progress::note("")
    }

    /// Whether this is only a sign of life.
    pub fn is_alive_only(&self) -> bool {
        self.layer.is_none() && self.status.is_empty()
    }

    /// The report as one line: `LAYER: STATUS CURRENT/TOTAL bytes`.
    pub fn line(&self) -> String {
        let mut line = match &self.layer {
            Some(layer) => format!("{layer}: {}", self.status),
            None => self.status.clone(),
        };
        if let (Some(current), Some(total)) = (self.current, self.total) {
            line.push_str(&format!(" {current}/{total} bytes"));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_as_a_line_and_round_trips() {
        let p = Progress {
            layer: Some("efe7decb7382".into()),
            status: "Downloading".into(),
            current: Some(512),
            total: Some(2048),
        };
        assert_eq!(p.line(), "efe7decb7382: Downloading 512/2048 bytes");
        let back: Progress = serde_json::from_slice(&crate::msg::encode(&p)).expect("decode");
        assert_eq!(back, p);
        assert_eq!(Progress::note("pulling x:1").line(), "pulling x:1");
    }
}
