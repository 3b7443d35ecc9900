//! `switchboard demo [--desk live-agent|enhanced-chat]`: the gateway plus the simulators on
//! localhost, with embedded defaults and two channels, a WeChat Official Account and a Telegram
//! bot. Prints the agent console's URL and one phone page per channel; stops on Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use switchboard_engine::app::App;
use switchboard_engine::simulated::{self, Simulated};
use switchboard_sim::enhanced::{EnhancedChatSim, EnhancedSimConfig};
use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};
use switchboard_sim::telegram::{BotSimConfig, TelegramBotSim};
use switchboard_sim::wechat::api::WeChatApiSim;
use switchboard_sim::wechat::phone::PhoneConfig;
use switchboard_sim::wechat::state::ApiConfig;
use switchboard_sim::wechat::user::{AccountSettings, PushMode};

const APP_ID: &str = "wxd0000000000demo";
const APP_SECRET: &str = "demo-app-secret";
const TOKEN: &str = "demotoken";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const ADMIN_TOKEN: &str = "demo-admin-token";
const DEMO_USER: &str = "oDemoUser0000000000000000001";
const BOT_TOKEN: &str = "7000000000:AAE-switchboard-demo-bot-token_01234";
const BOT_SECRET: &str = "demo-webhook-secret";
const DEMO_CHAT: i64 = 5_000_000_001;

/// Which desk the demo simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoDesk {
    /// Legacy Chat, with the agent console page.
    LiveAgent,
    /// Enhanced Chat, with the same agent console (and its `/__sim/` JSON).
    EnhancedChat,
}

pub async fn demo(data_dir: Option<PathBuf>, desk: DemoDesk) -> anyhow::Result<()> {
    let data_dir = data_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()))
    });
    let live_agent = LiveAgentSim::start(SimConfig::with_hold(Duration::from_secs(20)))
        .await
        .context("starting the Live Agent simulator")?;
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .context("starting the WeChat simulator")?;
    let telegram = TelegramBotSim::start(BotSimConfig::new(BOT_TOKEN))
        .await
        .context("starting the Telegram simulator")?;
    let enhanced = match desk {
        DemoDesk::LiveAgent => None,
        DemoDesk::EnhancedChat => Some(
            EnhancedChatSim::start(EnhancedSimConfig::default())
                .await
                .context("starting the Enhanced Chat simulator")?,
        ),
    };
    let mut simulated = Simulated {
        merge_window_ms: 800,
        ..Simulated::new(&live_agent, &wechat, APP_ID, data_dir.clone())
            .with_telegram(telegram.base_url())
    };
    if let Some(sim) = &enhanced {
        simulated = simulated.on_enhanced_chat(sim);
    }
    let config = simulated.config()?;
    crate::logging::init(&config.log);
    crate::limits::raise_open_file_limit();
    let mut secrets = simulated::secrets(ADMIN_TOKEN, APP_SECRET, TOKEN, AES_KEY);
    secrets.extend(simulated::telegram_secrets(BOT_TOKEN, BOT_SECRET));
    let app = App::start(&config, &secrets)
        .await
        .context("starting the gateway")?;
    wechat.set_phone(PhoneConfig::new(
        format!("http://{}/channels/wechat", app.public_addr()),
        AccountSettings {
            account: "gh_switchboard_demo".into(),
            app_id: APP_ID.into(),
            token: TOKEN.into(),
            encoding_aes_key: AES_KEY.into(),
            mode: PushMode::Safe,
        },
    ));
    // What `setWebhook` with the secret does at Telegram.
    telegram.set_webhook(
        &format!("http://{}/channels/telegram", app.public_addr()),
        Some(BOT_SECRET),
    );
    println!("Switchboard demo is running (Ctrl-C to stop).");
    match &enhanced {
        None => println!(
            "  Agent console (Salesforce side): {}/console",
            live_agent.base_url()
        ),
        Some(sim) => {
            let base = sim.base_url();
            println!("  Agent console (Salesforce side): {base}/console");
            println!("  Enhanced Chat agent side (JSON): {base}/__sim/conversations");
            println!(
                "    accept: curl -X POST {base}/__sim/conversations/ID/accept -d '{{\"agent\":\"Andy\"}}'"
            );
            println!(
                "    reply:  curl -X POST {base}/__sim/conversations/ID/text -d '{{\"text\":\"Hello\"}}'"
            );
            println!("    end:    curl -X POST {base}/__sim/conversations/ID/end");
        }
    }
    println!(
        "  WeChat phone (customer side):    {}",
        wechat.phone_url(DEMO_USER)
    );
    println!(
        "  Telegram chat (customer side):   {}",
        telegram.phone_url(DEMO_CHAT)
    );
    println!(
        "  Admin API:                       http://{} (Bearer {ADMIN_TOKEN})",
        app.admin_addr()
    );
    println!("  Data:                            {}", data_dir.display());
    crate::run::wait_for_signal().await?;
    app.shutdown().await.context("stopping the gateway")?;
    live_agent.shutdown().await;
    Ok(())
}
