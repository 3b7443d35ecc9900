//! Benchmark: relay latency from an agent's line to the WeChat customer-service send.
//!
//! Many chats (default 100) are established with an agent at the Live Agent simulator. The
//! bench then makes the agent say numbered lines at a fixed total rate (default 100 and then
//! 1,000 lines/s, spread round-robin over the chats) and measures, per line, the time from the
//! moment before the simulator is told the agent said it (`AgentControl::send_text`, which
//! answers the chat's held `System/Messages` poll) to the moment the line arrives at the WeChat
//! API simulator's `/cgi-bin/message/custom/send`. The WeChat simulator has no receive
//! timestamps, so it sits behind a small pass-through proxy in this bench that stamps each
//! request as soon as its head is read, and then hands it on unchanged.
//!
//! Two systems relay, one after the other, over the same simulators:
//! - the **baseline**, a direct forwarder in this bench: one task per chat long-polls the Live
//!   Agent simulator over hyper and POSTs each `ChatMessage` to `custom/send` right away; no
//!   store, no conversation;
//! - the **gateway**, `App::start` in-process with `merge_window_ms = 0` and sled on disk.
//!
//! The gateway counts WeChat's budget of 5 sends per user message and holds back further
//! lines, so lines go out in rounds: before each round every user writes once through the
//! gateway's webhook (the forwarder's rounds reopen the simulator's window directly), then
//! each chat gets 5 lines at the offered rate. Reports p50, p99 and max per system and rate,
//! the CPU the relaying system spent per line (this process's CPU time outside the simulators'
//! runtime and the main thread, which speaks for the agent), the gateway's overhead (its p50
//! and p99 minus the forwarder's) and the ratios. The simulators, the forwarder and the
//! gateway share the machine's cores with whatever else runs: each line of figures ends with
//! the load average.
//!
//! `cargo build --release -p switchboard-tests --bins && target/release/bench-relay
//! [--chats 100] [--messages 3000] [--rates 100,1000] [--per-round 5] [--data-dir DIR]
//! [--stages] [--dump FILE]`: `--messages` per rate and system, rounded up to whole rounds
//! of `--per-round` lines per chat (at most 5);
//! `--data-dir` puts the gateway's sled store there (e.g. on tmpfs) instead of a temporary
//! directory next to the system's others; `--stages` splits the gateway's latency at its
//! next `Messages` poll after each line (the driver's part, then the bridge's), from the
//! simulator's request records; `--dump` writes every line's latency as CSV.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchboard_core::liveagent::event::Event;
use switchboard_core::liveagent::headers::SESSION_KEY;
use switchboard_core::liveagent::{
    LiveAgentRequest, MessagesResponse, Method, Resource, SessionIdResponse,
};
use switchboard_core::model::server::Knobs;
use switchboard_engine::app::App;
use switchboard_sim::liveagent::{AgentControl, LiveAgentSim, Phase, SimConfig};
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{AccountSettings, PushMode, WeChatApiSim, WeChatUser};
use switchboard_tests::bench::{self, AES_KEY, APP_ID, APP_SECRET, TOKEN};

const AGENT: &str = "Bench Agent";
/// Every measured agent line is `relay {id}`; merged lines arrive joined by newlines.
const TAG: &str = "relay ";
/// The Live Agent API version the forwarder speaks (the gateway's default).
const API_VERSION: u32 = 52;
/// How long a round's last line may take to arrive before the missing ones count as lost.
const ROUND_PATIENCE: Duration = Duration::from_secs(15);
/// Any other wait (chats established, pushes answered).
const PATIENCE: Duration = Duration::from_secs(60);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Args {
    chats: usize,
    messages: usize,
    per_round: usize,
    rates: Vec<u64>,
    data_dir: Option<PathBuf>,
    dump: Option<PathBuf>,
    stages: bool,
}

