//! `switchboard sessions list|show|end` against the admin API. With several instances on one
//! database, `list` names the instance it asked, and `show` names the instance that holds the
//! conversation's shard (from `/admin/shards`), whichever instance it asked.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

async fn call(method: &str, url: String, token: &str) -> anyhow::Result<serde_json::Value> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::builder()
        .method(method)
        .uri(&url)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .context("building the request")?;
    let response = client
        .request(request)
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading the answer")?
        .to_bytes();
    if !status.is_success() {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        );
    }
    serde_json::from_slice(&body).context("the admin API did not answer JSON")
}

pub async fn list(admin: &str, token: &str) -> anyhow::Result<()> {
    let sessions = call("GET", format!("{admin}/admin/sessions"), token).await?;
    let conversations = call("GET", format!("{admin}/admin/conversations"), token).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "instance": sessions["instance"],
            "sessions": sessions["sessions"], "conversations": conversations["conversations"],
        }))?
    );
    Ok(())
}

pub async fn show(admin: &str, token: &str, id: &str) -> anyhow::Result<()> {
    let shard = switchboard_core::cluster::shard_of(id);
    // Several instances: the lease rows say who serves it (any instance can tell).
    let owner = match call("GET", format!("{admin}/admin/shards"), token).await {
        Ok(shards) => shards["shards"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["shard"] == shard))
            .map(|s| s["owner"].clone()),
        Err(_) => None,
    };
    let conversations = call("GET", format!("{admin}/admin/conversations"), token).await?;
    let found = conversations["conversations"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == id))
        .cloned();
    let shown = match (found, owner) {
        (Some(mut found), owner) => {
            if let Some(owner) = owner {
                found["shard"] = shard.into();
                found["instance"] = owner;
            }
            found
        }
        (None, Some(owner)) => serde_json::json!({
            "id": id, "shard": shard, "instance": owner,
            "note": "served by another instance: ask its admin API for the details",
        }),
        (None, None) => bail!("no conversation {id}"),
    };
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

pub async fn end(admin: &str, token: &str, id: &str) -> anyhow::Result<()> {
    let encoded: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let answer = call(
        "POST",
        format!("{admin}/admin/conversations/{encoded}/end"),
        token,
    )
    .await?;
    println!("{answer}");
    Ok(())
}
