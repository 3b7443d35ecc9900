//! The `switchboard` command line: `run`, `demo`, `check` and `sessions`. See README.md.

use std::path::PathBuf;

/// jemalloc, not glibc's malloc: with the runtime's, sled's and the blocking pool's threads
/// allocating at once, glibc's arena locks put the gateway's threads to sleep (see README,
/// Performance).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod check;
mod demo;
mod limits;
mod logging;
mod run;
mod sessions;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// WeChat ⇄ Salesforce Live Agent gateway.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway with a configuration file.
    Run {
        /// The TOML configuration (see docs/config.md).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run everything on this machine: the gateway, a Live Agent simulator with an agent
    /// console, and a WeChat simulator with a phone page. Prints the two page URLs.
    Demo {
        /// Directory for the demo's data (default: a fresh temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The agent desk to simulate: `live-agent` or `enhanced-chat` (each with the agent
        /// console page).
        #[arg(long, default_value = "live-agent")]
        desk: demo::DemoDesk,
    },
    /// Validate a configuration file, resolve its secrets and try its endpoints.
    Check {
        /// The TOML configuration.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Inspect or end chats through a running gateway's admin API.
    Sessions {
        /// Admin API base URL.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        admin: String,
        /// Environment variable holding the admin bearer token.
        #[arg(long, default_value = "SWITCHBOARD_ADMIN_TOKEN")]
        token_env: String,
        #[command(subcommand)]
        action: SessionsAction,
    },
}

#[derive(Debug, Subcommand)]
enum SessionsAction {
    /// List live sessions and conversations.
    List,
    /// Show one conversation (`channel:user`).
    Show {
        /// Conversation id.
        id: String,
    },
    /// End one conversation's live chat.
    End {
        /// Conversation id.
        id: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run { config } => run::run(&config).await,
            Command::Demo { data_dir, desk } => demo::demo(data_dir, desk).await,
            Command::Check { config } => check::check(&config).await,
            Command::Sessions {
                admin,
                token_env,
                action,
            } => {
                let token = std::env::var(&token_env).with_context(|| {
                    format!("environment variable {token_env} (the admin token) is not set")
                })?;
                match action {
                    SessionsAction::List => sessions::list(&admin, &token).await,
                    SessionsAction::Show { id } => sessions::show(&admin, &token, &id).await,
                    SessionsAction::End { id } => sessions::end(&admin, &token, &id).await,
                }
            }
        }
    })
}
