//! Extractors whose rejections are problem+json: use these instead of axum's `Json`, `Query` and `Path`.

use axum::extract::{FromRequest, FromRequestParts};

use crate::error::ApiError;

/// `axum::Json` with [`ApiError`] rejections (400 malformed JSON, 415 wrong media type, 422 wrong shape, 413 too
/// large). Request types use `#[serde(deny_unknown_fields)]`, so an unknown field is a 422 naming it.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query` with [`ApiError`] rejections (400 naming the parameter).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` with [`ApiError`] rejections (400 naming the segment).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
