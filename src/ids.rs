//! Typed ids: one newtype over a UUID for each kind of row, so that a showtime id cannot be passed where a booking id
//! is meant (CONVENTIONS.md rule 6). Each serializes as the bare UUID, binds as `UUID` in SQL (`ToSql`/`FromSql`,
//! transparent: no `.0` at the call sites) and parses from a path segment. The modules that own them re-export them
//! (`catalog::model::ShowtimeId`, `booking::model::BookingId`, `auth::model::UserId`).

use std::fmt;
use std::str::FromStr;

use postgres_types::{FromSql, ToSql};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Serialized as the bare UUID; binds as `UUID` in SQL.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSql, FromSql,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[postgres(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A theater's id (unique across regions; its primary key is `(region, id)`).
    TheaterId
);
typed_id!(
    /// A movie's id (reference data, global).
    MovieId
);
typed_id!(
    /// A showtime's id (unique across regions; it resolves to its region through the cached showtime lookup).
    ShowtimeId
);
typed_id!(
    /// A city's id (reference data, global; each city belongs to one region).
    CityId
);
typed_id!(
    /// A user's id.
    UserId
);
typed_id!(
    /// A booking's id.
    BookingId
);

impl BookingId {
    /// A new random id (made by the service, so that a retried or ambiguous transaction can be recognised by it).
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for BookingId {
    fn default() -> Self {
        Self::new()
    }
}
