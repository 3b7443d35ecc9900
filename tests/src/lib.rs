//! # switchboard-tests
//!
//! End-to-end tests live in `tests/tests/`: they run the engine against the simulators over
//! real loopback HTTP with a real sled database in a temporary directory. This library holds
//! what they share: a rig (simulator + data directory), short session timings, and waiting
//! helpers that poll the engine's durable outbox; and what the benchmarks share ([`bench`]: the
//! simulated account and the gateway configured for it, [`process_cpu`]).
//!
//! | path | holds |
//! |---|---|
//! | `tests/chat_lifecycle.rs`, `failover.rs`, `restart.rs` | the engine alone against the Live Agent simulator |
//! | `tests/faults.rs` (with `tests/support/proxy.rs`) | the whole gateway in-process under desk and WeChat faults |
//! | `tests/ending_while_queued.rs` | a user who ends before an agent joins |
//! | `tests/browser_demo.rs` | `switchboard demo`'s pages in headless Chromium, on both desks |
//! | `tests/shard_gate.rs` | a chat's driver sends nothing once its shard's gate closes |
//! | `src/bin/bench_*.rs` | the benchmarks (README, Performance): sessions, ingest, relay, restart |
//! | `src/bin/engine_child.rs`, `la_sim.rs` | a killable engine process and a standalone Live Agent simulator |

/// The shipped binary's allocator, for every test and benchmark that runs the engine in
/// this crate's processes (see `engine/src/bin/switchboard/main.rs`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::time::Duration;

use switchboard_core::model::server::Knobs;
use switchboard_core::session::{ChatRequest, SessionConfig, SessionEvent};
use switchboard_engine::store::OutboxEvent;
use switchboard_engine::{ChatId, Endpoint, Engine, EngineConfig, OutboxEntry};
use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};

/// How long any single wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A Live Agent simulator and a data directory for one test.
#[derive(Debug)]
pub struct Rig {
    /// The simulator, strict settings, 500 ms long-poll holds.
    pub sim: LiveAgentSim,
    /// The engine's sled directory.
    pub dir: tempfile::TempDir,
}

impl Rig {
    /// Starts the simulator on an ephemeral loopback port.
    pub async fn start() -> Rig {
        Self::start_with(Knobs::default()).await
    }

