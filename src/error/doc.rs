//! How problem documents appear in the OpenAPI document: the [`ProblemDocument`] schema, the [`AdminOnly`] and
//! [`BadJson`] answers an operation lists in its `responses(..)`, and [`problem_response`] to build others. They
//! sit beside [`ApiError`](super::ApiError), which builds the real documents, so that a capability's handlers can
//! describe their errors without importing the document that assembles them (the `openapi` module).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Response};

use super::{FieldError, PROBLEM_JSON};

/// An RFC 9457 problem document, as every error response carries it (for the documentation; [`super::ApiError`]
/// builds the real ones).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDocument {
    /// Stable problem type URI, e.g. `https://boxoffice.dev/problems/seats-unavailable`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Fixed summary of the type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// Invalid inputs (validation problems only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// The answers of an admin-only operation to a caller who may not use it: 401 (no valid token) and 403 (not an
/// admin). Listed in an operation's `responses(..)` like a tuple.
pub struct AdminOnly;

impl utoipa::IntoResponses for AdminOnly {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("401".to_owned(), problem_response("Missing, invalid or expired token", &[])),
            ("403".to_owned(), problem_response("Not an admin", &[])),
        ])
    }
}

/// The answer to a JSON body of the wrong shape: 422 (a missing or mistyped field, or an unknown one).
pub struct BadJson;

impl utoipa::IntoResponses for BadJson {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([("422".to_owned(), problem_response("Wrong JSON shape or an unknown field", &[]))])
    }
}

/// A problem+json response with `headers` (name, schema type, description), for the document.
pub fn problem_response(description: &str, headers: &[(&str, Type, &str)]) -> RefOr<Response> {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("ProblemDocument"))).build());
    for (name, schema_type, about) in headers {
        let header = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(schema_type.clone()))
            .description(Some(*about))
            .build();
        response = response.header(*name, header);
    }
    RefOr::T(response.build())
}
