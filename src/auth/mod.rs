//! Identity: users, passwords, access tokens, and the [`AuthUser`] extractor.
//!
//! Routes: `POST /users` (register), `POST /auth/token` (log in), `GET /users/me`, `GET /users/{userId}` (admin).

pub mod model;
pub mod password;
pub mod routes;
pub mod store;
pub mod token;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{get, post};

use crate::db::Db;
use crate::edge::Edge;
use crate::error::{ApiError, Problem};
use model::{Role, UserId};
use token::{TokenError, TokenKeys};

/// What the identity handlers use, shared by every request (one `Arc`, so extracting it is one atomic increment).
pub struct AuthState {
    /// The pools: accounts are read and written on the primary, looked up on the read pool.
    pub db: Db,
    /// Signs the tokens a login issues (the same keys [`AuthUser`] verifies with).
    pub tokens: Arc<TokenKeys>,
}

/// The identity routes, for any state that yields their [`AuthState`], the token keys (for [`AuthUser`]) and the
/// [`Edge`] (registrations and logins are rate limited).
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<AuthState>: FromRef<S>,
    Arc<TokenKeys>: FromRef<S>,
    Arc<Edge>: FromRef<S>,
{
    Router::new()
        .route("/users", post(routes::register))
        .route("/users/me", get(routes::me))
        .route("/users/{user_id}", get(routes::get_user))
        .route("/auth/token", post(routes::token))
}

/// The authenticated caller, from a valid `Authorization: Bearer` token; a missing or invalid token is a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    /// The user's id.
    pub id: UserId,
    /// The role the token was issued with.
    pub role: Role,
}

impl AuthUser {
    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may scan tickets at the door: staff, or an admin.
    pub fn may_scan(&self) -> bool {
        matches!(self.role, Role::Staff | Role::Admin)
    }

    /// A 403 unless the caller is an admin.
    ///
    /// # Errors
    /// `forbidden` for any other role.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(Problem::Forbidden, "this operation needs the admin role"))
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Arc<TokenKeys>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Verified once a request: a middleware that needs the caller (the per-user write quota) leaves it here for
        // the handler. Extensions are the server's own; nothing a client sends can put an AuthUser there.
        if let Some(user) = parts.extensions.get::<Self>() {
            return Ok(*user);
        }
        let Some(token) = bearer(parts) else {
            return Err(ApiError::new(
                Problem::Unauthorized,
                "this route needs an access token: Authorization: Bearer <token> (POST /auth/token)",
            ));
        };
        let keys = Arc::<TokenKeys>::from_ref(state);
        match keys.verify(token) {
            Ok(claims) => {
                let user = Self { id: UserId(claims.sub), role: claims.role };
                parts.extensions.insert(user);
                Ok(user)
            }
            Err(TokenError::Expired) => Err(ApiError::new(Problem::Unauthorized, "the access token has expired")),
            Err(e) => Err(ApiError::new(Problem::Unauthorized, "the access token is invalid").caused_by(e)),
        }
    }
}

/// An authenticated admin; anyone else gets a 401 (no token) or a 403 (wrong role).
#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub AuthUser);

impl<S> FromRequestParts<S> for AdminUser
where
    S: Send + Sync,
    Arc<TokenKeys>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        user.require_admin()?;
        Ok(Self(user))
    }
}

/// An authenticated door scanner (staff, or an admin); anyone else gets a 401 (no token) or a 403 (wrong role).
#[derive(Debug, Clone, Copy)]
pub struct StaffUser(pub AuthUser);

impl<S> FromRequestParts<S> for StaffUser
where
    S: Send + Sync,
    Arc<TokenKeys>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !user.may_scan() {
            return Err(ApiError::new(Problem::Forbidden, "this operation needs the staff role (door scanners)"));
        }
        Ok(Self(user))
    }
}

/// Creates the admin account of `email`, or promotes it and resets its password (start-up bootstrap and
/// `boxoffice user create --admin`).
///
/// # Errors
/// Invalid email, password or name; database errors.
pub async fn ensure_admin(db: &crate::db::Db, email: &str, password: &str, name: &str) -> anyhow::Result<store::User> {
    ensure_role(db, email, password, name, Role::Admin).await
}

/// Creates the account of `email` with `role` (admin, or staff: door scanners), or gives it the role and resets its
/// password (`boxoffice user create --admin|--staff`). Customers register over the API.
///
/// # Errors
/// Invalid email, password or name; database errors.
pub async fn ensure_role(
    db: &crate::db::Db,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
) -> anyhow::Result<store::User> {
    let what = role.as_str();
    let email = model::Email::parse(email).map_err(|e| anyhow::anyhow!("{what} email {e}"))?;
    let password = model::NewPassword::parse(password).map_err(|e| anyhow::anyhow!("{what} password {e}"))?;
    let name = model::PersonName::parse(name).map_err(|e| anyhow::anyhow!("{what} name {e}"))?;
    // Accounts made by configuration have no phone; the column is required, so a reserved placeholder.
    let phone = model::PhoneNumber::parse("+10000000000").map_err(anyhow::Error::msg)?;
    let hash = password::hash(password.expose().to_owned()).await?;
    let client = db.write.get().await?;
    Ok(store::upsert_role(&client, (&name, &email, &phone), &hash, role).await?)
}
