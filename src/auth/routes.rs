//! Identity handlers: register, log in, who am I.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use super::model::{Email, NewUser, Role};
use super::store::{self, InsertError, User};
use super::token::{IssuedToken, TokenKeys};
use super::{AuthState, AuthUser, password};
use crate::edge::model::{Scope, address_key};
use crate::edge::{ClientIp, Edge, RateLimitHeaders};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath};

/// `POST /users` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterBody {
    /// Display name: 1–100 characters once trimmed, no control characters.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    name: String,
    /// Email address (ASCII; stored trimmed and lower-cased): a local part of 1–64 printable characters, a dotted
    /// domain of letters, digits and hyphens; 254 characters at most.
    #[schema(
        max_length = 254,
        pattern = r"^\s*[!-?A-~]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+\s*$",
        example = "ada@example.com"
    )]
    email: String,
    /// International phone number: `+` and 7–15 digits; spaces, dots, dashes and parentheses are ignored.
    #[serde(alias = "phone_number")]
    #[schema(
        max_length = 32,
        pattern = r"^\s*[ ().-]*\+?(?:[ ().-]*[0-9]){7,15}[ ().-]*\s*$",
        example = "+1 212 555 0100"
    )]
    phone_number: String,
    /// 8–128 characters, not only white space.
    #[schema(min_length = 8, max_length = 128, pattern = r"^[^\u0000]*\S[^\u0000]*$", format = Password)]
    password: String,
}

