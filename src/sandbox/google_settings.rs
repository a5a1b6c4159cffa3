//! The Google settings of a sandbox run: `serve --sandbox` points them at the fake Google and
//! the sandbox's Pub/Sub set-up, so Gmail works offline like the other channels.
//!
//! Each setting is decided on its own: one the operator left unset or at its production
//! default is replaced, one the operator set is kept — the rule `TELNYX_PUBLIC_KEY` follows.
//! A plain sandbox run is thus offline and consistent, and an operator can still aim a part at
//! real Google on purpose (mixing the two is then the operator's call; the demo mailbox is
//! only connected while the OAuth client, token endpoint and Gmail API are all the fake's, see
//! [`uses_fake_mailboxes`]). A production default is read from the setting's own clap default,
//! so Google's URLs are written down only in `GoogleConfig`; a value the operator gave that
//! equals it counts as left at the default.

use clap::Args;
use switchyard_shared::config::GoogleConfig;
use switchyard_shared::secrets::SecretString;

use super::google::{CLIENT_ID, CLIENT_SECRET, FakeGoogle};
use super::google_signing::{
    SANDBOX_PUBSUB_TOPIC, SANDBOX_PUSH_AUDIENCE, SANDBOX_PUSH_SERVICE_ACCOUNT,
};

/// The Gmail API base of `fake`, version included, as `GMAIL_API_BASE` wants it.
pub fn gmail_api_base(fake: &FakeGoogle) -> String {
    format!("{}/gmail/v1", fake.gmail_base())
}

/// Point what the operator left alone at `fake` and the sandbox's Pub/Sub set-up.
pub fn point_at(google: &mut GoogleConfig, fake: &FakeGoogle) {
    google
        .oauth_client_id
        .get_or_insert_with(|| CLIENT_ID.to_owned());
    google
        .oauth_client_secret
        .get_or_insert_with(|| SecretString::new(CLIENT_SECRET));
    replace_default(
        &mut google.oauth_token_url,
        "oauth_token_url",
        fake.token_url(),
    );
    replace_default(
        &mut google.gmail_api_base,
        "gmail_api_base",
        gmail_api_base(fake),
    );
    replace_default(&mut google.certs_url, "certs_url", fake.certs_url());
    google
        .gmail_pubsub_topic
        .get_or_insert_with(|| SANDBOX_PUBSUB_TOPIC.to_owned());
    google
        .pubsub_push_audience
        .get_or_insert_with(|| SANDBOX_PUSH_AUDIENCE.to_owned());
    google
        .pubsub_push_service_account
        .get_or_insert_with(|| SANDBOX_PUSH_SERVICE_ACCOUNT.to_owned());
}

/// Whether mailboxes of `fake` can work under `google`: the worker would refresh their tokens
/// with the fake's OAuth client at the fake's token endpoint and read them from the fake's
/// Gmail API.
pub fn uses_fake_mailboxes(google: &GoogleConfig, fake: &FakeGoogle) -> bool {
    google.oauth_client_id.as_deref() == Some(CLIENT_ID)
        && google
            .oauth_client_secret
            .as_ref()
            .is_some_and(|secret| secret.expose() == CLIENT_SECRET)
        && google.oauth_token_url == fake.token_url()
        && google.gmail_api_base == gmail_api_base(fake)
}

/// Replace `value` by `sandbox` if it is the production default of the setting `id`.
fn replace_default(value: &mut String, id: &str, sandbox: String) {
    if production_default(id).is_some_and(|default| default == *value) {
        *value = sandbox;
    }
}

