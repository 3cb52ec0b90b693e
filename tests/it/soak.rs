//! The soak in the suite (issue 16): ten kills of a host under load, every
//! promise checked after each restart. `scripts/soak.sh` runs the long one
//! (`TNET_SOAK_CYCLES`, default 100 there); figures in docs/reliability.md.

use std::time::Instant;

use tnet_tests::soak::{self, SoakConfig};

#[test]
fn a_host_killed_at_random_instants_keeps_every_promise() {
    let cycles = std::env::var("TNET_SOAK_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10);
    let seed = std::env::var("TNET_SOAK_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let docker = crate::docker::soak_image();
    let config = SoakConfig {
        cycles,
        seed,
        docker,
    };
    let began = Instant::now();
    let report = soak::run("soak", &config);
    let text = report.text(&config, began.elapsed());
    eprintln!("{text}");
    if let Ok(path) = std::env::var("TNET_SOAK_REPORT") {
        std::fs::write(&path, &text).expect("write the soak report");
    }
    assert_eq!(report.cycles, cycles);
    assert!(report.violations.is_empty(), "{text}");
}
