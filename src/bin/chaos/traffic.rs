//! The providers' side of the run: signed webhooks of every channel for every tenant at a
//! steady rate, each delivered until the ingress answers 2xx — the way Meta, Telnyx and
//! Pub/Sub push retry — with every attempt written down for the audit.
//!
//! Events rotate over the channels, then the tenants, then each tenant's customers, so every
//! channel of every tenant sees the same share. Each carries the keyword the tenants' flow
//! answers, so each stored message should cause exactly one reply to its customer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard::sandbox::google::{FakeGoogle, NewMessage};
use switchyard::sandbox::google_signing::{
    GoogleSigner, PushClaims, SANDBOX_PUSH_AUDIENCE, SANDBOX_PUSH_SERVICE_ACCOUNT,
    SANDBOX_PUSH_SUBSCRIPTION, SignedPush, push_request,
};
use switchyard::sandbox::signing::TelnyxSigner;
use switchyard::sandbox::simulate;
use switchyard_shared::payloads::pubsub::GmailNotification;
use switchyard_shared::payloads::twilio::FormParams;
use tokio::task::JoinHandle;

use crate::tenants::{ChaosTenant, KEYWORD};

/// The longest pause between two attempts at one event.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(4);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The webhook kinds the run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Whatsapp,
    Telnyx,
    Twilio,
    Gmail,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Whatsapp,
        Source::Telnyx,
        Source::Twilio,
        Source::Gmail,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Source::Whatsapp => "WhatsApp",
            Source::Telnyx => "Telnyx SMS",
            Source::Twilio => "Twilio SMS",
            Source::Gmail => "Gmail push",
        }
    }
}

/// One inbound event of the run, as the audit knows it.
#[derive(Debug, Clone)]
pub struct Event {
    pub seq: u64,
    pub source: Source,
    pub tenant: usize,
    /// Where replies to it go: WhatsApp digits, an E.164 number or an email address.
    pub customer: String,
    /// The provider's id of the message, which the worker stores.
    pub message_id: String,
    /// Gmail: the Pub/Sub message id of the push (the event's dedup key).
    pub push_id: Option<String>,
}

/// How to send an event again.
#[derive(Clone)]
enum Request {
    Whatsapp(Vec<u8>),
    /// Signed afresh at every attempt, as Telnyx does.
    Telnyx(Vec<u8>),
    Twilio {
        params: FormParams,
        token: String,
    },
    Gmail(SignedPush),
}

/// What became of one event's delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Event,
    pub first_try: DateTime<Utc>,
    /// When an attempt got a 2xx, if one did.
    pub accepted: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// Each attempt that did not get a 2xx: when, and what it got instead.
    pub refusals: Vec<(DateTime<Utc>, String)>,
}

/// The provider simulator; shared by the steady traffic and the faults.
pub struct Traffic {
    client: reqwest::Client,
    ingress: String,
    app_secret: String,
    google: FakeGoogle,
    tenants: Vec<ChaosTenant>,
    customers: usize,
    /// Delivery attempts stop after this (the event then counts as never accepted).
    give_up_at: Mutex<Option<DateTime<Utc>>>,
    next_seq: AtomicU64,
    /// HTTP requests waiting for the ingress's answer now.
    in_flight: AtomicUsize,
    deliveries: Mutex<Vec<JoinHandle<Delivery>>>,
}