/// The clap default of the `GoogleConfig` setting `id` (its field name).
fn production_default(id: &str) -> Option<String> {
    let command = GoogleConfig::augment_args(clap::Command::new("google"));
    let arg = command.get_arguments().find(|arg| arg.get_id() == id)?;
    let default = arg.get_default_values().first()?.to_str()?;
    Some(default.to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use clap::Parser;
    use switchyard_ingress::verify::google_oidc::{GoogleKeys, PushAuthPolicy};
    use switchyard_shared::payloads::pubsub::{GmailNotification, PushMessage};
    use switchyard_shared::shutdown::Shutdown;

    use super::*;
    use crate::sandbox::simulate::gmail_push;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        google: GoogleConfig,
    }

    fn parse(args: &[&str]) -> GoogleConfig {
        let args = std::iter::once("switchyard").chain(args.iter().copied());
        Cli::try_parse_from(args).unwrap().google
    }

    async fn fake() -> FakeGoogle {
        FakeGoogle::start("127.0.0.1:0".parse().unwrap(), Shutdown::new())
            .await
            .unwrap()
    }

    #[test]
    fn the_production_defaults_are_found() {
        for id in ["oauth_token_url", "gmail_api_base", "certs_url"] {
            let default = production_default(id).unwrap();
            assert!(default.starts_with("https://"), "{id}: {default}");
        }
        assert_eq!(production_default("gmail_pubsub_topic"), None);
        assert_eq!(production_default("no_such_setting"), None);
    }

    #[tokio::test]
    async fn settings_left_alone_point_at_the_fake() {
        let fake = fake().await;
        let mut google = parse(&[]);
        assert!(!uses_fake_mailboxes(&google, &fake));
        point_at(&mut google, &fake);
        assert_eq!(google.oauth_client_id.as_deref(), Some(CLIENT_ID));
        assert_eq!(google.oauth_token_url, fake.token_url());
        assert_eq!(
            google.gmail_api_base,
            format!("{}/gmail/v1", fake.gmail_base())
        );
        assert_eq!(google.certs_url, fake.certs_url());
        assert_eq!(
            google.gmail_pubsub_topic.as_deref(),
            Some(SANDBOX_PUBSUB_TOPIC)
        );
        assert_eq!(
            google.pubsub_push_audience.as_deref(),
            Some(SANDBOX_PUSH_AUDIENCE)
        );
        assert_eq!(
            google.pubsub_push_service_account.as_deref(),
            Some(SANDBOX_PUSH_SERVICE_ACCOUNT)
        );
        assert!(uses_fake_mailboxes(&google, &fake));
    }

    #[tokio::test]
    async fn simulated_pushes_pass_the_ingress_so_configured() {
        let fake = fake().await;
        let mut google = parse(&[]);
        point_at(&mut google, &fake);
        let keys = GoogleKeys::new(
            google.certs_url.clone(),
            reqwest::Client::new(),
            Duration::from_secs(30),
        );
        let policy = PushAuthPolicy::new(
            google.pubsub_push_audience.unwrap(),
            google.pubsub_push_service_account.unwrap(),
        );
        let notification = GmailNotification {
            email_address: "inbox@demo-dental.example".into(),
            history_id: 1007,
        };
        let push = gmail_push(
            &notification,
            SANDBOX_PUSH_AUDIENCE,
            SANDBOX_PUSH_SERVICE_ACCOUNT,
        )
        .unwrap();
        let verified = policy
            .verify(&keys, Some(push.authorization.as_bytes()), Utc::now())
            .await
            .unwrap();
        assert_eq!(verified.email, SANDBOX_PUSH_SERVICE_ACCOUNT);
        let body = PushMessage::parse(push.body.as_bytes()).unwrap();
        assert_eq!(body.gmail_notification(), Ok(notification));
        assert_ne!(
            gmail_push(
                &body.gmail_notification().unwrap(),
                SANDBOX_PUSH_AUDIENCE,
                SANDBOX_PUSH_SERVICE_ACCOUNT
            )
            .unwrap()
            .body,
            push.body,
            "each push has its own message id"
        );
    }

    #[tokio::test]
    async fn settings_the_operator_gave_are_kept() {
        let fake = fake().await;
        let mut google = parse(&[
            "--gmail-api-base",
            "https://gmail.example.test/gmail/v1",
            "--pubsub-push-audience",
            "https://hooks.example.test/webhooks/gmail",
            "--certs-url",
            "https://keys.example.test/certs",
        ]);
        point_at(&mut google, &fake);
        assert_eq!(google.gmail_api_base, "https://gmail.example.test/gmail/v1");
        assert_eq!(google.certs_url, "https://keys.example.test/certs");
        assert_eq!(
            google.pubsub_push_audience.as_deref(),
            Some("https://hooks.example.test/webhooks/gmail")
        );
        // The rest still points at the sandbox.
        assert_eq!(google.oauth_token_url, fake.token_url());
        assert_eq!(
            google.pubsub_push_service_account.as_deref(),
            Some(SANDBOX_PUSH_SERVICE_ACCOUNT)
        );
        assert!(!uses_fake_mailboxes(&google, &fake));
    }
}
