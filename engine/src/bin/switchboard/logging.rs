//! Structured logs on standard error: text or JSON lines, filtered by the configured level
//! (`RUST_LOG` wins). Colour only when standard error is a terminal, and never in JSON, so a
//! log file or a collector gets plain lines. Standard output carries only the start-up line.

use std::io::IsTerminal;

use switchboard_engine::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once.
pub fn init(config: &LogConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let _ = match config.format {
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
