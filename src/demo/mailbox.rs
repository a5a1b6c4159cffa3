//! The demo tenant's Gmail mailbox, connected to the fake Google by `serve --sandbox`.
//!
//! A real mailbox is connected through Google's consent screen
//! (`ingress/src/admin/gmail_connect.rs`); a sandbox run has no browser to send there, so it
//! takes tokens straight from the fake and then stores the connection exactly as the consent
//! callback does: the access and refresh tokens sealed into the `email` channel config, the
//! address as its routing key, and the mailbox's cursor at the fake's current history id with
//! a watch lapsing in seven days.
//!
//! The fake keeps its mailboxes in memory, so each start finds it empty: every start grants
//! afresh and connects again, which replaces the tokens and moves the cursor back to the new
//! mailbox's history id. Connecting twice is therefore harmless.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::json;
use sqlx::PgPool;
use switchyard_shared::db::mailboxes::{self, Connected, Mailbox};
use switchyard_shared::db::{TenantTx, channel_configs};
use switchyard_shared::domain::{Channel, TenantId};
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::tenancy::channel_secrets_context;

use super::DEMO_MAILBOX;
use crate::sandbox::google::{ACCESS_TOKEN_SECS, FakeGoogle};

/// How long a Gmail watch lasts.
const WATCH_DAYS: i64 = 7;

/// Connect [`DEMO_MAILBOX`] of `google` to `tenant`; the stored connection.
pub async fn connect_demo_mailbox(
    pool: &PgPool,
    secrets_box: &SecretBox,
    tenant: TenantId,
    google: &FakeGoogle,
) -> anyhow::Result<Mailbox> {
    connect_mailbox(pool, secrets_box, tenant, google, DEMO_MAILBOX).await
}

/// Connect mailbox `address` of `google` to `tenant`; the stored connection.
pub async fn connect_mailbox(
    pool: &PgPool,
    secrets_box: &SecretBox,
    tenant: TenantId,
    google: &FakeGoogle,
    address: &str,
) -> anyhow::Result<Mailbox> {
    let grant = google.grant(address);
    let history_id = google
        .history_id(address)
        .with_context(|| format!("the fake Google has no mailbox {address} after granting it"))?;
    let history_id = i64::try_from(history_id).context("the mailbox's history id")?;
    let secrets = BTreeMap::from([
        (
            "access_token".to_owned(),
            SecretString::new(grant.access_token),
        ),
        (
            "refresh_token".to_owned(),
            SecretString::new(grant.refresh_token),
        ),
    ]);
    let sealed =
        secrets_box.seal_map(&secrets, &channel_secrets_context(Channel::Email, tenant))?;
    let key = format!("email:{address}");
    let now = chrono::Utc::now();
    let mut tx = TenantTx::begin(pool, tenant).await?;
    channel_configs::lock_key(&mut tx, &key).await?;
    if channel_configs::key_owner(&mut tx, &key)
        .await?
        .is_some_and(|owner| owner != tenant.as_uuid())
    {
        anyhow::bail!("{address} is connected to another tenant");
    }
    channel_configs::upsert(
        &mut tx,
        Channel::Email,
        &json!({ "address": address }),
        &sealed,
        std::slice::from_ref(&key),
        true,
    )
    .await?;
    let mailbox = mailboxes::connect(
        &mut tx,
        &Connected {
            address,
            history_id,
            watch_expires_at: Some(now + chrono::Duration::days(WATCH_DAYS)),
            access_token_expires_at: i64::try_from(ACCESS_TOKEN_SECS)
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .map(|lifetime| now + lifetime),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(mailbox)
}
