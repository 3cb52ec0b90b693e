//! What a habit does after setup. For now: run its commands once.

use tnet_proto::msg::TaskState;

use super::{Actor, Interrupt, SeqEnd};

impl Actor {
    /// Runs the habit. `Some` when interrupted.
    pub(crate) async fn drive_habit(&mut self) -> Option<Interrupt> {
        let info = self.info.clone();
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
