//! Benchmark: webhook ingest. Encrypted (safe-mode) WeChat text pushes with unique MsgIds from
//! many users go through the gateway's public listener — verify, decrypt, parse, dedupe,
//! durable persist, reply — and, as the baseline in the same run, to a bare hyper server that
//! reads the body and answers `success`. The same in-repo load generator (one HTTP/1.1
//! keep-alive connection per worker, requests back to back) drives both with the same number
//! of connections. Reports requests/s, p50 and p99 latency, and the gateway's ratio to the
//! baseline.
//!
//! By default every user's chat is established first (one push each, the agent accepts them
//! all), so each measured push also goes on to the Live Agent simulator as a `ChatMessage`;
//! after the run the bench waits for the simulator to have every accepted push and reports
//! how many arrived, how many twice, and how long the gateway took to drain. `--queued` leaves
//! the chats waiting for an agent instead (the gateway keeps the texts; nothing goes out).
//!
//! `cargo run --release -p switchboard-tests --bin bench-ingest -- [--connections 32]
//! [--seconds 10] [--users 1000] [--queued]` (the Live Agent simulator runs as its own process,
//! `la-sim`, built by the same command).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use switchboard_core::model::server::Knobs;
use switchboard_engine::app::App;
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::{AccountSettings, PushMode, WeChatApiSim, WeChatUser};
use switchboard_tests::bench::{self, AES_KEY, APP_ID, APP_SECRET, LaSim, TOKEN};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let connections = flag("--connections", 32);
    let seconds = flag("--seconds", 10) as u64;
    let users = flag("--users", 1_000);
    let queued = args.iter().any(|a| a == "--queued");
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut la = LaSim::start(&["--hold-ms", "30000"]);
    let la_url = la.url.clone();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let chats = if queued { "waiting for an agent" } else { "established" };
        println!(
            "ingest: {connections} connections, {seconds} s per run, {users} users (chats {chats}), safe-mode text pushes"
        );
        let bare = bare_server().await;
        let pushes = Arc::new(vec![Request::POST_SUCCESS; 1]);
        let baseline = load(bare, "/", pushes, connections, seconds).await;
        report("bare hyper", &baseline, None);

        let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
            .await
            .expect("WeChat simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let knobs = Knobs::default();
        let config = bench::gateway(&la_url, &knobs, wechat.base_url(), dir.path(), 200)
            .config()
            .expect("configuration");
        let secrets = bench::secrets();
        let app = App::start(&config, &secrets).await.expect("gateway starts");
        // Enough distinct pushes that none repeats within the run, after one per user to open
        // the chats.
        let expected = (baseline.per_sec as usize / 4).max(5_000) * seconds as usize;
        let mut first = make_pushes(&wechat, users, users + expected.min(400_000));
        let pushes = Arc::new(first.split_off(users));
        let opened = load_all(app.public_addr(), first, connections).await;
        assert_eq!(opened, users, "every user's first push is accepted");
        open_chats(&mut la, users, !queued);
        let gateway = load(
            app.public_addr(),
            "/channels/wechat",
            pushes.clone(),
            connections,
            seconds,
        )
        .await;
        report("gateway", &gateway, Some(&baseline));
        if gateway.completed >= pushes.len() {
            println!("(every prepared push was sent: raise the count for a longer run)");
        }
        if !queued {
            drained(&mut la, users + gateway.completed - gateway.errors);
        }
        let _ = app.shutdown().await;
    });
    drop(runtime);
    la.stop();
}

