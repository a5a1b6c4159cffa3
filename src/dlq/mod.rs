//! `switchyard dlq …`: dead letters, bulk replays and unroutable events from the shell.
//!
//! The CLI is a client of the admin API (`--api-url` / `SWITCHYARD_API_URL`, credential in
//! `SWITCHYARD_API_TOKEN`), not of the database: it is allowed exactly what the credential is
//! allowed (a tenant admin's key sees its own tenant; `ADMIN_TOKEN` or a platform admin's
//! login every tenant's), every action lands in the audit log, and a bulk replay runs in the
//! server's replayer — the CLI only starts it and follows it. Ctrl-C while following cancels
//! the job; `--detach` leaves it running.
//!
//! Output is a table for people, or the API's JSON with `--json` (one document per answer) for
//! scripts. Filter values are passed to the API as given; its 422 says which one is wrong.

mod client;
pub mod table;

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use switchyard_shared::secrets::SecretString;
use uuid::Uuid;

pub use client::{Client, DlqError, Query};

/// How often a followed job is polled.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Parser)]
#[command(name = "dlq")]
pub struct DlqArgs {
    /// The ingress that serves the admin API.
    #[arg(
        long,
        env = "SWITCHYARD_API_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub api_url: String,
    /// A tenant admin's or platform admin's credential (API key, login token or ADMIN_TOKEN);
    /// prefer the environment variable, which stays out of shell history.
    #[arg(
        long,
        env = "SWITCHYARD_API_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<SecretString>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: DlqCommand,
}

/// Which dead letters: every option narrows.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Only this tenant's (platform admins).
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// whatsapp, sms, voice or email.
    #[arg(long)]
    pub channel: Option<String>,
    /// message_received, message_status, call, mailbox_changed or other.
    #[arg(long)]
    pub kind: Option<String>,
    /// permanent, exhausted or delivery_limit.
    #[arg(long)]
    pub error_class: Option<String>,
    /// The error contains this text (case-insensitive, taken literally).
    #[arg(long)]
    pub q: Option<String>,
    /// Failed last at or after this time (RFC 3339).
    #[arg(long)]
    pub failed_after: Option<String>,
    /// Failed last before this time (RFC 3339).
    #[arg(long)]
    pub failed_before: Option<String>,
}

impl FilterArgs {
    fn pairs(&self) -> Vec<(&'static str, Option<&String>)> {
        vec![
            ("tenant_id", self.tenant_id.as_ref()),
            ("channel", self.channel.as_ref()),
            ("kind", self.kind.as_ref()),
            ("error_class", self.error_class.as_ref()),
            ("q", self.q.as_ref()),
            ("failed_after", self.failed_after.as_ref()),
            ("failed_before", self.failed_before.as_ref()),
        ]
    }
}

/// Page options of a list.
#[derive(Debug, Clone, Default, Args)]
pub struct PageArgs {
    /// Rows per page (1-200, default 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Go on after this id (the `--after` a previous page printed).
    #[arg(long)]
    pub after: Option<String>,
}

