//! Who is calling the admin API, and what they may do.
//!
//! Every request carries `Authorization: Bearer <credential>`, one of:
//!
//! - the bootstrap `ADMIN_TOKEN` — a platform admin, for first set-up and automation;
//! - a tenant API key `sk_live_<prefix>_<secret>` ([`api_keys`]);
//! - a JWT from `POST /api/v1/auth/login` ([`jwt`]), refused once its tenant's token
//!   generation moved on ("log out everywhere").
//!
//! The result is a [`Principal`]: a role and the tenant the request acts for. Platform admins
//! name that tenant with `X-Tenant-Id`; anyone else who sends a different one gets 403, so a
//! tenant credential can never reach another tenant.

pub mod api_keys;
pub mod jwt;
pub mod login_limiter;
pub mod passwords;
mod principal;

pub use principal::{PlatformAdmin, Principal, Role, TenantAdmin};
