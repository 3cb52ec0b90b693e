//! Shows what a host reports while it prepares a docker task's image (an
//! image pull, a package build) during `tnet run` or `tnet edit`: one bar per
//! layer on a terminal, as `docker pull` draws them, or one line per report
//! otherwise (for logs and scripts).

use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tnet_proto::keys;
use tnet_proto::msg::{self, Progress};
use tokio::sync::watch;

use crate::client::Client;

/// A subscription to one request's progress, printing as reports arrive.
pub struct Watch {
    id: String,
    alive: watch::Receiver<()>,
    printer: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Watch {
    /// Subscribes to the progress of a request to `host` not sent yet; put
    /// [`Watch::id`] in the request.
    pub async fn start(client: &Client, host: &str) -> anyhow::Result<Watch> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let subscriber = client
            .session
            .declare_subscriber(keys::progress(host, &id))
            .await
            .map_err(|e| anyhow::anyhow!("cannot follow the host's progress: {e}"))?;
        let (beat, alive) = watch::channel(());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let printer = tokio::spawn(async move {
            let mut screen = Screen::new();
            let mut show = |sample: zenoh::sample::Sample| {
                if let Ok(p) = msg::decode::<Progress>(&sample.payload().to_bytes()) {
                    let _ = beat.send(());
                    screen.show(&p);
                }
            };
            loop {
                tokio::select! {
                    sample = subscriber.recv_async() => match sample {
                        Ok(sample) => show(sample),
                        Err(_) => return,
                    },
                    _ = &mut stopped => break,
                }
            }
            // The host sent every report before its answer: show those
            // still queued, then stop.
            while let Ok(Some(sample)) = subscriber.try_recv() {
                show(sample);
            }
        });
        Ok(Watch {
            id,
            alive,
            printer,
            stop,
        })
    }

    /// The id the host publishes progress under.
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// Changes each time a report arrives (signs of life included).
    pub fn alive(&self) -> watch::Receiver<()> {
        self.alive.clone()
    }

    /// Stops following (the answer came), once the reports that arrived
    /// before it are shown.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), self.printer).await;
    }
}

/// Where reports go: bars on a terminal, lines elsewhere.
struct Screen {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
}

impl Screen {
    fn new() -> Screen {
        let bars = std::io::stderr().is_terminal().then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                HashMap::new(),
            )
        });
        Screen { bars }
    }

    fn show(&mut self, p: &Progress) {
        if p.is_alive_only() {
            return;
        }
        let Some((multi, bars)) = &mut self.bars else {
            eprintln!("{}", p.line());
            return;
        };
        let Some(layer) = &p.layer else {
            let _ = multi.println(&p.status);
            return;
        };
        let bar = bars.entry(layer.clone()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix}: {msg:<16} {bytes:>10}/{total_bytes:<10} {wide_bar}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(layer.clone());
            bar
        });
        bar.set_message(p.status.clone());
        if let (Some(current), Some(total)) = (p.current, p.total) {
            bar.set_length(total);
            bar.set_position(current);
        }
        if p.status.contains("complete") || p.status == "Already exists" {
            bar.set_style(
                ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template"),
            );
            bar.finish();
        }
    }
}
