//! What the host benchmarks (`habit_bench`, `fanout_bench`) share: asking the
//! bench host, reading a process's CPU, clocks and percentiles.
//!
//! Each example includes this module with `mod bench;`; a piece one of them
//! does not use is not dead code.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tnet_proto::keys;
use tnet_proto::msg::{self, Request, RequestEnvelope, Response, ResponseEnvelope};

/// Latency figures, in milliseconds.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stats {
    pub fn of(mut ms: Vec<f64>) -> Stats {
        if ms.is_empty() {
            return Stats::default();
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Stats {
            count: ms.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: ms[ms.len() - 1],
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
        }
    }
}

/// One control request to the host named `host`.
pub async fn ask(
    session: &zenoh::Session,
    host: &str,
    request: Request,
) -> anyhow::Result<Response> {
    // Requests that change the host go to its admin key, as `tnet` sends them.
    let key = if request.needs_admin() {
        keys::host_admin(host)
    } else {
        keys::host_control(host)
    };
    let replies = session
        .get(key)
        .payload(msg::encode(&RequestEnvelope::new(request)))
        .timeout(Duration::from_secs(30))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let reply = replies
        .recv_async()
        .await
        .map_err(|_| anyhow::anyhow!("no answer"))?;
    let sample = reply
        .result()
        .map_err(|e| anyhow::anyhow!("{:?}", e.payload().to_bytes()))?;
    Ok(msg::decode::<ResponseEnvelope>(&sample.payload().to_bytes())?.response)
}

/// CPU ticks of a process (`self` or a pid) and when they were read.
pub struct Cpu {
    pub at: std::time::Instant,
    pub own: u64,
    pub children: u64,
}

impl Cpu {
    pub fn of(pid: &str) -> anyhow::Result<Cpu> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let rest = &stat[stat.rfind(')').context("/proc stat")? + 1..];
        let fields: Vec<u64> = rest
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        // Fields 14-17 of proc(5): utime, stime, cutime, cstime.
        Ok(Cpu {
            at: std::time::Instant::now(),
            own: fields[10] + fields[11],
            children: fields[12] + fields[13],
        })
    }

    /// `ticks` over `over`, in % of one core.
    pub fn pct(ticks: u64, over: Duration) -> f64 {
        // Linux reports these in USER_HZ, which is 100 on every current architecture.
        ticks as f64 / 100.0 / over.as_secs_f64() * 100.0
    }

    pub fn self_pct_since(&self, before: &Cpu) -> f64 {
        Cpu::pct(self.own - before.own, self.at - before.at)
    }

    /// The process's own CPU since `before`, in ms.
    pub fn own_ms_since(&self, before: &Cpu) -> f64 {
        (self.own - before.own) as f64 * 10.0
    }

    pub fn children_pct_since(&self, before: &Cpu) -> f64 {
        Cpu::pct(self.children - before.children, self.at - before.at)
    }
}

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// An RFC 3339 time in nanoseconds since the epoch.
pub fn ns_of(rfc3339: &str) -> Option<i128> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .and_then(|t| t.timestamp_nanos_opt())
        .map(i128::from)
}
