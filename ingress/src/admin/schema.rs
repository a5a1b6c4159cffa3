//! Value sets that handlers accept as text and check themselves, so that a wrong value gets a
//! 422 naming the field, described here for the OpenAPI document. Nothing constructs these
//! types; they exist to be referenced by `#[schema(value_type = …)]` and
//! `#[param(value_type = …)]`.

#![allow(dead_code)]

use utoipa::ToSchema;

/// The roles an API key may have.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum KeyRole {
    TenantAdmin,
    Agent,
}

/// Whether a conversation is open.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Closed,
}

/// A message's direction.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Where a message stands: inbound ones are `received`; outbound ones move forward through
/// `sent`, `delivered`, `read`, or end `failed`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MessageStatus {
    Received,
    Sent,
    Delivered,
    Read,
    Failed,
}

/// What a vault entry holds credentials for.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum VaultKind {
    GenesysCloud,
    Custom,
}

/// Where a lead stands.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum LeadStatus {
    New,
    Contacted,
    Qualified,
    Won,
    Lost,
}

/// Which dead letters a list shows, by status (`all`: any).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeadLetterStatusFilter {
    Dead,
    Replayed,
    Discarded,
    All,
}

/// Which unroutable events a list shows.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum UnroutableState {
    Pending,
    Replayed,
    All,
}

/// A webhook provider.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Provider {
    Whatsapp,
    Telnyx,
    Twilio,
    Gmail,
}