/// Waits until every user's chat is at the simulator (waiting for an agent); with `accept`,
/// has the agent accept them all and waits until each is established and polled.
fn open_chats(la: &mut LaSim, users: usize, accept: bool) {
    let started = Instant::now();
    let patience = Duration::from_secs(120);
    while la.status().3 < users {
        assert!(
            started.elapsed() < patience,
            "the chats never all reached the desk"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    if !accept {
        return;
    }
    la.ask("accept");
    loop {
        let (_, established, polling, _) = la.status();
        if established == users && polling == users {
            break;
        }
        assert!(
            started.elapsed() < patience,
            "the chats never all established"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The agent's join reaches each conversation with the poll's answer.
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "   set-up: {users} chats established in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Waits (up to 60 s) for the simulator to hold `expected` visitor texts; reports what came.
fn drained(la: &mut LaSim, expected: usize) {
    let started = Instant::now();
    let (total, distinct) = loop {
        let words = la.ask("texts");
        let n = |i: usize| words.get(i).and_then(|w| w.parse().ok()).unwrap_or(0usize);
        let (total, distinct) = (n(0), n(1));
        if total >= expected || started.elapsed() > Duration::from_secs(60) {
            break (total, distinct);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "     desk: {distinct} of {expected} accepted texts arrived, {} twice; drained {:.2} s after the run",
        total - distinct,
        started.elapsed().as_secs_f64()
    );
}

/// One prepared request: query string and body.
#[derive(Clone)]
struct Request {
    query: String,
    body: Bytes,
}

impl Request {
    const POST_SUCCESS: Request = Request {
        query: String::new(),
        body: Bytes::from_static(b"<xml><ToUserName>gh</ToUserName></xml>"),
    };
}

fn make_pushes(wechat: &WeChatApiSim, users: usize, count: usize) -> Vec<Request> {
    let settings = AccountSettings {
        account: "gh_bench".into(),
        app_id: APP_ID.into(),
        token: TOKEN.into(),
        encoding_aes_key: AES_KEY.into(),
        mode: PushMode::Safe,
    };
    let people: Vec<WeChatUser> = (0..users)
        .map(|i| {
            WeChatUser::new(
                settings.clone(),
                format!("oBench{i:05}"),
                Some(wechat.handle()),
            )
            .with_first_msg_id(10_000_000 * (i as u64 + 1))
        })
        .collect();
    (0..count)
        .map(|n| {
            let push = people[n % users].text(&format!("message {n}"));
            Request {
                query: push.query,
                body: push.body,
            }
        })
        .collect()
}

/// Sends each of `requests` once over `connections` keep-alive connections; how many got 200.
async fn load_all(addr: SocketAddr, requests: Vec<Request>, connections: usize) -> usize {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (next, requests) = (next.clone(), requests.clone());
        workers.spawn(async move {
            let mut sender = connect(addr).await;
            let mut ok = 0;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(prepared) = requests.get(n) else {
                    return ok;
                };
                if let Ok(response) = sender
                    .send_request(post("/channels/wechat", prepared))
                    .await
                {
                    ok += usize::from(response.status() == 200);
                    let _ = response.into_body().collect().await;
                }
            }
        });
    }
    workers.join_all().await.into_iter().sum()
}

/// One keep-alive connection to `addr`.
async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// The webhook request for `prepared` at `path`.
fn post(path: &str, prepared: &Request) -> http::Request<Full<Bytes>> {
    let uri = if prepared.query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", prepared.query)
    };
    http::Request::post(uri)
        .header("host", "bench")
        .header("content-type", "text/xml")
        .body(Full::new(prepared.body.clone()))
        .expect("request")
}

struct Outcome {
    completed: usize,
    errors: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Drives `connections` keep-alive connections to `addr` for `seconds`, each sending the next
/// prepared request (round-robin over `requests`) as soon as the previous one is answered.
async fn load(
    addr: SocketAddr,
    path: &str,
    requests: Arc<Vec<Request>>,
    connections: usize,
    seconds: u64,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (next, requests, path) = (next.clone(), requests.clone(), path.to_owned());
        workers.spawn(async move {
            let mut sender = connect(addr).await;
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let request = post(&path, &requests[n % requests.len()]);
                let sent = Instant::now();
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status() == 200;
                        let _ = response.into_body().collect().await;
                        latencies.push(sent.elapsed());
                        errors += usize::from(!ok);
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while let Some(done) = workers.join_next().await {
        let (l, e) = done.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    Outcome {
        completed: latencies.len(),
        errors,
        per_sec: latencies.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn report(name: &str, outcome: &Outcome, baseline: Option<&Outcome>) {
    let ratio = baseline.map_or(String::new(), |b| {
        format!("  {:.3}× the bare server", outcome.per_sec / b.per_sec)
    });
    println!(
        "{name:>10}: {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {} non-200{ratio}",
        outcome.per_sec, outcome.p50_ms, outcome.p99_ms, outcome.errors
    );
}

/// A hyper server that reads the body and answers `success`.
async fn bare_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|request: http::Request<hyper::body::Incoming>| async {
                    let _ = request.into_body().collect().await;
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(b"success"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
