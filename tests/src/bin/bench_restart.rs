//! Benchmark: how long a restarted gateway takes to have every stored chat polling again.
//!
//! N WeChat users (default 10,000) each write once through the gateway's webhook; the agent
//! at the Live Agent simulator (`la-sim`, its own process, told what to do over its standard
//! input) accepts every chat; once every chat is established and held in a `System/Messages`
//! poll, the gateway (`App` in-process, sled on disk) shuts down gracefully. A new `App` then
//! starts on the same data directory, and the bench measures the time from calling
//! `App::start` to the simulator's receipt of the first poll of the last of the N sessions:
//! the simulator records requests from just before the restart, each with its arrival time
//! and session key, and reports the first poll of every key.
//!
//! Baselines in the same run, on the same store: opening the sled database and reading every
//! session and conversation record through the `Store` trait (what any restart must at least
//! do), and `App::start` on an empty store (the fixed cost of a start). The ratio reported is
//! start→all-polling over the first.
//!
//! `cargo build --release -p switchboard-tests --bins && target/release/bench-restart
//! [--sessions 10000] [--data-dir DIR]` (`--data-dir` puts the store there, e.g. on tmpfs,
//! instead of a temporary directory next to the system's others).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use switchboard_core::model::server::Knobs;
use switchboard_engine::app::{App, AppError};
use switchboard_engine::config::Config;
use switchboard_engine::{EngineError, SledStore, Store, StoreError};
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{AccountSettings, Endpoint, PushMode, WeChatApiSim, WeChatUser};
use switchboard_tests::bench::{self, AES_KEY, APP_ID, APP_SECRET, LaSim, TOKEN};
use switchboard_tests::process_cpu;

