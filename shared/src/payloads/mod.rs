//! Provider payload shapes that both the ingress (splitting and routing) and the workers
//! (applying) read. Only the fields Switchyard uses are typed; the rest stays JSON so a payload
//! passes through unchanged.

pub mod pubsub;
pub mod telnyx;
pub mod twilio;
pub mod whatsapp;
