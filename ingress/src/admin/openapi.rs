//! The admin API's contract: an OpenAPI 3.1 document built from the handlers themselves, served
//! at `/api/openapi.json`, and a browsable reference at `/api/docs`.
//!
//! Each handler carries a `#[utoipa::path]` describing its method, path, body, parameters and
//! success answers, and the router is assembled from those same handlers (`utoipa_axum`'s
//! `routes!`), so a route cannot exist without being documented. What every operation shares
//! is added here once, by [`CommonAnswers`]: the bearer security scheme and the error answers
//! (all with the [`ErrorBody`] shape) that any authenticated, tenant-scoped call can produce.
//!
//! The reference page is Scalar's: a static HTML page with the document embedded that loads
//! Scalar's script from its CDN in the reader's browser. The server stays offline-capable; the
//! JSON document is the contract and needs nothing else.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::Html;
use axum::routing::get;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as OpenApiDocument, RefOr, Response, ResponseBuilder,
    SecurityRequirement,
};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::ErrorBody;

/// The document's fixed parts; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard admin API",
        description = "Tenants, users, API keys, channel credentials, contacts, conversations, \
            dead letters and the audit log of a Switchyard deployment. Every call carries \
            `Authorization: Bearer <credential>`: the platform's `ADMIN_TOKEN`, a login JWT, \
            or a tenant API key (`sk_live_…`). Platform admins act on a tenant by naming it \
            in `X-Tenant-Id`. Errors always have the `ErrorBody` shape.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Logging in and out; who am I"),
        (name = "users", description = "People who log in"),
        (name = "api-keys", description = "A tenant's API keys"),
        (name = "tenants", description = "Tenants: the platform's view and a tenant's own"),
        (name = "channels", description = "Channel credentials and routing keys"),
        (name = "vault", description = "Credentials of other systems a tenant connects"),
        (name = "contacts", description = "A tenant's contacts"),
        (name = "conversations", description = "Conversations and messages, read-only"),
        (name = "prompts", description = "Prompt bundles: the global one and a tenant's own"),
        (name = "llm", description = "A tenant's LLM settings and token use"),
        (name = "flows", description = "Modules and message flows: what the automation says"),
        (name = "dead-letters", description = "Events the workers gave up on: list, inspect, \
            replay (one, or in bulk by filter with a dry run), discard"),
        (name = "unroutable", description = "Verified events no tenant took, replayed once \
            the tenant is configured (platform admins)"),
        (name = "platform", description = "Platform-wide statistics and the audit log"),
    ),
)]
pub struct ApiDoc;

/// Adds what every operation shares: bearer authentication (login excepted) and the error
/// answers.
pub struct CommonAnswers;

const BEARER: &str = "bearer";

/// Error answers any operation may give, with why.
const COMMON_ERRORS: [(&str, &str); 7] = [
    (
        "400",
        "Unparsable JSON, or a platform admin did not name a tenant with X-Tenant-Id",
    ),
    ("401", "Missing or invalid credentials"),
    (
        "403",
        "The caller's role may not do this, or X-Tenant-Id names another tenant",
    ),
    ("404", "No such resource for the acting tenant"),
    ("422", "The body or query is invalid; `fields` says why"),
    ("500", "Internal error (details are logged, never sent)"),
    ("503", "A dependency is unavailable; retry later"),
];

/// Operations anyone may call without credentials.
const PUBLIC_OPERATIONS: [&str; 1] = ["login"];

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "ADMIN_TOKEN, a JWT from /api/v1/auth/login, or an sk_live_ API key",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_common(operation);
            }
        }
    }
}

fn add_common(operation: &mut Operation) {
    let public = operation
        .operation_id
        .as_deref()
        .is_some_and(|id| PUBLIC_OPERATIONS.contains(&id));
    if !public {
        operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
    for (status, description) in COMMON_ERRORS {
        if public && matches!(status, "401" | "403" | "404") {
            continue;
        }
        add_error(operation, status, description);
    }
    if operation.request_body.is_some() {
        add_error(operation, "413", "The body is larger than the limit");
        add_error(
            operation,
            "415",
            "The body is not JSON (Content-Type: application/json)",
        );
    }
}

fn add_error(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| error_answer(description));
}

fn error_answer(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name(
                        ErrorBody::name(),
                    )))
                    .build(),
            )
            .build(),
    )
}

/// The finished document: the router's paths under the fixed parts, with the common answers.
pub fn finish(mut openapi: OpenApiDocument) -> OpenApiDocument {
    CommonAnswers.modify(&mut openapi);
    openapi
}

/// `GET /api/openapi.json` and `GET /api/docs`, rendered once.
pub fn routes<S: Clone + Send + Sync + 'static>(openapi: &OpenApiDocument) -> Router<S> {
    let json = openapi
        .to_json()
        .unwrap_or_else(|e| format!(r#"{{"error":"the document did not serialize: {e}"}}"#));
    let page = utoipa_scalar::Scalar::new(openapi.clone())
        .title("Switchyard admin API")
        .to_html();
    Router::new()
        .route(
            "/api/openapi.json",
            get(move || async move { ([(CONTENT_TYPE, "application/json")], json) }),
        )
        .route("/api/docs", get(move || async move { Html(page) }))
}