/// Keep-alive connections the users' first pushes share.
const PUSHERS: usize = 32;
/// Longest wait for any one stage.
const PATIENCE: Duration = Duration::from_secs(600);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sessions: usize = value("--sessions")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
        .max(1);
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let scratch = tempfile::tempdir().expect("temp dir");
    let base = value("--data-dir").map_or_else(|| scratch.path().to_path_buf(), PathBuf::from);
    let data_dir = base.join("restart-store");
    let empty_dir = base.join("restart-empty");
    assert!(
        !data_dir.exists() && !empty_dir.exists(),
        "{} already holds a store of an earlier run: give an empty --data-dir",
        base.display()
    );
    println!(
        "restart: {sessions} sessions, open-file limit {limit}, store {}",
        data_dir.display()
    );
    println!("  load average {}", load_average());

    // The Live Agent simulator runs as its own process (10,000 polls take as many descriptors
    // on each side); the WeChat simulator and the pushers get a runtime of their own, the
    // gateway the other.
    let mut la = LaSim::start(&["--hold-ms", "30000"]);
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sims")
        .enable_all()
        .build()
        .expect("simulator runtime");
    let gw_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("gateway")
        .enable_all()
        .build()
        .expect("gateway runtime");
    let wechat = sim_rt
        .block_on(WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET)))
        .expect("WeChat simulator");
    let config = |dir: &Path| {
        bench::gateway(&la.url, &Knobs::default(), wechat.base_url(), dir, 200)
            .config()
            .expect("configuration")
    };
    let secrets = bench::secrets();
    let full = config(&data_dir);
    let empty = config(&empty_dir);

    // --- N established, polling chats. ---
    let setup = Instant::now();
    let app = start_app(&gw_rt, &full, &secrets).0;
    let settings = AccountSettings {
        account: "gh_bench".into(),
        app_id: APP_ID.into(),
        token: TOKEN.into(),
        encoding_aes_key: AES_KEY.into(),
        mode: PushMode::Safe,
    };
    let users: Arc<Vec<WeChatUser>> = Arc::new(
        (0..sessions)
            .map(|i| {
                WeChatUser::new(
                    settings.clone(),
                    format!("oRestart{i:05}"),
                    Some(wechat.handle()),
                )
                .with_first_msg_id(10_000_000 * (i as u64 + 1))
            })
            .collect(),
    );
    let pushes = sim_rt.spawn(push_all(app.public_addr(), users.clone()));
    let deadline = Instant::now() + PATIENCE;
    loop {
        la.ask("accept");
        let (_, established, polling, _) = la.status();
        if established == sessions && polling == sessions {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {established} of {sessions} chats established, {polling} polling"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    sim_rt.block_on(pushes).expect("pushes");
    // The gateway is quiet: what the chats' start caused (the agent-joined notices) is sent.
    let mut sends = wechat.call_count(Endpoint::CustomSend);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = wechat.call_count(Endpoint::CustomSend);
        if now == sends && now >= sessions {
            break;
        }
        sends = now;
    }
    println!(
        "  set-up: {sessions} chats established and polling, {sends} sends to WeChat, {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // --- Graceful shutdown. ---
    let stopping = Instant::now();
    shutdown(&gw_rt, app);
    let shutdown_took = stopping.elapsed();
    let deadline = Instant::now() + PATIENCE;
    while la.status().2 > 0 {
        assert!(
            Instant::now() < deadline,
            "the old polls were never released"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "  shutdown {:.0} ms; every old poll released {:.0} ms after it began",
        shutdown_took.as_secs_f64() * 1e3,
        stopping.elapsed().as_secs_f64() * 1e3
    );

    // --- Baselines. ---
    let (read, counts) = gw_rt.block_on(open_and_read(&data_dir));
    let read_ms = read.as_secs_f64() * 1e3;
    println!(
        "  baseline: sled open + read {} sessions and {} conversations: {read_ms:.1} ms",
        counts.0, counts.1
    );
    let (empty_app, _, empty_start, _) = start_app(&gw_rt, &empty, &secrets);
    shutdown(&gw_rt, empty_app);
    let empty_ms = empty_start.as_secs_f64() * 1e3;
    println!("  baseline: App::start on an empty store: {empty_ms:.1} ms");

    // --- The restart. ---
    let recording_ms: f64 = la
        .ask("record")
        .first()
        .and_then(|w| w.parse().ok())
        .expect("the simulator's clock");
    let recording = Instant::now();
    let tcp_before = tcp_counters();
    let cpu_before = (process_cpu(std::process::id()), process_cpu(la.pid()));
    let (app, restart_at, started, retries) = start_app(&gw_rt, &full, &secrets);
    let restart_ms = recording_ms + restart_at.duration_since(recording).as_secs_f64() * 1e3;
    let deadline = Instant::now() + PATIENCE;
    let polled: Vec<f64> = loop {
        std::thread::sleep(Duration::from_millis(200));
        let words: Vec<f64> = la
            .ask("first-polls")
            .iter()
            .map(|w| w.parse().unwrap_or(f64::NAN))
            .collect();
        if (words.len() == 11 && words[0] as usize >= sessions) || Instant::now() > deadline {
            break words;
        }
    };
    let tcp_after = tcp_counters();
    let cpu_after = (process_cpu(std::process::id()), process_cpu(la.pid()));
    let word = |i: usize| polled.get(i).copied().unwrap_or(f64::NAN);
    let (count, conflicts, others) = (word(0), word(1), word(2));
    // First polls after the start: min, p10, p25, p50, p75, p90, p99, max.
    let after: Vec<f64> = (3..11).map(|i| word(i) - restart_ms).collect();
    let all = after[7];
    println!(
        "  restart: App::start returned after {:.1} ms{}; all {count} polling {all:.0} ms after start (±1 ms)",
        started.as_secs_f64() * 1e3,
        if retries > 0 {
            format!(" (after {retries} tries on a store still locked)")
        } else {
            String::new()
        },
    );
    println!(
        "  first poll after the start, ms: min {:.0}, p10 {:.0}, p25 {:.0}, p50 {:.0}, p75 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}",
        after[0], after[1], after[2], after[3], after[4], after[5], after[6], after[7]
    );
    println!("  {conflicts} polls answered 409, {others} other requests after the restart");
    println!(
        "  CPU meanwhile (till the last poll was seen, up to 200 ms later): gateway process {:.2} s, la-sim {:.2} s",
        cpu_after.0.saturating_sub(cpu_before.0).as_secs_f64(),
        cpu_after.1.saturating_sub(cpu_before.1).as_secs_f64()
    );
    if let (Some(before), Some(after)) = (tcp_before, tcp_after) {
        println!(
            "  meanwhile, machine-wide: {} listen-queue overflows, {} SYN retransmissions",
            after.0.saturating_sub(before.0),
            after.1.saturating_sub(before.1)
        );
    }
    println!(
        "restart, {sessions} sessions: start → all polling {all:.0} ms = {:.1}× the sled open + read ({read_ms:.1} ms), {:.1}× an empty start ({empty_ms:.1} ms); goal ≤ 1000 ms: {}",
        all / read_ms,
        all / empty_ms,
        if count as usize == sessions && all <= 1000.0 {
            "met"
        } else {
            "not met"
        }
    );
    println!("  load average {}", load_average());
    assert_eq!(count as usize, sessions, "not every session polled again");
    shutdown(&gw_rt, app);
    drop(gw_rt);
    drop(wechat);
    la.stop();
}

/// Shuts a gateway down gracefully, giving up after a minute (and saying so).
fn shutdown(rt: &tokio::runtime::Runtime, app: App) {
    match rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), app.shutdown()).await })
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => println!("  (shutdown failed: {e})"),
        Err(_) => println!("  (shutdown still not done after 60 s; going on)"),
    }
}

