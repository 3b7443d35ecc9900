//! `switchboard run --config FILE`: the gateway until SIGTERM or SIGINT, then an orderly stop
//! (sessions stay alive in Salesforce and resume on the next start).

use std::path::Path;

use anyhow::Context;
use switchboard_engine::app::{App, EnvSecrets};
use switchboard_engine::config::Config;
use tracing::info;

pub async fn run(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    crate::logging::init(&config.log);
    crate::limits::raise_open_file_limit();
    let app = App::start(&config, &EnvSecrets)
        .await
        .context("starting the gateway")?;
    println!(
        "switchboard: webhooks on http://{}/channels/{{id}}, admin on http://{}",
        app.public_addr(),
        app.admin_addr()
    );
    wait_for_signal().await?;
    info!("stopping");
    app.shutdown().await.context("stopping the gateway")?;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
    }
    Ok(())
}