impl Args {
    fn parse() -> Args {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let number = |name: &str, default: usize| {
            value(name).and_then(|v| v.parse().ok()).unwrap_or(default)
        };
        let rates = value("--rates")
            .map(|v| {
                v.split(',')
                    .filter_map(|r| r.trim().parse().ok())
                    .filter(|&r| r > 0)
                    .collect()
            })
            .filter(|r: &Vec<u64>| !r.is_empty())
            .unwrap_or_else(|| vec![100, 1_000]);
        Args {
            chats: number("--chats", 100).max(1),
            messages: number("--messages", 3_000).max(1),
            // WeChat's budget per user message; the gateway never exceeds it.
            per_round: number("--per-round", 5).clamp(1, 5),
            rates,
            data_dir: value("--data-dir").map(PathBuf::from),
            dump: value("--dump").map(PathBuf::from),
            stages: args.iter().any(|a| a == "--stages"),
        }
    }
}

/// When each line was said and when it reached the WeChat simulator, in nanoseconds since
/// `epoch` (0: not yet).
struct Marks {
    epoch: Instant,
    said: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    next_id: AtomicUsize,
}

impl Marks {
    fn new(capacity: usize) -> Marks {
        Marks {
            epoch: Instant::now(),
            said: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            received: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            next_id: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Reserves `count` fresh line ids.
    fn ids(&self, count: usize) -> std::ops::Range<usize> {
        let first = self.next_id.fetch_add(count, Ordering::Relaxed);
        assert!(first + count <= self.said.len(), "more lines than planned");
        first..first + count
    }

    /// Stamps the first arrival of every tagged line in a `custom/send` body.
    fn record_send(&self, body: &[u8], at: u64) {
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let Some(content) = json["text"]["content"].as_str() else {
            return;
        };
        for line in content.lines() {
            if let Some(id) = line
                .strip_prefix(TAG)
                .and_then(|n| n.trim().parse::<usize>().ok())
                && let Some(slot) = self.received.get(id)
            {
                let _ = slot.compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }

    /// CSV rows `system,rate,round,n,chat,said_us,latency_us` (`said_us` from the round's
    /// first line; an empty latency: lost).
    fn rows(
        &self,
        system: &str,
        rate: u64,
        round: usize,
        chats: usize,
        ids: std::ops::Range<usize>,
        out: &mut Vec<String>,
    ) {
        let first = self.said[ids.start].load(Ordering::Relaxed);
        for (n, i) in ids.enumerate() {
            let said = self.said[i].load(Ordering::Relaxed);
            let received = self.received[i].load(Ordering::Relaxed);
            let latency = if received == 0 {
                String::new()
            } else {
                format!("{:.1}", received.saturating_sub(said) as f64 / 1e3)
            };
            out.push(format!(
                "{system},{rate},{round},{n},{},{:.1},{latency}",
                n % chats,
                said.saturating_sub(first) as f64 / 1e3
            ));
        }
    }

    fn arrived(&self, ids: std::ops::Range<usize>) -> usize {
        ids.filter(|&i| self.received[i].load(Ordering::Relaxed) != 0)
            .count()
    }

    /// Latencies of the lines in `ids` that arrived, in microseconds, sorted; and how many
    /// did not.
    fn latencies(&self, ids: std::ops::Range<usize>) -> (Vec<f64>, usize) {
        let mut lost = 0;
        let mut out = Vec::with_capacity(ids.len());
        for i in ids {
            let (said, received) = (
                self.said[i].load(Ordering::Relaxed),
                self.received[i].load(Ordering::Relaxed),
            );
            if said == 0 || received == 0 {
                lost += 1;
            } else {
                out.push(received.saturating_sub(said) as f64 / 1e3);
            }
        }
        out.sort_by(f64::total_cmp);
        (out, lost)
    }
}

/// One system's figures at one rate.
struct Figures {
    /// The line ids measured.
    ids: Vec<std::ops::Range<usize>>,
    rate: u64,
    offered: f64,
    count: usize,
    lost: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// CPU the relaying system spent per line (see [`relaying_cpu`]).
    cpu_per_line_us: f64,
}

fn figures(
    ids: Vec<std::ops::Range<usize>>,
    rate: u64,
    offered: f64,
    latencies_us: &[f64],
    lost: usize,
) -> Figures {
    let at = |q: f64| {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((latencies_us.len() as f64 * q).ceil() as usize).clamp(1, latencies_us.len());
        latencies_us[rank - 1] / 1e3
    };
    Figures {
        ids,
        rate,
        offered,
        count: latencies_us.len(),
        lost,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: latencies_us.last().copied().unwrap_or(0.0) / 1e3,
        cpu_per_line_us: 0.0,
    }
}

fn print_figures(name: &str, f: &Figures) {
    println!(
        "{name:>10} {:>6}/s (offered {:>6.0}/s): {:>6} lines  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms  {} lost  CPU {:>4.0} µs/line  (load {})",
        f.rate,
        f.offered,
        f.count,
        f.p50_ms,
        f.p99_ms,
        f.max_ms,
        f.lost,
        f.cpu_per_line_us,
        load_average()
    );
}

/// A chat as the bench drives it: its Live Agent session and its WeChat user.
struct Chat {
    session_id: String,
    user: Arc<WeChatUser>,
}

/// What a round needs done before its lines: the window reopened for every user.
enum Reopen<'a> {
    /// The users write through the gateway's webhook; the agent must have their text.
    Webhook {
        url: &'a str,
        sim_rt: &'a tokio::runtime::Runtime,
    },
    /// The WeChat simulator is told the users wrote (the forwarder keeps no budget).
    Simulator(&'a WeChatApiSim),
}

fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let rounds_per_rate = args.messages.div_ceil(args.chats * args.per_round);
    let per_rate = rounds_per_rate * args.chats * args.per_round;
    // Per system: one warm-up round, then every rate.
    let lines_per_system = args.chats * args.per_round * (1 + rounds_per_rate * args.rates.len());
    let marks = Arc::new(Marks::new(2 * lines_per_system));
    println!(
        "relay: {} chats, {} lines per round and chat, {} rounds ({} lines) per rate, rates {:?}/s, merge window 0",
        args.chats, args.per_round, rounds_per_rate, per_rate, args.rates
    );

    // The simulators and the stamping proxy run on a runtime of their own, so the relaying
    // system has the other one to itself.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sims")
        .enable_all()
        .build()
        .expect("simulator runtime");
    let gw_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("relay")
        .enable_all()
        .build()
        .expect("relay runtime");
    let (la, wechat, proxy, sim_origin) = sim_rt.block_on(async {
        let la = LiveAgentSim::start(SimConfig {
            knobs: Knobs {
                record_requests: false,
                ..Knobs::default()
            },
            hold: Duration::from_secs(30),
            ..SimConfig::default()
        })
        .await
        .expect("Live Agent simulator");
        let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
            .await
            .expect("WeChat simulator");
        // The simulator's clock (its records' `at`) started within microseconds before this.
        let origin = Instant::now();
        let proxy = stamping_proxy(wechat.base_url(), marks.clone()).await;
        (la, wechat, proxy, origin)
    });
    let control = la.control();
    let proxy_url = format!("http://{proxy}");
    let settings = AccountSettings {
        account: "gh_bench".into(),
        app_id: APP_ID.into(),
        token: TOKEN.into(),
        encoding_aes_key: AES_KEY.into(),
        mode: PushMode::Safe,
    };
    let users: Vec<Arc<WeChatUser>> = (0..args.chats)
        .map(|i| {
            Arc::new(
                WeChatUser::new(
                    settings.clone(),
                    format!("oRelay{i:04}"),
                    Some(wechat.handle()),
                )
                .with_first_msg_id(10_000_000 * (i as u64 + 1)),
            )
        })
        .collect();

    // --- Baseline: the direct forwarder. ---
    let forwarder = gw_rt.block_on(start_forwarder(
        &la.base_url(),
        &proxy_url,
        &control,
        &users,
    ));
    let mut baseline = Vec::new();
    let mut rows = vec!["system,rate,round,n,chat,said_us,latency_us".to_owned()];
    run_rates(
        "forwarder",
        &args,
        rounds_per_rate,
        &forwarder.chats,
        &control,
        &marks,
        &Reopen::Simulator(&wechat),
        &mut baseline,
        &mut rows,
    );
    forwarder.stop();

    // --- The gateway. ---
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = args
        .data_dir
        .clone()
        .map_or_else(|| dir.path().to_path_buf(), |d| d.join("relay-store"));
    assert!(
        args.data_dir.is_none() || !data_dir.exists(),
        "{} already holds a store of an earlier run",
        data_dir.display()
    );
    let knobs = control.knobs();
    let config = bench::gateway(&la.base_url(), &knobs, proxy_url.clone(), &data_dir, 0)
        .config()
        .expect("configuration");
    let secrets = bench::secrets();
    let app = gw_rt
        .block_on(App::start(&config, &secrets))
        .expect("gateway starts");
    let webhook = format!("http://{}/channels/wechat", app.public_addr());
    println!("gateway store: {}", data_dir.display());
    let chats = sim_rt.block_on(establish_gateway_chats(&webhook, &control, &wechat, &users));
    let mut gateway = Vec::new();
    if args.stages {
        control.set_knobs(Knobs {
            record_requests: true,
            ..control.knobs()
        });
    }
    run_rates(
        "gateway",
        &args,
        rounds_per_rate,
        &chats,
        &control,
        &marks,
        &Reopen::Webhook {
            url: &webhook,
            sim_rt: &sim_rt,
        },
        &mut gateway,
        &mut rows,
    );
    let _ = gw_rt.block_on(app.shutdown());
    if args.stages {
        let offset_ms = sim_origin.duration_since(marks.epoch).as_secs_f64() * 1e3;
        stages(&control, &marks, &chats, &gateway, offset_ms);
    }
    if let Some(path) = &args.dump {
        rows.push(String::new());
        std::fs::write(path, rows.join("\n")).expect("dump written");
        println!("per-line latencies in {}", path.display());
    }

    println!();
    println!("gateway overhead (gateway − forwarder), same run:");
    for (base, gw) in baseline.iter().zip(&gateway) {
        println!(
            "{:>6}/s: p50 +{:.3} ms ({:.1}×), p99 +{:.3} ms ({:.1}×), max {:.3} vs {:.3} ms; CPU {:.0} vs {:.0} µs/line ({:.1}×); goal p99 overhead ≤ 2 ms: {}",
            gw.rate,
            gw.p50_ms - base.p50_ms,
            gw.p50_ms / base.p50_ms.max(1e-9),
            gw.p99_ms - base.p99_ms,
            gw.p99_ms / base.p99_ms.max(1e-9),
            gw.max_ms,
            base.max_ms,
            gw.cpu_per_line_us,
            base.cpu_per_line_us,
            gw.cpu_per_line_us / base.cpu_per_line_us.max(1e-9),
            if gw.p99_ms - base.p99_ms <= 2.0 {
                "met"
            } else {
                "not met"
            }
        );
    }
    drop(gw_rt);
    sim_rt.block_on(la.shutdown());
    drop(wechat);
}

/// Splits the gateway's latency at its next `Messages` poll after each line: until then the
/// driver had the line (poll answer read, events committed and flushed, next poll sent); after
/// it, the bridge (outbox taken, conversation steps committed and flushed, the send). From the
/// simulator's request records, whose times are whole milliseconds.
fn stages(
    control: &AgentControl,
    marks: &Marks,
    chats: &[Chat],
    figures: &[Figures],
    offset_ms: f64,
) {
    let mut polls: HashMap<String, Vec<f64>> = HashMap::new();
    for record in control.recorded() {
        if record.request.resource != Resource::Messages {
            continue;
        }
        let Some(id) = record
            .request
            .header_value(SESSION_KEY)
            .and_then(|key| key.split('!').next())
        else {
            continue;
        };
        polls
            .entry(id.to_owned())
            .or_default()
            .push(record.at.as_millis() as f64);
    }
    println!(
        "gateway stages (simulator clock, ±1 ms): said → next poll (driver) | next poll → custom/send (bridge)"
    );
    for f in figures {
        let (mut driver, mut bridge) = (Vec::new(), Vec::new());
        for range in &f.ids {
            for (n, i) in range.clone().enumerate() {
                let said = marks.said[i].load(Ordering::Relaxed) as f64 / 1e6 - offset_ms;
                let received = marks.received[i].load(Ordering::Relaxed) as f64 / 1e6 - offset_ms;
                if received <= 0.0 {
                    continue;
                }
                let Some(next) = polls
                    .get(&chats[n % chats.len()].session_id)
                    .and_then(|at| at.iter().find(|&&t| t >= said.floor()))
                else {
                    continue;
                };
                driver.push(next - said);
                bridge.push(received - next);
            }
        }
        driver.sort_by(f64::total_cmp);
        bridge.sort_by(f64::total_cmp);
        let q = |v: &[f64], q: f64| {
            v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "{:>6}/s: driver p50 {:.1} ms p99 {:.1} ms | bridge p50 {:.1} ms p99 {:.1} ms",
            f.rate,
            q(&driver, 0.5),
            q(&driver, 0.99),
            q(&bridge, 0.5),
            q(&bridge, 0.99)
        );
    }
}

/// A warm-up round, then `rounds` rounds at each rate; one line of figures per rate.
#[allow(clippy::too_many_arguments)]
fn run_rates(
    name: &str,
    args: &Args,
    rounds: usize,
    chats: &[Chat],
    control: &AgentControl,
    marks: &Marks,
    reopen: &Reopen<'_>,
    out: &mut Vec<Figures>,
    rows: &mut Vec<String>,
) {
    let warm_up = args.rates.first().copied().unwrap_or(100);
    let _ = round(chats, control, marks, reopen, args.per_round, warm_up, 0);
    let mut number = 1;
    for &rate in &args.rates {
        let mut latencies = Vec::new();
        let mut measured = Vec::new();
        let (mut lost, mut busy, mut lines, mut cpu) = (0, Duration::ZERO, 0, Duration::ZERO);
        for _ in 0..rounds {
            let (ids, took, used) =
                round(chats, control, marks, reopen, args.per_round, rate, number);
            cpu += used;
            if args.dump.is_some() {
                marks.rows(name, rate, number, chats.len(), ids.clone(), rows);
            }
            number += 1;
            lines += ids.len();
            busy += took;
            measured.push(ids.clone());
            let (l, missing) = marks.latencies(ids);
            latencies.extend(l);
            lost += missing;
        }
        latencies.sort_by(f64::total_cmp);
        let offered = lines as f64 / busy.as_secs_f64().max(1e-9);
        let mut f = figures(measured, rate, offered, &latencies, lost);
        f.cpu_per_line_us = cpu.as_secs_f64() * 1e6 / lines.max(1) as f64;
        print_figures(name, &f);
        out.push(f);
    }
}

/// One round: the window reopened, then `per_chat` lines for every chat at `rate` lines/s
/// in total (round-robin over the chats), then a wait for them to arrive. Returns the line
/// ids and how long saying them took.
fn round(
    chats: &[Chat],
    control: &AgentControl,
    marks: &Marks,
    reopen: &Reopen<'_>,
    per_chat: usize,
    rate: u64,
    number: usize,
) -> (std::ops::Range<usize>, Duration, Duration) {
    match reopen {
        Reopen::Simulator(wechat) => {
            let handle = wechat.handle();
            for chat in chats {
                handle.user_messaged(chat.user.openid());
            }
        }
        Reopen::Webhook { url, sim_rt } => {
            let text = format!("round {number}");
            sim_rt.block_on(all_push(chats, url, &text));
            // The user's text has reached the agent: the conversation took it (its budget is
            // fresh) and the chat is quiet again.
            let ids: Vec<&str> = chats.iter().map(|c| c.session_id.as_str()).collect();
            let done = wait(PATIENCE, || {
                ids.iter().all(|id| {
                    control
                        .session(id)
                        .is_some_and(|s| s.visitor_texts.contains(&text))
                })
            });
            assert!(
                done,
                "round {number}: the users' texts never reached the agent"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let ids = marks.ids(chats.len() * per_chat);
    let cpu_before = relaying_cpu();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    for (n, id) in ids.clone().enumerate() {
        let due = started + interval * u32::try_from(n).unwrap_or(u32::MAX);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let chat = &chats[n % chats.len()];
        marks.said[id].store(marks.now(), Ordering::Relaxed);
        control
            .send_text(&chat.session_id, &format!("{TAG}{id}"))
            .expect("the agent speaks");
    }
    let took = started.elapsed();
    let deadline = Instant::now() + ROUND_PATIENCE;
    while marks.arrived(ids.clone()) < ids.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // What the lines caused after their send (the outcome stored) counts too.
    std::thread::sleep(Duration::from_millis(200));
    let cpu = relaying_cpu().saturating_sub(cpu_before);
    (ids, took, cpu)
}

/// CPU time this process spent outside the simulators' runtime and the main thread (which
/// speaks for the agent): the relaying system's threads, sled's and the blocking pool's,
/// exited ones included. Linux only; in clock ticks of 10 ms.
fn relaying_cpu() -> Duration {
    let ticks = |stat: &str| -> Option<(String, u64)> {
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
        let used = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some((comm, used))
    };
    let total = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .map_or(0, |(_, t)| t);
    let pid = std::process::id();
    let mut excluded = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let is_main = task.file_name().to_str() == Some(&pid.to_string());
            if let Ok(stat) = std::fs::read_to_string(task.path().join("stat"))
                && let Some((comm, used)) = ticks(&stat)
                && (is_main || comm.starts_with("sims"))
            {
                excluded += used;
            }
        }
    }
    Duration::from_millis(total.saturating_sub(excluded) * 10)
}

/// Polls `check` every 10 ms until it holds or `patience` passes; whether it held.
fn wait(patience: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every chat's user writes `text` through the webhook at once; each push is sent again until
/// answered 200.
async fn all_push(chats: &[Chat], url: &str, text: &str) {
    let mut pushes = tokio::task::JoinSet::new();
    for chat in chats {
        let (user, url, text) = (chat.user.clone(), url.to_owned(), text.to_owned());
        pushes.spawn(async move { push_text(&user, &url, &text).await });
    }
    while let Some(done) = pushes.join_next().await {
        done.expect("push task");
    }
}

async fn push_text(user: &WeChatUser, url: &str, text: &str) {
    let push = user.text(text);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(answer) = push.send_to(url).await
            && answer.status == 200
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "push {text:?} never accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every user writes once; the agent accepts each chat; returns once every chat is
/// established, polled, and its user has heard that the agent joined.
async fn establish_gateway_chats(
    webhook: &str,
    control: &AgentControl,
    wechat: &WeChatApiSim,
    users: &[Arc<WeChatUser>],
) -> Vec<Chat> {
    let mut pushes = tokio::task::JoinSet::new();
    for user in users {
        let (user, url) = (user.clone(), webhook.to_owned());
        pushes.spawn(async move { push_text(&user, &url, "hello").await });
    }
    while let Some(done) = pushes.join_next().await {
        done.expect("push task");
    }
    let by_openid: HashMap<&str, &Arc<WeChatUser>> =
        users.iter().map(|u| (u.openid(), u)).collect();
    let mut chats = Vec::with_capacity(users.len());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while chats.len() < users.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {} chats reached the agent",
            chats.len(),
            users.len()
        );
        let _ = control.wait_for_waiting_chat(Duration::from_secs(1)).await;
        for waiting in control.waiting() {
            let Some(user) = waiting
                .prechat
                .iter()
                .find(|(label, _)| label.contains("OpenID"))
                .and_then(|(_, openid)| by_openid.get(openid.as_str()))
            else {
                continue;
            };
            control
                .accept(&waiting.session_id, AGENT)
                .expect("the agent accepts");
            chats.push(Chat {
                session_id: waiting.session_id,
                user: (*user).clone(),
            });
        }
    }
    let ready = |chats: &[Chat]| {
        chats.iter().all(|c| {
            control
                .session(&c.session_id)
                .is_some_and(|s| s.polling && matches!(s.phase, Phase::Established { .. }))
                && !wechat.sent_texts(c.user.openid()).is_empty()
        })
    };
    while !ready(&chats) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway's chats never settled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    chats
}

/// The forwarder's chats and their tasks.
struct Forwarder {
    chats: Vec<Chat>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Forwarder {
    fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// Performs one visitor request; status and body.
async fn perform(
    client: &HttpClient,
    base: &str,
    request: &LiveAgentRequest,
) -> Option<(u16, Bytes)> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(format!("{base}{}", request.path_and_query()));
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match &request.body {
        Some(json) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(json.clone()))
        }
        None => Full::new(Bytes::new()),
    };
    let response = client.request(builder.body(body).ok()?).await.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, body))
}

/// Opens one Live Agent chat per user as a bare visitor, has the agent accept each, and
/// starts one forwarding task per chat.
async fn start_forwarder(
    la: &str,
    wechat: &str,
    control: &AgentControl,
    users: &[Arc<WeChatUser>],
) -> Forwarder {
    let client = http_client();
    let knobs = control.knobs();
    let token_url = format!(
        "{wechat}/cgi-bin/token?grant_type=client_credential&appid={APP_ID}&secret={APP_SECRET}"
    );
    let token = {
        let request = http::Request::get(token_url)
            .body(Full::new(Bytes::new()))
            .expect("token request");
        let response = client.request(request).await.expect("token answer");
        let body = response.into_body().collect().await.expect("token body");
        let json: serde_json::Value = serde_json::from_slice(&body.to_bytes()).expect("token JSON");
        json["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    };
    let send_url: Arc<str> =
        format!("{wechat}/cgi-bin/message/custom/send?access_token={token}").into();
    let mut chats = Vec::new();
    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let request =
            LiveAgentRequest::new(Method::Get, Resource::SessionId, API_VERSION).affinity(None);
        let (status, body) = perform(&client, la, &request).await.expect("SessionId");
        assert_eq!(status, 200, "SessionId");
        let session = SessionIdResponse::decode(&String::from_utf8_lossy(&body)).expect("id");
        let init = serde_json::json!({
            "organizationId": knobs.organization_id,
            "deploymentId": knobs.deployment_id,
            "buttonId": knobs.button_id,
            "sessionId": session.id,
            "userAgent": "bench-relay",
            "language": "en-US",
            "screenResolution": "n/a",
            "visitorName": format!("Forwarder {i}"),
            "prechatDetails": [],
            "prechatEntities": [],
            "receiveQueueUpdates": true,
            "isPost": true,
        });
        let request = LiveAgentRequest::new(Method::Post, Resource::ChasitorInit, API_VERSION)
            .session_key(&session.key)
            .affinity(Some(&session.affinity_token))
            .sequence(1)
            .body(init.to_string());
        let (status, _) = perform(&client, la, &request).await.expect("ChasitorInit");
        assert_eq!(status, 200, "ChasitorInit");
        control
            .accept(&session.id, AGENT)
            .expect("the agent accepts");
        let (client, la, send_url) = (client.clone(), la.to_owned(), send_url.clone());
        let openid = user.openid().to_owned();
        let (key, affinity) = (session.key.clone(), session.affinity_token.clone());
        tasks.push(tokio::spawn(async move {
            forward(&client, &la, &send_url, &key, &affinity, &openid).await;
        }));
        chats.push(Chat {
            session_id: session.id,
            user: user.clone(),
        });
    }
    let all_polling = |chats: &[Chat]| {
        chats.iter().all(|c| {
            control
                .session(&c.session_id)
                .is_some_and(|s| s.polling && matches!(s.phase, Phase::Established { .. }))
        })
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !all_polling(&chats) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the forwarder's chats never settled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Forwarder { chats, tasks }
}

/// The forwarder's loop for one chat: poll, and POST each agent line to `custom/send` as it
/// comes, then poll again.
async fn forward(
    client: &HttpClient,
    la: &str,
    send_url: &str,
    key: &str,
    affinity: &str,
    openid: &str,
) {
    let mut ack: i64 = -1;
    loop {
        let request = LiveAgentRequest::new(Method::Get, Resource::Messages, API_VERSION)
            .session_key(key)
            .affinity(Some(affinity))
            .query("ack", ack.to_string());
        match perform(client, la, &request).await {
            Some((200, body)) => {
                let Ok(batch) = MessagesResponse::decode(&String::from_utf8_lossy(&body)) else {
                    continue;
                };
                if let Some(sequence) = batch.sequence {
                    ack = sequence;
                }
                for event in batch.messages {
                    if let Event::ChatMessage(line) = event {
                        let body = serde_json::json!({
                            "touser": openid,
                            "msgtype": "text",
                            "text": { "content": line.text },
                        });
                        let request = http::Request::post(send_url)
                            .header(http::header::CONTENT_TYPE, "application/json")
                            .body(Full::new(Bytes::from(body.to_string())))
                            .expect("send request");
                        if let Ok(response) = client.request(request).await {
                            let _ = response.into_body().collect().await;
                        }
                    }
                }
            }
            Some((204, _)) => {}
            Some(_) | None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A pass-through HTTP proxy in front of the WeChat simulator at `target` that stamps every
/// `custom/send` as soon as its head is read.
async fn stamping_proxy(target: String, marks: Arc<Marks>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = http_client();
    let target: Arc<str> = target.into();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (client, target, marks) = (client.clone(), target.clone(), marks.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (client, target, marks) = (client.clone(), target.clone(), marks.clone());
                    async move {
                        let at = marks.now();
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        if parts.uri.path() == "/cgi-bin/message/custom/send" {
                            marks.record_send(&body, at);
                        }
                        Ok::<_, std::convert::Infallible>(
                            pass_on(&client, &target, parts, body).await,
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Hands a request on to the simulator and its answer back.
async fn pass_on(
    client: &HttpClient,
    target: &str,
    parts: http::request::Parts,
    body: Bytes,
) -> http::Response<Full<Bytes>> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = http::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{target}{path}"));
    if let Some(ct) = parts.headers.get(http::header::CONTENT_TYPE) {
        builder = builder.header(http::header::CONTENT_TYPE, ct);
    }
    let failed = || {
        let mut response = http::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = http::StatusCode::BAD_GATEWAY;
        response
    };
    let Ok(request) = builder.body(Full::new(body)) else {
        return failed();
    };
    let Ok(response) = client.request(request).await else {
        return failed();
    };
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    http::Response::from_parts(parts, Full::new(body))
}

/// The machine's load averages (1, 5, 15 min): this bench shares its cores with whatever else
/// runs, and says so.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
