//! What a daemon does after setup: run its commands as a background process.

use tnet_proto::msg::TaskState;

use super::{Actor, Interrupt, SeqEnd};

impl Actor {
    /// Runs the daemon's commands until they end. `Some` when interrupted.
    pub(crate) async fn drive_daemon(&mut self) -> Option<Interrupt> {
        let info = self.info.clone();
        if info.spec.commands.is_empty() {
            // A task that only holds a workspace (the seed's note): ready for a shell and an edit.
            self.set_state(TaskState::Waiting);
            return None;
        }
        self.set_state(TaskState::Running);
        match self.run_sequence(&info.spec.commands, "run").await {
            SeqEnd::Interrupted(i) => Some(i),
            SeqEnd::Done(exit) => {
                self.set_state(if exit.success() {
                    TaskState::Finished
                } else {
                    TaskState::Failed
                });
                None
            }
        }
    }
}
