//! `tnet services`: every service of this host, with how to call it (SPEC 6.3).

use tnet_proto::msg::{ErrorReply, Response, ServiceInfo, WorkerState, WorkerStatus};
use tnet_proto::task::TaskType;

use crate::host::Host;

/// Lists the host's services.
pub fn handle(host: &Host) -> Result<Response, ErrorReply> {
    let services = host
        .all()
        .iter()
        .filter(|t| t.info.spec.task_type == TaskType::Service)
        .map(|t| {
            let mut info = ServiceInfo::new(
                &host.shared.name,
                &t.info.name,
                &t.info.safe_name,
                t.snapshot().state,
                &t.info.spec.service,
            );
            info.calls_running = t.load.running();
            info.calls_waiting = t.load.waiting();
            if let Some(warm) = &mut info.warm {
                *warm = t.load.warm();
                // A service that never started shows its workers stopped.
                let wanted = t.info.spec.service.workers as usize;
                while warm.workers.len() < wanted {
                    warm.workers.push(WorkerStatus {
                        state: WorkerState::Stopped,
                        pid: None,
                        restarts: 0,
                        calls: 0,
                    });
                }
            }
            info
        })
        .collect();
    Ok(Response::Services { services })
}
