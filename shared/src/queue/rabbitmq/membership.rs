//! Which workers are consuming now, learnt through the broker itself.
//!
//! Every consuming worker binds an exclusive, server-named queue to the fanout exchange
//! `{prefix}.members` and announces itself there every [`HEARTBEAT`]; it hears everyone's
//! announcements, its own included. A member not heard from for [`EXPIRY`] is gone (it stopped
//! or lost the broker); a stopping member says so at once. Every worker thus sees the same
//! members within a heartbeat or two, and [`partition::assign`](crate::queue::partition::assign)
//! turns that view into the partitions it consumes.
//!
//! The view may briefly differ between workers (one has heard of a newcomer, another not yet);
//! that is safe because each partition queue has a single active consumer: two workers that
//! both think they own a partition take turns, they never consume it at the same time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::unavailable;
use crate::queue::QueueError;

/// How often a member announces itself.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A member not heard from for this long is gone.
pub const EXPIRY: Duration = Duration::from_secs(4);

#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    member: String,
    #[serde(default)]
    leaving: bool,
}

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

/// This worker's membership: its announcements and what it heard.
pub struct Membership {
    me: String,
    exchange: String,
    channel: Channel,
    seen: Seen,
    tasks: Vec<JoinHandle<()>>,
}

impl Membership {
    /// Join as `me` on `connection`, announcing on the fanout `exchange`.
    pub async fn join(
        connection: &Connection,
        exchange: &str,
        me: String,
    ) -> Result<Self, QueueError> {
        let channel = connection.create_channel().await.map_err(unavailable)?;
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Fanout,
                // Transient (heartbeats are worthless after a broker restart) but not
                // auto-deleted: the last member leaving still announces it.
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        channel
            .queue_bind(
                queue.name().clone(),
                exchange.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        let mut heard = channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;

        let seen = Seen::default();
        let listener = {
            let seen = seen.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = heard.next().await {
                    let Ok(said) = serde_json::from_slice::<Announcement>(&message.data) else {
                        continue;
                    };
                    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                    if said.leaving {
                        seen.remove(&said.member);
                    } else {
                        seen.insert(said.member, Instant::now());
                    }
                }
            })
        };
        let heartbeat = {
            let (channel, exchange, me) = (channel.clone(), exchange.to_owned(), me.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(HEARTBEAT);
                loop {
                    tick.tick().await;
                    if announce(&channel, &exchange, &me, false).await.is_err() {
                        return;
                    }
                }
            })
        };
        Ok(Self {
            me,
            exchange: exchange.to_owned(),
            channel,
            seen,
            tasks: vec![listener, heartbeat],
        })
    }

    /// This worker's id.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The members alive now, this worker included.
    pub fn members(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut members: Vec<String> = seen
            .iter()
            .filter(|(_, at)| at.elapsed() < EXPIRY)
            .map(|(member, _)| member.clone())
            .collect();
        if !members.contains(&self.me) {
            members.push(self.me.clone());
        }
        members
    }

    /// Tell the others this worker is leaving, so they take over its partitions at once.
    pub async fn leave(self) {
        let _ = announce(&self.channel, &self.exchange, &self.me, true).await;
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.channel.close(200, "leaving".into()).await;
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn announce(
    channel: &Channel,
    exchange: &str,
    me: &str,
    leaving: bool,
) -> Result<(), QueueError> {
    let body = serde_json::to_vec(&Announcement {
        member: me.to_owned(),
        leaving,
    })?;
    channel
        .basic_publish(
            exchange.into(),
            "".into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default(),
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}
