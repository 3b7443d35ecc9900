//! A process that runs the engine for the crash test: `engine-child DATA_DIR SIM_URL CHAT
//! [start]`. With `start` it requests a chat unless one is live. It exits cleanly (engine
//! shutdown) when its standard input closes, and otherwise runs until it is killed.

use std::io::Read;
use std::time::Duration;

use switchboard_core::model::server::Knobs;
use switchboard_engine::{ChatId, Engine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, url, chat, rest @ ..] = args.as_slice() else {
        eprintln!("usage: engine-child DATA_DIR SIM_URL CHAT [start]");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = switchboard_tests::engine_config(url, std::path::Path::new(dir), Knobs::default());
    let chat = ChatId(chat.clone());
    runtime.block_on(async {
        let engine = match Engine::open(config).await {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!("engine-child: {e}");
                std::process::exit(3);
            }
        };
        if rest.first().map(String::as_str) == Some("start") && engine.state(&chat).is_none() {
            engine
                .start_chat(chat.clone(), switchboard_tests::visitor("Crash Test"))
                .await
                .expect("chat starts");
        }
        println!("ready");
        let (closed_tx, closed) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            let _ = closed_tx.send(());
        });
        let _ = closed.await;
        let _ = tokio::time::timeout(Duration::from_secs(10), engine.shutdown()).await;
    });
}
