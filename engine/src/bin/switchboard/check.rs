//! `switchboard check --config FILE`: validate the file, resolve its secrets, and reach the
//! agent desk: Live Agent's Availability of the configured button, Enhanced Chat's token
//! endpoint (an anonymous token for the deployment).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use switchboard_core::enhanced::chat::{Input, RequestId};
use switchboard_core::enhanced::wire::{EnhancedRequest, TokenAnswer};
use switchboard_core::liveagent::responses::decode_availability;
use switchboard_core::liveagent::{LiveAgentRequest, Method, Resource};
use switchboard_engine::app::EnvSecrets;
use switchboard_engine::config::{Config, secret_from_env};
use switchboard_engine::{EnhancedClient, EnhancedSettings, LiveAgentClient};

pub async fn check(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    println!("ok   {} parses and validates", path.display());
    let mut problems = 0;
    for (i, section) in config.channels.iter().enumerate() {
        let field = format!("channels[{i}]");
        for (name, var) in section.factory(&field)?.secrets(section, &field) {
            match secret_from_env(&name, &var) {
                Ok(_) => println!("ok   {name}: {var} is set"),
                Err(e) => {
                    problems += 1;
                    println!("FAIL {e}");
                }
            }
        }
    }
    match secret_from_env("admin.token_env", &config.admin.token_env) {
        Ok(_) => println!("ok   admin.token_env: {} is set", config.admin.token_env),
        Err(e) => {
            problems += 1;
            println!("FAIL {e}");
        }
    }
    if let (Some(endpoint), Some(la)) = (config.endpoint()?, &config.live_agent) {
        let client = LiveAgentClient::new(endpoint);
        let request = LiveAgentRequest::new(Method::Get, Resource::Availability, la.api_version)
            .query("org_id", la.organization_id.clone())
            .query("deployment_id", la.deployment_id.clone())
            .query("Availability.ids", format!("[{}]", la.button_id));
        match client.perform(&request, Duration::from_secs(10)).await {
            Ok((200, body)) => {
                let availability =
                    decode_availability(&body).context("reading the Availability answer")?;
                let available = availability
                    .results
                    .iter()
                    .any(|r| r.id == la.button_id && r.is_available);
                println!(
                    "ok   Live Agent reachable at {}; button {} {}",
                    client.endpoint().base(),
                    la.button_id,
                    if available {
                        "has agents available"
                    } else {
                        "has no agent available right now"
                    }
                );
            }
            Ok((status, body)) => {
                problems += 1;
                println!(
                    "FAIL Live Agent answered {status}: {}",
                    body.chars().take(200).collect::<String>()
                );
            }
            Err(failure) => {
                problems += 1;
                println!(
                    "FAIL Live Agent unreachable at {}: {failure:?}",
                    client.endpoint().base()
                );
            }
        }
    }
    if let Some(settings) = switchboard_engine::app::enhanced_settings(&config, &EnvSecrets)? {
        problems += check_enhanced(&settings).await;
    }
    anyhow::ensure!(problems == 0, "{problems} problem(s) found");
    Ok(())
}

/// Asks the deployment for an anonymous token: the URL, org id and deployment name are right
/// when one comes back. The number of problems found.
async fn check_enhanced(settings: &EnhancedSettings) -> usize {
    let client = EnhancedClient::new(settings.url.clone(), settings.chat.deployment.clone(), None);
    let request = EnhancedRequest::UnauthenticatedToken;
    let answer = client
        .perform(RequestId(0), &request, None, Duration::from_secs(10))
        .await;
    let base = settings.url.base();
    match answer {
        Input::Response {
            status: 200, body, ..
        } if TokenAnswer::parse(&body).is_ok() => {
            println!(
                "ok   Enhanced Chat reachable at {base}; deployment {} issues tokens",
                settings.chat.deployment.es_developer_name
            );
            0
        }
        Input::Response { status, body, .. } => {
            println!(
                "FAIL Enhanced Chat answered {status}: {}",
                body.chars().take(200).collect::<String>()
            );
            1
        }
        _ => {
            println!("FAIL Enhanced Chat unreachable at {base}");
            1
        }
    }
}