impl Traffic {
    pub fn new(
        ingress: String,
        app_secret: String,
        google: FakeGoogle,
        tenants: Vec<ChaosTenant>,
        customers: usize,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            ingress,
            app_secret,
            google,
            tenants,
            customers: customers.max(1),
            give_up_at: Mutex::new(None),
            next_seq: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            deliveries: Mutex::new(Vec::new()),
        })
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Send `rate` events a second for `duration`, each delivered in its own task.
    pub async fn run_steady(self: &Arc<Self>, rate: f64, duration: Duration) -> anyhow::Result<()> {
        let total = (rate * duration.as_secs_f64()).round() as u64;
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.01)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for _ in 0..total {
            tick.tick().await;
            let seq = self.next_seq.fetch_add(1, Ordering::AcqRel);
            let source = Source::ALL[(seq % 4) as usize];
            let (event, request) = self.event(seq, source)?;
            self.deliver(event, request);
        }
        Ok(())
    }

    /// A new event of `source` for the next tenant and customer in turn.
    fn event(&self, seq: u64, source: Source) -> anyhow::Result<(Event, Request)> {
        let round = seq / 4;
        let tenant = &self.tenants[(round % self.tenants.len() as u64) as usize];
        let customer = (round / self.tenants.len() as u64) % self.customers as u64;
        let text = format!("{KEYWORD} check #{seq}");
        let t = tenant.index;
        let (customer, message_id, push_id, request) = match source {
            Source::Whatsapp => {
                let from = format!("15559{t:03}{customer:04}");
                let body = simulate::whatsapp_text(
                    &tenant.phone_number_id,
                    &tenant.waba_id,
                    &from,
                    "Chaos Customer",
                    &text,
                );
                let id = json_str(&body, "/entry/0/changes/0/value/messages/0/id")?;
                (from, id, None, Request::Whatsapp(body))
            }
            Source::Telnyx => {
                let from = format!("+15558{t:03}{customer:04}");
                let body = simulate::telnyx_sms(&from, &tenant.telnyx_number, &text);
                let id = json_str(&body, "/data/payload/id")?;
                (from, id, None, Request::Telnyx(body))
            }
            Source::Twilio => {
                let from = format!("+15557{t:03}{customer:04}");
                let params = simulate::twilio_sms(&from, &tenant.twilio_number, &text);
                let sid = params
                    .pairs()
                    .iter()
                    .find(|(k, _)| k == "MessageSid")
                    .map(|(_, v)| v.clone())
                    .context("the simulated Twilio form has no MessageSid")?;
                let token = tenant.twilio_auth_token.clone();
                (from, sid, None, Request::Twilio { params, token })
            }
            Source::Gmail => {
                let email = format!("c{customer}.t{t}@customers.example");
                let (gmail_id, history_id) = self.google.add_message(
                    &tenant.mailbox,
                    &NewMessage::inbound(&format!("Customer {customer} <{email}>"), "Chaos", &text),
                );
                let notification = GmailNotification {
                    email_address: tenant.mailbox.clone(),
                    history_id,
                };
                let push_id = (1_000_000_000 + seq).to_string();
                let claims = PushClaims::new(
                    SANDBOX_PUSH_AUDIENCE,
                    SANDBOX_PUSH_SERVICE_ACCOUNT,
                    Utc::now().timestamp(),
                );
                let push = push_request(
                    &GoogleSigner::sandbox(),
                    &claims,
                    &notification,
                    &push_id,
                    SANDBOX_PUSH_SUBSCRIPTION,
                )
                .map_err(|e| anyhow::anyhow!("signing a push: {e}"))?;
                (email, gmail_id, Some(push_id), Request::Gmail(push))
            }
        };
        let event = Event {
            seq,
            source,
            tenant: t,
            customer,
            message_id,
            push_id,
        };
        Ok((event, request))
    }

    /// A new WhatsApp event, and the raw HTTP/1.1 request that carries it (for a request the
    /// ingress is killed in the middle of).
    pub fn whatsapp_event(self: &Arc<Self>) -> anyhow::Result<(Event, Vec<u8>, Vec<u8>)> {
        let seq = self.next_seq.fetch_add(1, Ordering::AcqRel);
        let (event, request) = self.event(seq, Source::Whatsapp)?;
        let Request::Whatsapp(body) = &request else {
            anyhow::bail!("a WhatsApp event without a WhatsApp body");
        };
        let signature = switchyard_ingress::verify::meta::sign(self.app_secret.as_bytes(), body);
        let head = format!(
            "POST /webhooks/whatsapp HTTP/1.1\r\nhost: chaos\r\ncontent-type: application/json\r\n\
             x-hub-signature-256: {signature}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let body = body.clone();
        self.deliver_after_cut(event.clone(), request);
        Ok((event, head.into_bytes(), body))
    }

    /// Deliver `event` in a task of its own, from now on.
    fn deliver(self: &Arc<Self>, event: Event, request: Request) {
        let this = self.clone();
        let handle = tokio::spawn(async move { this.deliver_until_accepted(event, request).await });
        self.handles().push(handle);
    }

    /// Deliver `event` as the provider retries an attempt that got no answer: the first
    /// attempt is the caller's (a request cut short), the next follows a second later.
    fn deliver_after_cut(self: &Arc<Self>, event: Event, request: Request) {
        let this = self.clone();
        let handle = tokio::spawn(async move {
            let first_try = Utc::now();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut delivery = this.deliver_until_accepted(event, request).await;
            delivery.first_try = first_try;
            delivery.attempts += 1;
            delivery
                .refusals
                .insert(0, (first_try, "cut off mid-request".into()));
            delivery
        });
        self.handles().push(handle);
    }

    fn handles(&self) -> MutexGuard<'_, Vec<JoinHandle<Delivery>>> {
        lock(&self.deliveries)
    }

    /// Stop retrying at `at`.
    pub fn give_up_at(&self, at: DateTime<Utc>) {
        *lock(&self.give_up_at) = Some(at);
    }

    /// Every delivery, once each has been accepted or given up.
    pub async fn finish(&self) -> Vec<Delivery> {
        let handles = std::mem::take(&mut *self.handles());
        let mut done = Vec::with_capacity(handles.len());
        for handle in handles {
            match handle.await {
                Ok(delivery) => done.push(delivery),
                Err(e) => eprintln!("a delivery task failed: {e}"),
            }
        }
        done.sort_by_key(|d| d.event.seq);
        done
    }

    async fn deliver_until_accepted(&self, event: Event, request: Request) -> Delivery {
        let mut delivery = Delivery {
            event,
            first_try: Utc::now(),
            accepted: None,
            attempts: 0,
            refusals: Vec::new(),
        };
        let mut pause = Duration::from_millis(250);
        loop {
            delivery.attempts += 1;
            let at = Utc::now();
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            let answer = self.attempt(&request).await;
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            match answer {
                Ok((status, _)) if (200..300).contains(&status) => {
                    delivery.accepted = Some(Utc::now());
                    return delivery;
                }
                Ok((status, body)) => {
                    let body: String = body.chars().take(120).collect();
                    delivery.refusals.push((at, format!("{status} {body}")));
                }
                Err(e) => delivery.refusals.push((at, e.to_string())),
            }
            let give_up = *lock(&self.give_up_at);
            if give_up.is_some_and(|limit| Utc::now() >= limit) {
                return delivery;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }

    async fn attempt(&self, request: &Request) -> reqwest::Result<(u16, String)> {
        let client = &self.client;
        match request {
            Request::Whatsapp(body) => {
                simulate::post_whatsapp(client, &self.ingress, &self.app_secret, body.clone()).await
            }
            Request::Telnyx(body) => {
                simulate::post_telnyx(
                    client,
                    &self.ingress,
                    &TelnyxSigner::sandbox(),
                    body.clone(),
                )
                .await
            }
            Request::Twilio { params, token } => {
                simulate::post_twilio(client, &self.ingress, None, token, params).await
            }
            Request::Gmail(push) => simulate::post_gmail(client, &self.ingress, push).await,
        }
    }
}

/// The string at `pointer` in the JSON `body`.
fn json_str(body: &[u8], pointer: &str) -> anyhow::Result<String> {
    let value: Value = serde_json::from_slice(body).context("reading back a simulated body")?;
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the simulated body has no {pointer}"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