    /// Starts the simulator with these knobs.
    pub async fn start_with(knobs: Knobs) -> Rig {
        let sim = LiveAgentSim::start(SimConfig {
            knobs,
            hold: Duration::from_millis(500),
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        Rig {
            sim,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Engine settings pointing at this rig.
    pub fn engine_config(&self) -> EngineConfig {
        engine_config(
            &self.sim.base_url(),
            self.dir.path(),
            self.sim.control().knobs(),
        )
    }

    /// Opens an engine on this rig's store.
    pub async fn engine(&self) -> Engine {
        Engine::open(self.engine_config())
            .await
            .expect("engine opens")
    }
}

/// Engine settings for a simulator at `url` and a store in `dir`, with short retry timings.
pub fn engine_config(url: &str, dir: &std::path::Path, knobs: Knobs) -> EngineConfig {
    EngineConfig {
        data_dir: dir.to_path_buf(),
        live_agent: Some(Endpoint::parse(url).expect("simulator url")),
        session: SessionConfig {
            organization_id: knobs.organization_id,
            deployment_id: knobs.deployment_id,
            button_id: knobs.button_id,
            retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_millis(800),
            request_timeout: Duration::from_secs(5),
            ..SessionConfig::default()
        },
        enhanced: None,
    }
}

/// A visitor asking for a chat.
pub fn visitor(name: &str) -> ChatRequest {
    ChatRequest {
        visitor_name: name.to_owned(),
        ..ChatRequest::default()
    }
}

/// The Live Agent session events among outbox entries, in order.
pub fn live_agent_events(entries: Vec<OutboxEntry>) -> Vec<SessionEvent> {
    entries
        .into_iter()
        .filter_map(|e| match e.event {
            OutboxEvent::LiveAgent(event) => Some(event),
            OutboxEvent::Desk(_) => None,
        })
        .collect()
}

/// Waits until the chat's outbox holds events satisfying `done`; returns them all.
pub async fn wait_for_events(
    engine: &Engine,
    chat: &ChatId,
    done: impl Fn(&[SessionEvent]) -> bool,
) -> Vec<SessionEvent> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let events = live_agent_events(engine.outbox(chat).expect("outbox readable"));
        if done(&events) {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for events; have {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The agent texts among `events`, in order.
pub fn agent_texts(events: &[SessionEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::AgentText { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `events` include the agent joining.
pub fn agent_joined(events: &[SessionEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, SessionEvent::AgentJoined(_)))
}

/// The end event, if any.
pub fn ended(events: &[SessionEvent]) -> Option<&SessionEvent> {
    events
        .iter()
        .find(|e| matches!(e, SessionEvent::Ended { .. }))
}

/// CPU time (user and system) process `pid` has used so far, exited threads included; Linux
/// only, in clock ticks of 10 ms.
pub fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .expect("read /proc/PID/stat (is the process out of file descriptors?)");
    let ticks = || {
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    };
    Duration::from_millis(ticks().expect("/proc/PID/stat has utime and stime") * 10)
}

/// What the benchmark binaries share: one WeChat account and the gateway configured for it.
pub mod bench {
    use std::io::{BufRead, BufReader, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

    use switchboard_core::model::server::Knobs;
    use switchboard_engine::simulated::{self, Simulated};

    /// The benchmarks' Official Account.
    pub const APP_ID: &str = "wx5823bf96d3bd56c7";
    /// Its AppSecret.
    pub const APP_SECRET: &str = "bench-secret";
    /// Its webhook Token.
    pub const TOKEN: &str = "benchtoken";
    /// Its EncodingAESKey.
    pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    /// The gateway on sled in `data_dir`, safe-mode pushes for [`APP_ID`], Live Agent at
    /// `live_agent_url` (with `knobs`' ids), the WeChat API at `wechat_api_url`.
    pub fn gateway(
        live_agent_url: &str,
        knobs: &Knobs,
        wechat_api_url: String,
        data_dir: &Path,
        merge_window_ms: u64,
    ) -> Simulated {
        Simulated {
            live_agent_url: live_agent_url.to_owned(),
            organization_id: knobs.organization_id.clone(),
            deployment_id: knobs.deployment_id.clone(),
            button_id: knobs.button_id.clone(),
            wechat_api_url,
            app_id: APP_ID.into(),
            encrypted: true,
            data_dir: data_dir.to_path_buf(),
            language: "en".into(),
            merge_window_ms,
            enhanced_chat: None,
            telegram_api_url: None,
            postgres: false,
            shared: None,
        }
    }

    /// The secrets that go with [`gateway`].
    pub fn secrets() -> std::collections::BTreeMap<String, String> {
        simulated::secrets("bench-admin", APP_SECRET, TOKEN, AES_KEY)
    }

    /// The path of binary `name` beside the running one (the benchmarks' sibling processes).
    pub fn sibling(name: &str) -> PathBuf {
        let me = std::env::current_exe().expect("own path");
        me.with_file_name(name)
    }

    /// The `la-sim` process and its command lines (see `la_sim.rs`).
    #[derive(Debug)]
    pub struct LaSim {
        child: Child,
        commands: ChildStdin,
        answers: BufReader<ChildStdout>,
        /// Its base URL.
        pub url: String,
    }

    impl LaSim {
        /// Starts `la-sim` with `args` and reads the URL it prints first.
        pub fn start(args: &[&str]) -> LaSim {
            let mut child = Command::new(sibling("la-sim"))
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect(
                    "la-sim starts (build it: cargo build --release -p switchboard-tests --bins)",
                );
            let commands = child.stdin.take().expect("stdin");
            let mut answers = BufReader::new(child.stdout.take().expect("stdout"));
            let mut url = String::new();
            answers
                .read_line(&mut url)
                .expect("the simulator prints its URL");
            LaSim {
                child,
                commands,
                answers,
                url: url.trim().to_owned(),
            }
        }

        /// Its process id.
        pub fn pid(&self) -> u32 {
            self.child.id()
        }

        /// Sends one command; its answer's words after the first.
        pub fn ask(&mut self, command: &str) -> Vec<String> {
            writeln!(self.commands, "{command}").expect("command sent");
            self.commands.flush().expect("command sent");
            let mut line = String::new();
            self.answers.read_line(&mut line).expect("answer read");
            line.split_whitespace().skip(1).map(str::to_owned).collect()
        }

        /// `(sessions, established, polling, waiting)`.
        pub fn status(&mut self) -> (usize, usize, usize, usize) {
            let words = self.ask("status");
            let n = |i: usize| words.get(i).and_then(|w| w.parse().ok()).unwrap_or(0);
            (n(0), n(2), n(4), n(6))
        }

        pub fn stop(mut self) {
            drop(self.commands);
            let _ = self.child.wait();
        }
    }
}
