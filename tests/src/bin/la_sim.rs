//! The Live Agent simulator as its own process, for benchmarks that must measure the engine's
//! memory alone: `la-sim [--hold-ms MS] [--auto-accept]`. Prints its base URL, then serves until
//! its standard input closes. With `--auto-accept` an agent accepts every waiting chat.

use std::io::Read;
use std::time::Duration;

use switchboard_core::model::server::Knobs;
use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};

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
        println!("{}", sim.base_url());
        if auto_accept {
            let control = sim.control();
            tokio::spawn(async move {
                loop {
                    if control
                        .wait_for_waiting_chat(Duration::from_secs(3600))
                        .await
                        .is_none()
                    {
                        continue;
                    }
                    for chat in control.waiting() {
                        let _ = control.accept(&chat.session_id, "Bench Agent");
                    }
                }
            });
        }
        let (closed_tx, closed) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            let _ = closed_tx.send(());
        });
        let _ = closed.await;
        sim.shutdown().await;
    });
}