impl PageArgs {
    fn push(&self, query: &mut Query<'_>) {
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(after) = &self.after {
            query.push(("after", after.clone()));
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters, oldest event first (only `dead` ones unless --status says).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// dead (default), replayed, discarded or all.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One dead letter, with its envelope.
    Show { id: Uuid },
    /// Publish a dead letter's event again (same id and dedup key).
    Replay {
        id: Uuid,
        /// Replay it even if it was replayed or discarded before.
        #[arg(long)]
        force: bool,
    },
    /// Set a dead letter aside.
    Discard { id: Uuid },
    /// Replay every dead letter a filter matches, at a rate, in the server's replayer: prints
    /// the job and follows it until it ends (Ctrl-C cancels it).
    ReplayBulk {
        #[command(flatten)]
        filter: FilterArgs,
        /// Dead letters per second (1-10000).
        #[arg(long, default_value_t = 10)]
        rate: u32,
        /// Count and show a sample; start nothing.
        #[arg(long)]
        dry_run: bool,
        /// Start the job and return without following it.
        #[arg(long)]
        detach: bool,
    },
    /// List bulk replays.
    Jobs {
        /// running, completed, cancelled or failed.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One bulk replay and how far it got.
    Job { id: Uuid },
    /// Cancel a running bulk replay.
    Cancel { job_id: Uuid },
    /// Events no tenant took (platform admins).
    #[command(subcommand)]
    Unroutable(UnroutableCommand),
}

#[derive(Debug, Subcommand)]
pub enum UnroutableCommand {
    /// List unroutable events, oldest first.
    List {
        /// whatsapp, telnyx, twilio or gmail.
        #[arg(long)]
        provider: Option<String>,
        /// Exactly this routing key (`phone:+15550003333`, a phone_number_id, `email:…`).
        #[arg(long)]
        routing_key: Option<String>,
        /// pending (default), replayed or all.
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Route events again now that their tenant is configured: one by id, or the pending ones
    /// a filter matches (--provider, --routing-key, or --all for every one).
    Replay {
        /// The event's id (from `unroutable list`).
        id: Option<Uuid>,
        /// Only this provider's events: whatsapp, telnyx, twilio or gmail.
        #[arg(long, conflicts_with = "id")]
        provider: Option<String>,
        /// Only events with exactly this routing key.
        #[arg(long, conflicts_with = "id")]
        routing_key: Option<String>,
        /// Every pending event.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Route them and report; publish nothing.
        #[arg(long, conflicts_with = "id")]
        dry_run: bool,
        /// At most this many events (1-500, default 100).
        #[arg(long, conflicts_with = "id")]
        limit: Option<u32>,
    },
}

/// Run a `dlq` command from the command line; Ctrl-C cancels a followed bulk replay.
pub async fn run(args: DlqArgs) -> Result<(), DlqError> {
    let token = args.token.as_ref().ok_or_else(|| {
        DlqError::Usage("set SWITCHYARD_API_TOKEN (or pass --token) to an admin credential".into())
    })?;
    let client = Client::new(&args.api_url, token.expose())?;
    let ctrl_c = async {
        // Without a signal handler, follow until the job ends.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    execute(
        &client,
        args.command,
        args.json,
        &mut std::io::stdout().lock(),
        ctrl_c,
    )
    .await
}

/// Run `command` against `client`, printing to `out`; `cancel` resolving while a bulk replay
/// is followed cancels it.
pub async fn execute(
    client: &Client,
    command: DlqCommand,
    json: bool,
    out: &mut impl Write,
    cancel: impl Future<Output = ()>,
) -> Result<(), DlqError> {
    let show = |out: &mut dyn Write, value: &Value| writeln!(out, "{value}");
    match command {
        DlqCommand::List {
            filter,
            status,
            page,
        } => {
            let mut query = query_of(&filter.pairs());
            if let Some(status) = status {
                query.push(("status", status));
            }
            page.push(&mut query);
            let answer = client.get("/dead-letters", &query).await?;
            if json {
                show(out, &answer)?;
            } else {
                table::print_page(out, &table::DEAD_LETTERS, &answer)?;
            }
        }
        DlqCommand::Show { id } => {
            let answer = client.get(&format!("/dead-letters/{id}"), &vec![]).await?;
            print_dead_letter(out, json, &answer)?;
        }
        DlqCommand::Replay { id, force } => {
            let query = if force {
                vec![("force", "true".to_owned())]
            } else {
                vec![]
            };
            let path = format!("/dead-letters/{id}/replay");
            let answer = client.post(&path, &query, None).await?;
            print_dead_letter(out, json, &answer)?;
        }
        DlqCommand::Discard { id } => {
            let path = format!("/dead-letters/{id}/discard");
            let answer = client.post(&path, &vec![], None).await?;
            print_dead_letter(out, json, &answer)?;
        }
        DlqCommand::ReplayBulk {
            filter,
            rate,
            dry_run,
            detach,
        } => {
            let mut body = serde_json::Map::new();
            for (name, value) in filter.pairs() {
                if let Some(value) = value {
                    body.insert(name.to_owned(), json!(value));
                }
            }
            body.insert("rate_per_second".into(), json!(rate));
            body.insert("dry_run".into(), json!(dry_run));
            let answer = client
                .post("/dead-letters/replays", &vec![], Some(&Value::Object(body)))
                .await?;
            if dry_run {
                if json {
                    show(out, &answer)?;
                } else {
                    writeln!(out, "{} dead letters match; the first:", answer["total"])?;
                    let empty = Vec::new();
                    let sample = answer["sample"].as_array().unwrap_or(&empty);
                    table::print(out, &table::DEAD_LETTERS, sample)?;
                }
            } else if detach {
                print_job(out, json, &answer)?;
            } else {
                follow(client, answer, json, out, cancel).await?;
            }
        }
        DlqCommand::Jobs { status, page } => {
            let mut query = query_of(&[("status", status.as_ref())]);
            page.push(&mut query);
            let answer = client.get("/dead-letters/replays", &query).await?;
            if json {
                show(out, &answer)?;
            } else {
                table::print_page(out, &table::JOBS, &answer)?;
            }
        }
        DlqCommand::Job { id } => {
            let path = format!("/dead-letters/replays/{id}");
            let answer = client.get(&path, &vec![]).await?;
            print_job(out, json, &answer)?;
        }
        DlqCommand::Cancel { job_id } => {
            let path = format!("/dead-letters/replays/{job_id}/cancel");
            let answer = client.post(&path, &vec![], None).await?;
            print_job(out, json, &answer)?;
        }
        DlqCommand::Unroutable(command) => unroutable(client, command, json, out).await?,
    }
    Ok(())
}

async fn unroutable(
    client: &Client,
    command: UnroutableCommand,
    json: bool,
    out: &mut impl Write,
) -> Result<(), DlqError> {
    match command {
        UnroutableCommand::List {
            provider,
            routing_key,
            state,
            page,
        } => {
            let mut query = query_of(&[
                ("provider", provider.as_ref()),
                ("routing_key", routing_key.as_ref()),
                ("state", state.as_ref()),
            ]);
            page.push(&mut query);
            let answer = client.get("/unroutable", &query).await?;
            if json {
                writeln!(out, "{answer}")?;
            } else {
                table::print_page(out, &table::UNROUTABLE, &answer)?;
            }
        }
        UnroutableCommand::Replay { id: Some(id), .. } => {
            let path = format!("/unroutable/{id}/replay");
            let answer = client.post(&path, &vec![], None).await?;
            if json {
                writeln!(out, "{answer}")?;
            } else {
                writeln!(
                    out,
                    "replayed for tenant {} as envelope {} (dedup key {})",
                    answer["tenant_id"].as_str().unwrap_or("?"),
                    answer["envelope_id"].as_str().unwrap_or("?"),
                    answer["dedup_key"].as_str().unwrap_or("?"),
                )?;
            }
        }
        UnroutableCommand::Replay {
            id: None,
            provider,
            routing_key,
            all,
            dry_run,
            limit,
        } => {
            if provider.is_none() && routing_key.is_none() && !all {
                return Err(DlqError::Usage(
                    "name an event id, or choose with --provider, --routing-key or --all".into(),
                ));
            }
            let mut body = json!({ "dry_run": dry_run });
            for (name, value) in [("provider", provider), ("routing_key", routing_key)] {
                if let Some(value) = value {
                    body[name] = json!(value);
                }
            }
            if let Some(limit) = limit {
                body["limit"] = json!(limit);
            }
            let answer = client
                .post("/unroutable/replay", &vec![], Some(&body))
                .await?;
            if json {
                writeln!(out, "{answer}")?;
            } else {
                let verb = if dry_run { "would replay" } else { "replayed" };
                writeln!(
                    out,
                    "{} pending events: {verb} {}",
                    answer["matched"], answer["replayed"]
                )?;
                let empty = Vec::new();
                let still = answer["still_unroutable"].as_array().unwrap_or(&empty);
                if !still.is_empty() {
                    writeln!(out, "still unroutable:")?;
                    table::print(out, &table::STILL_UNROUTABLE, still)?;
                }
                if let Some(next) = answer["next"].as_str() {
                    writeln!(out, "(more may match: the next call goes on after {next})")?;
                }
            }
        }
    }
    Ok(())
}

/// Print a started job, then its progress until it ends; `cancel` cancels it.
async fn follow(
    client: &Client,
    mut job: Value,
    json: bool,
    out: &mut impl Write,
    cancel: impl Future<Output = ()>,
) -> Result<(), DlqError> {
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    print_job(out, json, &job)?;
    if !json {
        writeln!(out, "following; Ctrl-C cancels the job")?;
    }
    tokio::pin!(cancel);
    let mut shown = job["replayed"].clone();
    while job["status"] == "running" {
        tokio::select! {
            _ = &mut cancel => {
                job = client
                    .post(&format!("/dead-letters/replays/{id}/cancel"), &vec![], None)
                    .await?;
                break;
            }
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
        job = client
            .get(&format!("/dead-letters/replays/{id}"), &vec![])
            .await?;
        if !json && job["replayed"] != shown {
            shown = job["replayed"].clone();
            writeln!(out, "replayed {shown} of {}", job["total"])?;
        }
    }
    print_job(out, json, &job)?;
    if job["status"] == "failed" {
        return Err(DlqError::JobFailed {
            id,
            error: job["error"].as_str().unwrap_or("unknown").to_owned(),
        });
    }
    Ok(())
}

fn query_of<'a>(pairs: &[(&'a str, Option<&String>)]) -> Query<'a> {
    pairs
        .iter()
        .filter_map(|(name, value)| value.map(|v| (*name, v.clone())))
        .collect()
}

fn print_dead_letter(out: &mut impl Write, json: bool, answer: &Value) -> std::io::Result<()> {
    if json {
        return writeln!(out, "{answer}");
    }
    let fields = [
        "id",
        "tenant_id",
        "channel",
        "kind",
        "dedup_key",
        "status",
        "error_class",
        "error",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "replays",
        "replayed_at",
        "discarded_at",
    ];
    table::print_record(out, answer, &fields, Some("envelope"))
}

fn print_job(out: &mut impl Write, json: bool, job: &Value) -> std::io::Result<()> {
    if json {
        return writeln!(out, "{job}");
    }
    writeln!(
        out,
        "job {} {}: replayed {} of {} at {}/s{}",
        job["id"].as_str().unwrap_or("?"),
        job["status"].as_str().unwrap_or("?"),
        job["replayed"],
        job["total"],
        job["rate_per_second"],
        job["error"]
            .as_str()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn commands_parse() {
        let args = DlqArgs::try_parse_from([
            "dlq",
            "replay-bulk",
            "--channel",
            "sms",
            "--rate",
            "5",
            "--dry-run",
            "--json",
        ])
        .unwrap();
        assert!(args.json);
        match args.command {
            DlqCommand::ReplayBulk {
                filter,
                rate,
                dry_run,
                detach,
            } => {
                assert_eq!(filter.channel.as_deref(), Some("sms"));
                assert_eq!((rate, dry_run, detach), (5, true, false));
            }
            other => panic!("{other:?}"),
        }
        assert!(DlqArgs::try_parse_from(["dlq", "unroutable", "replay", "x"]).is_err());
        let id = Uuid::now_v7().to_string();
        assert!(
            DlqArgs::try_parse_from(["dlq", "unroutable", "replay", &id, "--all"]).is_err(),
            "an id and a filter"
        );
    }
}
