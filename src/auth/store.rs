//! Identity SQL: users and their credentials.

use deadpool_postgres::GenericClient;
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::model::{Email, NewUser, PersonName, PhoneNumber, Role, UserId};
use crate::db::{is_unique_violation, queries};

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Normalised email.
    pub email: String,
    /// E.164 phone number.
    pub phone_number: String,
    /// Role.
    pub role: Role,
    /// Registration time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A user with what a login needs.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user.
    pub user: User,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// Why registering failed.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// `users_email_key`: the address has an account.
    #[error("email already registered")]
    EmailTaken,
    /// Anything else.
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
}

fn user_from_row(row: &Row) -> Result<User, tokio_postgres::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId(row.try_get::<_, Uuid>("id")?),
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone_number: row.try_get("phone_number")?,
        // The CHECK constraint users_role_check admits only these two values.
        role: role.parse().unwrap_or(Role::Customer),
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts a user with an already computed hash.
///
/// # Errors
/// [`InsertError::EmailTaken`] on a duplicate email; database errors otherwise.
pub async fn insert(
    client: &impl GenericClient,
    new: &NewUser,
    password_hash: &str,
    role: Role,
) -> Result<User, InsertError> {
    let stmt = client.prepare_cached(queries::users::INSERT).await?;
    let row = client
        .query_one(
            &stmt,
            &[&new.name.as_str(), &new.email.as_str(), &new.phone_number.as_str(), &password_hash, &role.as_str()],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e, "users_email_key") { InsertError::EmailTaken } else { InsertError::Db(e) }
        })?;
    Ok(user_from_row(&row)?)
}

/// Creates an account with `role` (admin or staff), or gives the account of that email the role and resets its
/// password.
///
/// # Errors
/// Database errors.
pub async fn upsert_role(
    client: &impl GenericClient,
    (name, email, phone_number): (&PersonName, &Email, &PhoneNumber),
    password_hash: &str,
    role: Role,
) -> Result<User, tokio_postgres::Error> {
    let stmt = client.prepare_cached(queries::users::UPSERT_ROLE).await?;
    let row = client
        .query_one(&stmt, &[&name.as_str(), &email.as_str(), &phone_number.as_str(), &password_hash, &role.as_str()])
        .await?;
    user_from_row(&row)
}

/// The credentials of the account with this email, if any.
///
/// # Errors
/// Database errors.
pub async fn find_credentials(
    client: &impl GenericClient,
    email: &Email,
) -> Result<Option<Credentials>, tokio_postgres::Error> {
    let stmt = client.prepare_cached(queries::users::FIND_BY_EMAIL).await?;
    let Some(row) = client.query_opt(&stmt, &[&email.as_str()]).await? else {
        return Ok(None);
    };
    Ok(Some(Credentials { user: user_from_row(&row)?, password_hash: row.try_get("password_hash")? }))
}

/// A user by id.
///
/// # Errors
/// Database errors.
pub async fn find_by_id(client: &impl GenericClient, id: UserId) -> Result<Option<User>, tokio_postgres::Error> {
    let stmt = client.prepare_cached(queries::users::FIND_BY_ID).await?;
    client.query_opt(&stmt, &[&id.0]).await?.as_ref().map(user_from_row).transpose()
}
