//! The store half of `scripts/bench-store.sh` (docs/benchmarks.md, "A year
//! of records"): fills a host's store with a year of a 1 s habit's runs
//! through the store's own API, and times, in process, what `tnet status`
//! asks of the store and what each habit run costs with pruning.
//!
//! ```text
//! store_bench fill  DB TASK RUNS     # RUNS finished runs, one a second, ending now
//! store_bench query DB TASK ROUNDS   # median µs of recent_runs(20) + totals
//! store_bench steady DB TASK RUNS    # a habit run's records (start + finish), pruning on: CPU µs, median wall µs
//! ```

use std::time::{Duration, Instant};

mod bench;

use tnet_host::store::{FinishedRun, HistoryLimits, RunEnd, Store};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, db, task, count] = args.as_slice() else {
        anyhow::bail!("usage: store_bench fill|query|steady DB TASK COUNT");
    };
    let count: u64 = count.parse()?;
    let store = Store::open(std::path::Path::new(db))?;
    match mode.as_str() {
        "fill" => fill(&store, task, count),
        "query" => query(&store, task, count),
        "steady" => steady(&store, task, count),
        other => anyhow::bail!("unknown mode {other}"),
    }
}

/// Runs one second apart, the last one a second ago; one in a thousand failed.
fn fill(store: &Store, task: &str, runs: u64) -> anyhow::Result<()> {
    const BATCH: u64 = 250_000;
    let began = Instant::now();
    let start = chrono::Utc::now() - chrono::Duration::seconds(runs as i64);
    let mut done = 0;
    while done < runs {
        let n = BATCH.min(runs - done);
        let batch = (done..done + n).map(|i| FinishedRun {
            phase: "run",
            started_at: (start + chrono::Duration::seconds(i as i64))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_ms: 3,
            exit_code: Some(if i % 1000 == 999 { 1 } else { 0 }),
            outcome: if i % 1000 == 999 {
                "failed"
            } else {
                "succeeded"
            },
        });
        done += store.import_runs(task, batch)?;
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "filled {done} runs in {secs:.0} s ({:.0} runs/s)",
        done as f64 / secs
    );
    Ok(())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// What the status handler reads: the 20 newest runs and the counters.
fn query(store: &Store, task: &str, rounds: u64) -> anyhow::Result<()> {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let began = Instant::now();
        let runs = store.recent_runs(task, 20)?;
        let totals = store.totals(task)?;
        samples.push(began.elapsed());
        anyhow::ensure!(!runs.is_empty() && totals.runs > 0, "no runs of {task}");
    }
    let totals = store.totals(task)?;
    println!(
        "query: median {} µs over {rounds} (runs {} kept {})",
        median(samples).as_micros(),
        totals.runs,
        totals.kept
    );
    Ok(())
}

/// A habit's records through the ledger, one run after another, with the
/// task's limit in force (each insert prunes the oldest rows past it).
fn steady(store: &Store, task: &str, runs: u64) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let keep = HistoryLimits {
        runs: 100,
        bytes: 1 << 20,
    };
    let mut samples = Vec::new();
    let before = store.totals(task)?.kept;
    let cpu0 = bench::Cpu::of("self")?;
    rt.block_on(async {
        for _ in 0..runs {
            let now = tnet_host::store::now_rfc3339();
            let began = Instant::now();
            let run = store
                .ledger()
                .start_habit_run(task, &now, &now, Instant::now())
                .await?;
            let end = RunEnd {
                duration_ms: 1,
                exit_code: Some(0),
                outcome: "succeeded",
            };
            store
                .ledger()
                .finish_habit_run(task, &run, end, None, keep)
                .await?;
            samples.push(began.elapsed());
        }
        anyhow::Ok(())
    })?;
    // The ledger's thread writes them: the process's CPU is what they cost.
    let cpu_us = bench::Cpu::of("self")?.own_ms_since(&cpu0) * 1000.0 / runs.max(1) as f64;
    let after = store.totals(task)?.kept;
    println!(
        "steady: {cpu_us:.0} µs of CPU per habit run (start + finish), median {} µs from start to end written \
         (the end waits up to the ledger's GATHER to share a commit), keep {}, kept {before} -> {after}",
        median(samples).as_micros(),
        store.keep_runs().of(task)
    );
    Ok(())
}
