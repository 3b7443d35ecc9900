//! Benchmark: N concurrent chats held by one engine against the Live Agent simulator (in its
//! own process) over loopback. Reports sessions held, engine RSS per session, polls per second
//! and the engine's CPU while the chats idle (every poll held until the hold runs out, then
//! sent again), with ratios against the ideal poll rate (N ÷ hold) and against the first N.
//!
//! `cargo run --release -p switchboard-tests --bin bench-sessions -- [N …] [--hold-ms MS]
//! [--measure-secs S]` (defaults: 1000 10000, 5000 ms, 20 s).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_core::model::server::Knobs;
use switchboard_core::session::{SessionConfig, StateKind};
use switchboard_engine::{ChatId, Engine};
use switchboard_tests::{bench, process_cpu};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let hold_ms = flag("--hold-ms", 5_000);
    let measure_secs = flag("--measure-secs", 20);
    let mut sizes: Vec<usize> = Vec::new();
    let mut skip = false;
    for arg in &args {
        if skip {
            skip = false;
        } else if arg.starts_with("--") {
            skip = true;
        } else if let Ok(n) = arg.parse() {
            sizes.push(n);
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000];
    }
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    println!("open-file limit {limit}; hold {hold_ms} ms; measuring {measure_secs} s per size");
    println!(
        "{:>7} {:>7} {:>10} {:>10} {:>12} {:>9} {:>10} {:>9} {:>10} {:>11}",
        "N",
        "held",
        "setup s",
        "no answer",
        "RSS/session",
        "polls/s",
        "of ideal",
        "RSS ×1st",
        "idle CPU",
        "CPU/poll"
    );
    let mut first_rss: Option<f64> = None;
    for n in sizes {
        let row = run(n, hold_ms, measure_secs);
        let ratio = first_rss.map_or(1.0, |f| row.rss_per_session / f);
        first_rss.get_or_insert(row.rss_per_session);
        println!(
            "{:>7} {:>7} {:>10.1} {:>10} {:>9.1} KiB {:>9.0} {:>9.2}× {:>8.2}× {:>9.1}% {:>8.0} µs",
            n,
            row.held,
            row.setup_secs,
            row.setup_failures,
            row.rss_per_session / 1024.0,
            row.polls_per_sec,
            row.polls_per_sec / (n as f64 * 1000.0 / hold_ms as f64),
            ratio,
            row.cpu_share * 100.0,
            row.cpu_share * 1e6 / row.polls_per_sec.max(1.0),
        );
    }
}

struct Row {
    held: usize,
    setup_secs: f64,
    rss_per_session: f64,
    polls_per_sec: f64,
    /// Engine CPU (user and system) during the measurement, as a share of one core.
    cpu_share: f64,
    /// Requests that got no answer (refused, reset or timed out) during the set-up.
    setup_failures: u64,
}

fn run(n: usize, hold_ms: u64, measure_secs: u64) -> Row {
    let mut sim = Command::new(bench::sibling("la-sim"))
        .args(["--hold-ms", &hold_ms.to_string(), "--auto-accept"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("la-sim starts (build it: cargo build --release -p switchboard-tests)");
    let mut url = String::new();
    BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("url");
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let row = runtime.block_on(async {
        let rss_before = rss_bytes();
        let mut config = switchboard_tests::engine_config(url.trim(), dir.path(), Knobs::default());
        // The product's timeouts and backoff, not the tests' short ones: with a 5 s timeout and
        // retries after 100 ms, a set-up of 15,000 chats at once timed requests out, dropped
        // their connections (TIME_WAIT on every local port) and retried into the same queue.
        let defaults = SessionConfig::default();
        config.session.request_timeout = defaults.request_timeout;
        config.session.retry_delay = defaults.retry_delay;
        config.session.max_retry_delay = defaults.max_retry_delay;
        let engine = Engine::open(config).await.expect("engine");
        let started = Instant::now();
        let mut starts = tokio::task::JoinSet::new();
        for i in 0..n {
            let engine = engine.clone();
            starts.spawn(async move {
                engine
                    .start_chat(
                        ChatId(format!("bench-{i}")),
                        switchboard_tests::visitor("Bench"),
                    )
                    .await
            });
        }
        while let Some(result) = starts.join_next().await {
            result.expect("task").expect("chat starts");
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        let held = loop {
            let polling = engine
                .chats()
                .iter()
                .filter(|(_, s)| *s == StateKind::Polling)
                .count();
            if polling == n || Instant::now() > deadline {
                break polling;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let setup_secs = started.elapsed().as_secs_f64();
        let setup_failures = engine.metrics().transport_failures;
        tokio::time::sleep(Duration::from_millis(hold_ms)).await;
        let rss_per_session = rss_bytes().saturating_sub(rss_before) as f64 / n as f64;
        let before = engine.metrics().polls_answered;
        let cpu_before = process_cpu(std::process::id());
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(measure_secs)).await;
        let polls = engine.metrics().polls_answered - before;
        let elapsed = t0.elapsed().as_secs_f64();
        let polls_per_sec = polls as f64 / elapsed;
        let cpu_share = process_cpu(std::process::id())
            .saturating_sub(cpu_before)
            .as_secs_f64()
            / elapsed;
        let still = engine
            .chats()
            .iter()
            .filter(|(_, s)| *s == StateKind::Polling)
            .count();
        assert_eq!(still, held, "sessions were lost during the measurement");
        let _ = engine.shutdown().await;
        Row {
            held,
            setup_secs,
            rss_per_session,
            polls_per_sec,
            cpu_share,
            setup_failures,
        }
    });
    drop(sim.stdin.take());
    let _ = sim.wait();
    row
}

fn rss_bytes() -> u64 {
    // Reading needs a descriptor: a process out of them cannot report (and must not report 0).
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("read /proc/self/status (is the process out of file descriptors?)");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
