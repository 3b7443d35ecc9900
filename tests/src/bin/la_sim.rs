//! The Live Agent simulator as its own process, for benchmarks that must measure the engine's
//! memory alone: `la-sim [--hold-ms MS] [--auto-accept]`. Prints its base URL, then serves until
//! its standard input closes. With `--auto-accept` an agent accepts every waiting chat.
//!
//! Each line written to its standard input is a command, answered with one line on standard
//! output (for benchmarks that must look inside without an HTTP round trip per session):
//!
//! | command | answer |
//! |---|---|
//! | `accept` | `accepted N`: an agent accepted every chat waiting now |
//! | `status` | `sessions N established E polling P waiting W` |
//! | `texts` | `texts N DISTINCT`: the visitor texts agents have received, all sessions together, and how many of them differ |
//! | `record` | `recording MS`: requests are recorded from now on; MS is the simulator's clock |
//! | `first-polls` | `first-polls K CONFLICTS OTHERS MIN P10 P25 P50 P75 P90 P99 MAX`: of the recorded requests, K session keys sent a `Messages` poll; CONFLICTS polls were answered 409, OTHERS requests were not polls; then when the keys' first polls arrived, as quantiles (the clock of `record`, whole milliseconds) |
//!
//! Anything else is answered `unknown`.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use switchboard_core::liveagent::Resource;
use switchboard_core::liveagent::headers::SESSION_KEY;
use switchboard_core::model::server::Knobs;
use switchboard_sim::liveagent::{AgentControl, LiveAgentSim, Phase, SimConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hold_ms = args
        .iter()
        .position(|a| a == "--hold-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let auto_accept = args.iter().any(|a| a == "--auto-accept");
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let knobs = Knobs {
            record_requests: false,
            ..Knobs::default()
        };
        let sim = LiveAgentSim::start(SimConfig {
            knobs,
            hold: Duration::from_millis(hold_ms),
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        // The model's clock started within microseconds before this.
        let clock = Instant::now();
        println!("{}", sim.base_url());
        if auto_accept {
            let control = sim.control();
            // The agent looks at the queue every 20 ms: looking after every change to the
            // simulator (each poll) scans every session each time, which with 19,000 sessions
            // took the simulator's whole CPU.
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(20));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    for chat in control.waiting() {
                        let _ = control.accept(&chat.session_id, "Bench Agent");
                    }
                }
            });
        }
        let (closed_tx, closed) = tokio::sync::oneshot::channel();
        let control = sim.control();
        std::thread::spawn(move || {
            let stdout = std::io::stdout();
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else {
                    break;
                };
                let answer = command(&control, clock, line.trim());
                let mut out = stdout.lock();
                let _ = writeln!(out, "{answer}");
                let _ = out.flush();
            }
            let _ = closed_tx.send(());
        });
        let _ = closed.await;
        sim.shutdown().await;
    });
}

/// Answers one command from standard input.
fn command(control: &AgentControl, clock: Instant, command: &str) -> String {
    match command {
        "accept" => {
            let mut accepted = 0;
            for chat in control.waiting() {
                accepted += usize::from(control.accept(&chat.session_id, "Bench Agent").is_ok());
            }
            format!("accepted {accepted}")
        }
        "status" => {
            let sessions = control.sessions();
            let established = sessions
                .iter()
                .filter(|s| matches!(s.phase, Phase::Established { .. }))
                .count();
            let polling = sessions.iter().filter(|s| s.polling).count();
            let waiting = sessions
                .iter()
                .filter(|s| s.phase == Phase::Requested)
                .count();
            format!(
                "sessions {} established {established} polling {polling} waiting {waiting}",
                sessions.len()
            )
        }
        "texts" => {
            let mut texts = std::collections::HashSet::new();
            let mut total = 0usize;
            for session in control.sessions() {
                total += session.visitor_texts.len();
                texts.extend(session.visitor_texts);
            }
            format!("texts {total} {}", texts.len())
        }
        "record" => {
            control.set_knobs(Knobs {
                record_requests: true,
                ..control.knobs()
            });
            format!("recording {:.3}", clock.elapsed().as_secs_f64() * 1e3)
        }
        "first-polls" => {
            let mut first = std::collections::HashMap::new();
            let (mut conflicts, mut others) = (0usize, 0usize);
            for record in control.recorded() {
                if record.request.resource != Resource::Messages {
                    others += 1;
                    continue;
                }
                conflicts += usize::from(record.status == Some(409));
                if let Some(key) = record.request.header_value(SESSION_KEY) {
                    first
                        .entry(key.to_owned())
                        .or_insert_with(|| record.at.as_millis());
                }
            }
            let mut times: Vec<u64> = first.into_values().collect();
            times.sort_unstable();
            let quantiles: Vec<String> = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
                .iter()
                .map(|q| {
                    let last = times.len().saturating_sub(1);
                    let i = ((last as f64) * q).round() as usize;
                    times.get(i).copied().unwrap_or(0).to_string()
                })
                .collect();
            format!(
                "first-polls {} {conflicts} {others} {}",
                times.len(),
                quantiles.join(" ")
            )
        }
        _ => "unknown".to_owned(),
    }
}
