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

/// Deserializes an integer field of a JSON body, written plainly (`90`) or with a zero fraction (`90.0`, `9e1`):
/// JSON Schema's `integer`, the type the OpenAPI document gives these fields, admits every number with a zero
/// fractional part, and JSON does not tell the two spellings apart. Use it as
/// `#[serde(deserialize_with = "crate::extract::integer")]`; the field's bounds are checked where it is validated.
///
/// # Errors
/// Not a number, a fraction, or a value outside `T`.
pub fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    deserializer.deserialize_any(Integer(std::marker::PhantomData))
}

struct Integer<T>(std::marker::PhantomData<T>);

impl<T: TryFrom<i64> + TryFrom<u64>> serde::de::Visitor<'_> for Integer<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer in range")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        // -2^63 and 2^63 are exact in f64: the range check makes the cast below lossless.
        const BOUND: f64 = 9_223_372_036_854_775_808.0;
        if v.fract() == 0.0 && (-BOUND..BOUND).contains(&v) {
            #[expect(clippy::cast_possible_truncation, reason = "an integral value inside i64, checked above")]
            return self.visit_i64(v as i64);
        }
        Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::integer")]
        n: i32,
    }

    fn parse(json: &str) -> Result<i32, String> {
        serde_json::from_str::<Body>(json).map(|b| b.n).map_err(|e| e.to_string())
    }

    #[test]
    fn integers_are_read_with_or_without_a_zero_fraction_and_nothing_else() {
        for (json, n) in [("90", 90), ("90.0", 90), ("9e1", 90), ("-3.0", -3), ("0.0", 0), ("-0.0", 0)] {
            assert_eq!(parse(&format!(r#"{{"n": {json}}}"#)), Ok(n), "{json}");
        }
        for json in ["90.5", "1e-1", "2147483648", "2147483648.0", "-2147483649", "1e300", "\"90\"", "true", "null"] {
            let error = parse(&format!(r#"{{"n": {json}}}"#)).expect_err(json);
            assert!(error.contains("expected an integer in range"), "{json}: {error}");
        }
    }
}