/// `POST /users`: registers a customer. 201 with the user and its `Location` (`/users/{id}`, which its owner may
/// read); 409 `email-taken`.
#[utoipa::path(post, path = "/users", tag = "identity", request_body = RegisterBody, responses(
    (status = 201, description = "Account created", body = User,
        headers(("Location" = String, description = "`/users/{userId}`: the new account"))),
    (status = 400, description = "A field is invalid; `errors` lists each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
    (status = 409, description = "`email-taken`: the email already has an account", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
    (status = 422, description = "Wrong JSON shape or an unknown field", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn register(
    State(state): State<Arc<AuthState>>,
    State(edge): State<Arc<Edge>>,
    client: ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<(StatusCode, RateLimitHeaders, [(header::HeaderName, String); 1], Json<User>)> {
    let limit = edge.enforce(Scope::Signup, &address_key(client.0).to_string()).await?;
    let user = create_customer(&state, body).await.map_err(|e| limit.attach(e))?;
    let location = format!("/users/{}", user.id);
    Ok((StatusCode::CREATED, limit, [(header::LOCATION, location)], Json(user)))
}

async fn create_customer(state: &AuthState, body: RegisterBody) -> ApiResult<User> {
    let new = NewUser::parse(&body.name, &body.email, &body.phone_number, &body.password)
        .map_err(ApiError::invalid_fields)?;
    let hash = password::hash(new.password.expose().to_owned()).await.map_err(ApiError::internal)?;
    let client = state.db.write.get().await?;
    let user = store::insert(&client, &new, &hash, Role::Customer).await.map_err(|e| match e {
        InsertError::EmailTaken => ApiError::new(Problem::EmailTaken, "an account with this email already exists"),
        InsertError::Db(e) => ApiError::internal(e),
    })?;
    metrics::counter!("boxoffice_users_registered_total").increment(1);
    Ok(user)
}

/// `POST /auth/token` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The account's email address (any case, surrounding spaces ignored).
    #[schema(min_length = 1, max_length = 254, pattern = r"^[^\u0000]*$", example = "ada@example.com")]
    email: String,
    /// Its password.
    #[schema(min_length = 1, max_length = 1024, pattern = r"^[^\u0000]*$", format = Password)]
    password: String,
}

/// `POST /auth/token` answer (OAuth 2 style field names, camelCase like the rest of the API).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// `POST /auth/token`: email + password -> a signed access token.
///
/// Every refusal is the same 401 with the same body, in about the same time: an unknown account verifies against a
/// decoy hash, so neither the answer nor its timing tells whether an account exists. No account is ever locked: a
/// lock that failures from anywhere set let anyone keep the owner out. Before the password is looked at, the login
/// throttle ([`crate::edge::login`]: per account and address, and a ceiling of failures per account that the
/// owner's known addresses are exempt from) may answer 429 `login-throttled`, for an unknown account exactly as for
/// a real one.
#[utoipa::path(post, path = "/auth/token", tag = "identity", request_body = TokenBody, responses(
    (status = 200, description = "A bearer token", body = TokenResponse),
    (status = 401, description = "Invalid email or password (the same answer for an unknown account and a wrong password)", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
    (status = 429, description = "`login-throttled`: too many attempts for this account from this address, or too many failures for it from addresses it has not logged in from (the same for an account that does not exist); or `rate-limited`: this address's per-pod quota. `violatedPolicies` names the limit", body = crate::error::ProblemDocument, content_type = "application/problem+json", headers(
        ("Retry-After" = u64, description = "Seconds to wait before trying again"),
        ("RateLimit-Policy" = String, description = "The limit, e.g. `\"login\";q=10;w=300`"),
        ("RateLimit" = String, description = "What is left, e.g. `\"login\";r=0;t=30`"),
    )),
    (status = 422, description = "Wrong JSON shape", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn token(
    State(state): State<Arc<AuthState>>,
    State(edge): State<Arc<Edge>>,
    client_ip: ClientIp,
    ApiJson(body): ApiJson<TokenBody>,
) -> ApiResult<(RateLimitHeaders, Json<TokenResponse>)> {
    let limit = edge.admit_login(&body.email, client_ip.0).await?;
    let email = body.email.clone();
    let issued = match log_in(&state, body).await {
        Ok(issued) => {
            edge.login_succeeded(&email, client_ip.0).await;
            issued
        }
        Err(refused) => {
            if refused.status() == StatusCode::UNAUTHORIZED {
                edge.login_failed(&email).await;
            }
            return Err(limit.attach(refused));
        }
    };
    Ok((limit, Json(TokenResponse { access_token: issued.token, token_type: "Bearer", expires_in: issued.expires_in })))
}

async fn log_in(state: &AuthState, body: TokenBody) -> ApiResult<IssuedToken> {
    let refused = || ApiError::new(Problem::Unauthorized, "invalid email or password");
    let email = Email::parse(&body.email).ok();
    // The connection goes back to the pool before argon2 runs: holding one for the tens of milliseconds of a hash
    // let a burst of logins exhaust the pool (503s) while the database sat idle.
    let credentials = match &email {
        Some(email) => {
            let client = state.db.write.get().await?;
            store::find_credentials(&client, email).await.map_err(ApiError::internal)?
        }
        None => None,
    };
    // Bounded before hashing: argon2's cost must not be a lever for oversized inputs.
    let password = if body.password.len() <= 1024 { body.password } else { String::new() };
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let verified = password::verify(password, hash).await;
    match credentials {
        Some(credentials) if verified => {
            let keys: &TokenKeys = &state.tokens;
            let issued = keys.issue(credentials.user.id, credentials.user.role).map_err(ApiError::internal)?;
            metrics::counter!("boxoffice_logins_total", "outcome" => "ok").increment(1);
            Ok(issued)
        }
        _ => {
            metrics::counter!("boxoffice_logins_total", "outcome" => "refused").increment(1);
            Err(refused())
        }
    }
}

/// `GET /users/me`: the caller's account.
#[utoipa::path(get, path = "/users/me", tag = "identity", security(("bearer" = [])), responses(
    (status = 200, description = "The caller's account", body = User),
    (status = 401, description = "Missing, invalid or expired token", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn me(State(state): State<Arc<AuthState>>, user: AuthUser) -> ApiResult<Json<User>> {
    let client = state.db.read.get().await?;
    let found = store::find_by_id(&client, user.id).await.map_err(ApiError::internal)?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::new(Problem::Unauthorized, "the account behind this token no longer exists"))
}

/// `GET /users/{userId}`: an account, for its owner or an admin (the `Location` of `POST /users`).
#[utoipa::path(get, path = "/users/{userId}", tag = "identity", security(("bearer" = [])),
    params(("userId" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 400, description = "`userId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "Neither the account's owner nor an admin", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn get_user(
    State(state): State<Arc<AuthState>>,
    caller: AuthUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<Json<User>> {
    // Another customer's id is a 403 whether or not it exists: the answer tells nothing about other accounts.
    if caller.id.0 != id {
        caller.require_admin()?;
    }
    let client = state.db.read.get().await?;
    let found = store::find_by_id(&client, super::model::UserId(id)).await?;
    found.map(Json).ok_or_else(|| ApiError::not_found(format_args!("user {id}")))
}
