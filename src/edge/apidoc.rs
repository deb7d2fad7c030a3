//! What the edge adds to the OpenAPI document ([`Conventions`]): the answers any operation can give because of
//! the layers in front of every handler (429 from the rate limiters, 503 from the request timeout or an unavailable
//! dependency, 400, 413 and 415 for request bodies), and the list of every problem type.

use utoipa::Modify;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::Type;
use utoipa::openapi::{Ref, RefOr};

use super::middleware::UNLIMITED;
use crate::error::doc::problem_response;
use crate::error::{PROBLEM_BASE, Problem};

/// Adds the edge's responses to every operation and the `x-problem-types` list to the document.
pub struct Conventions;

const RETRY_AFTER: (&str, Type, &str) = ("Retry-After", Type::Integer, "Seconds to wait before retrying");

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let shared = [
            (
                "RateLimited",
                problem_response(
                    "`rate-limited`: a quota is spent (per client address on every route; per user on holds and \
                     payments; per account and address on logins; per address on registrations). \
                     `violatedPolicies` names the quota.",
                    &[
                        RETRY_AFTER,
                        (
                            "RateLimit-Policy",
                            Type::String,
                            "Quota policies, e.g. `\"per-ip\";q=100;w=2` (draft-ietf-httpapi-ratelimit-headers-11)",
                        ),
                        ("RateLimit", Type::String, "What is left, e.g. `\"per-ip\";r=0;t=1`"),
                    ],
                ),
            ),
            (
                "Unavailable",
                problem_response(
                    "`service-unavailable` or `timeout`: a dependency is unavailable, contention did not resolve, or \
                     the request took longer than the server allows",
                    &[RETRY_AFTER],
                ),
            ),
            ("MalformedJson", problem_response("`malformed-json`: the body is not well-formed JSON", &[])),
            ("PayloadTooLarge", problem_response("`payload-too-large`: the body is larger than the limit", &[])),
            (
                "UnsupportedMediaType",
                problem_response("`unsupported-media-type`: the body must be `application/json`", &[]),
            ),
        ];
        for (name, response) in shared {
            components.responses.insert(name.to_owned(), response);
        }
        let reference = |name: &str| RefOr::Ref(Ref::from_response_name(name));
        for (path, item) in &mut openapi.paths.paths {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let has_body = operation.request_body.is_some();
                let responses = &mut operation.responses.responses;
                if !UNLIMITED.contains(&path.as_str()) {
                    responses.entry("429".into()).or_insert_with(|| reference("RateLimited"));
                }
                responses.entry("503".into()).or_insert_with(|| reference("Unavailable"));
                if has_body {
                    responses.entry("400".into()).or_insert_with(|| reference("MalformedJson"));
                    responses.entry("413".into()).or_insert_with(|| reference("PayloadTooLarge"));
                    responses.entry("415".into()).or_insert_with(|| reference("UnsupportedMediaType"));
                }
            }
        }

        let types: Vec<serde_json::Value> = Problem::ALL
            .iter()
            .map(|p| {
                serde_json::json!({
                    "type": format!("{PROBLEM_BASE}{}", p.slug()),
                    "status": p.status().as_u16(),
                    "title": p.title(),
                })
            })
            .collect();
        let table: String = Problem::ALL
            .iter()
            .map(|p| format!("| `{}` | {} | {} |\n", p.slug(), p.status().as_u16(), p.title()))
            .collect();
        let info = &mut openapi.info;
        let description = info.description.take().unwrap_or_default();
        info.description = Some(format!(
            "{description}\n\n\
             Every error is an RFC 9457 `application/problem+json` document whose `type` is \
             `{PROBLEM_BASE}<slug>`; the list is also in `x-problem-types`:\n\n\
             | slug | status | title |\n|---|---|---|\n{table}\n\
             Rate limits: a refused request gets a `rate-limited` problem with `Retry-After`; limited responses carry \
             `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11)."
        ));
        let extensions = ExtensionsBuilder::new().add("x-problem-types", types).build();
        match &mut openapi.extensions {
            Some(existing) => existing.merge(extensions),
            None => openapi.extensions = Some(extensions),
        }
    }
}
