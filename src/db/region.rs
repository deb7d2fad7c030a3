//! `Region`: the geo-partitioning key carried by every regional row (DESIGN.md §4).

use std::fmt;

use bytes::BytesMut;
use postgres_types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use serde::{Deserialize, Serialize};

/// A region name such as `us-east`.
///
/// Binds as TEXT on PostgreSQL and as the `crdb_internal_region` enum on CockroachDB: `accepts` takes both, and
/// the wire format of an enum value is its label, the same bytes as the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Region(String);

impl Region {
    /// Wraps a region name that came from the database or from configuration.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn accepts_region(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::NAME) || matches!(ty.kind(), Kind::Enum(_))
}

impl ToSql for Region {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        accepts_region(ty)
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Region {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        accepts_region(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_accepts_text_and_enums_only() {
        assert!(<Region as ToSql>::accepts(&Type::TEXT));
        assert!(<Region as ToSql>::accepts(&Type::VARCHAR));
        let crdb_enum = Type::new(
            "crdb_internal_region".into(),
            100_001,
            Kind::Enum(vec!["us-east".into(), "us-west".into()]),
            "public".into(),
        );
        assert!(<Region as ToSql>::accepts(&crdb_enum));
        assert!(<Region as FromSql>::accepts(&crdb_enum));
        assert!(!<Region as ToSql>::accepts(&Type::INT4));
    }
}
