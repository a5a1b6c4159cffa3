//! Delivery status of an outbound Telnyx message, and the rule for moving it forward.
//!
//! Telnyx reports each recipient's status in `to[].status` of `message.sent` and
//! `message.finalized` webhooks (and `queued` in the send response). The happy path is
//! `queued → sending → sent → delivered`; `sending_failed`, `delivery_failed` and
//! `delivery_unconfirmed` end a message too. Webhooks arrive out of order and more than once,
//! so a stored status only ever moves forward: see [`DeliveryStatus::may_replace`].

use std::fmt;

/// One recipient's delivery status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    SendingFailed,
    DeliveryFailed,
    DeliveryUnconfirmed,
}

impl DeliveryStatus {
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::SendingFailed,
        Self::DeliveryFailed,
        Self::DeliveryUnconfirmed,
    ];

    /// The status named by Telnyx's text; `None` for anything else (inbound messages carry
    /// `webhook_delivered`, for instance, which is not a delivery status of ours).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::SendingFailed => "sending_failed",
            Self::DeliveryFailed => "delivery_failed",
            Self::DeliveryUnconfirmed => "delivery_unconfirmed",
        }
    }

    /// Whether nothing comes after this status: delivered, or one of the three failures.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Queued | Self::Sending | Self::Sent)
    }

    /// Whether the message failed for good.
    pub fn is_failure(&self) -> bool {
        self.is_terminal() && *self != Self::Delivered
    }

    /// Whether `new` may replace the stored `current` status (`None`: nothing stored yet).
    ///
    /// Only forward: a later step of `queued < sending < sent` replaces an earlier one, any
    /// terminal status replaces any non-terminal one (a failure can skip steps, and a lost
    /// webhook can make `delivered` come straight after `queued`), and a terminal status is
    /// never replaced — not even by another terminal one. The same status again changes
    /// nothing, so it is not a replacement either.
    pub fn may_replace(current: Option<Self>, new: Self) -> bool {
        match current {
            None => true,
            Some(current) if current.is_terminal() => false,
            Some(_) if new.is_terminal() => true,
            Some(current) => new.step() > current.step(),
        }
    }

    /// Position on the happy path; terminal statuses all come last.
    fn step(&self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sending => 1,
            Self::Sent => 2,
            _ => 3,
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::{self, *};

    #[test]
    fn names_round_trip() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::parse("webhook_delivered"), None);
        assert_eq!(DeliveryStatus::parse("Delivered"), None);
    }

    #[test]
    fn terminal_and_failure() {
        let terminal: Vec<_> = DeliveryStatus::ALL
            .into_iter()
            .filter(DeliveryStatus::is_terminal)
            .collect();
        assert_eq!(
            terminal,
            [
                Delivered,
                SendingFailed,
                DeliveryFailed,
                DeliveryUnconfirmed
            ]
        );
        assert!(!Delivered.is_failure());
        assert!(DeliveryUnconfirmed.is_failure());
        assert!(!Sent.is_failure());
    }

    #[test]
    fn statuses_only_move_forward() {
        let path = [Queued, Sending, Sent, Delivered];
        for (i, earlier) in path.iter().enumerate() {
            for later in &path[i + 1..] {
                assert!(
                    DeliveryStatus::may_replace(Some(*earlier), *later),
                    "{earlier} → {later}"
                );
                assert!(
                    !DeliveryStatus::may_replace(Some(*later), *earlier),
                    "{later} → {earlier}"
                );
            }
        }
        for status in DeliveryStatus::ALL {
            assert!(DeliveryStatus::may_replace(None, status));
            assert!(
                !DeliveryStatus::may_replace(Some(status), status),
                "{status} again"
            );
        }
    }

    #[test]
    fn failures_end_the_message() {
        for failure in [SendingFailed, DeliveryFailed, DeliveryUnconfirmed] {
            for open in [Queued, Sending, Sent] {
                assert!(DeliveryStatus::may_replace(Some(open), failure));
                assert!(!DeliveryStatus::may_replace(Some(failure), open));
            }
            assert!(!DeliveryStatus::may_replace(Some(failure), Delivered));
            assert!(!DeliveryStatus::may_replace(Some(Delivered), failure));
        }
        assert!(!DeliveryStatus::may_replace(
            Some(DeliveryFailed),
            DeliveryUnconfirmed
        ));
    }
}