/// Starts a gateway; a start refused because sled still holds the previous process's lock
/// (it can, a moment after the last handle went) is tried again, and timed afresh. Returns
/// the app, when its successful start began and how long it took, and how many tries were
/// refused.
fn start_app(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    secrets: &std::collections::BTreeMap<String, String>,
) -> (App, Instant, Duration, usize) {
    let mut refused = 0;
    loop {
        let started = Instant::now();
        match rt.block_on(App::start(config, secrets)) {
            Ok(app) => return (app, started, started.elapsed(), refused),
            Err(AppError::Engine(EngineError::Store(StoreError::Locked(_)))) if refused < 500 => {
                refused += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("the gateway does not start: {e}"),
        }
    }
}

/// Opens the store and reads every session and conversation; how long that took (from the
/// open that was not refused) and how many of each it found.
async fn open_and_read(dir: &Path) -> (Duration, (usize, usize)) {
    for _ in 0..500 {
        let started = Instant::now();
        match SledStore::open(dir) {
            Ok(store) => {
                let sessions = store.load_sessions().expect("sessions").len();
                let conversations = store.load_conversations().expect("conversations").len();
                let took = started.elapsed();
                drop(store);
                return (took, (sessions, conversations));
            }
            Err(StoreError::Locked(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => panic!("the store does not open: {e}"),
        }
    }
    panic!("the store stayed locked");
}

/// Every user writes `hello` once, over [`PUSHERS`] keep-alive connections; a push not
/// answered 200 is sent again.
async fn push_all(addr: SocketAddr, users: Arc<Vec<WeChatUser>>) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..PUSHERS {
        let (next, users) = (next.clone(), users.clone());
        workers.spawn(async move {
            let mut sender = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(user) = users.get(i) else {
                    return;
                };
                let push = user.text("hello");
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    assert!(Instant::now() < deadline, "push {i} never accepted");
                    if sender.is_none() {
                        sender = connect(addr).await;
                    }
                    let Some(s) = sender.as_mut() else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let request = http::Request::post(format!("/channels/wechat?{}", push.query))
                        .header("host", "bench")
                        .header("content-type", "text/xml")
                        .body(Full::new(push.body.clone()))
                        .expect("request");
                    match s.send_request(request).await {
                        Ok(response) => {
                            let ok = response.status() == 200;
                            let _ = response.into_body().collect().await;
                            if ok {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(_) => sender = None,
                    }
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("pusher");
    }
}

async fn connect(addr: SocketAddr) -> Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

/// The kernel's `ListenOverflows` and `TCPSynRetrans` counters (machine-wide): a connection
/// storm against a listener whose accept queue is full costs each dropped SYN a retransmission
/// a second or more later.
fn tcp_counters() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let find = |name: &str| {
        names
            .split_whitespace()
            .position(|n| n == name)
            .and_then(|i| values.split_whitespace().nth(i))
            .and_then(|v| v.parse().ok())
    };
    Some((find("ListenOverflows")?, find("TCPSynRetrans")?))
}

/// The machine's load averages (1, 5, 15 min): this bench shares its cores with whatever else
/// runs, and says so.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
