//! Pure identity types: parsed, bounded inputs and roles. Invalid values cannot be constructed.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::error::FieldError;

pub use crate::ids::UserId;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Books seats for themself.
    Customer,
    /// Manages the catalog and sees every booking.
    Admin,
    /// Scans tickets at the door (check-in); granted like admin, from the command line.
    Staff,
}

impl Role {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
            Self::Staff => "staff",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            "staff" => Ok(Self::Staff),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// An email address, trimmed and lower-cased (the unique key compares this form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses a plausible address: one `@`, a local part of 1–64 printable ASCII characters, a dotted domain whose
    /// labels are 1–63 letters, digits or hyphens (internationalised domains in their `xn--` form), 254 characters
    /// at most (RFC 5321 limits), surrounding white space ignored. ASCII only, so that the limits in characters (the
    /// OpenAPI schema's) and in bytes (RFC 5321's) are the same. Deliverability is not checked.
    ///
    /// # Errors
    /// What is wrong, for a person.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.len() > 254 {
            return Err("must be 1 to 254 characters".into());
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters".into());
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must contain @".into());
        };
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        let local_ok = (1..=64).contains(&local.len()) && local.bytes().all(|b| b.is_ascii_graphic() && b != b'@');
        if !local_ok || !domain_ok {
            return Err("is not a valid email address".into());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's display name: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name.
    ///
    /// # Errors
    /// What is wrong, for a person.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let len = name.chars().count();
        if !(1..=100).contains(&len) {
            return Err("must be 1 to 100 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form (`+` and 7–15 digits); spaces, dots, dashes and parentheses are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number such as `+1 (212) 555-0100`.
    ///
    /// # Errors
    /// What is wrong, for a person.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > 32 {
            return Err("must be at most 32 characters".into());
        }
        let compact: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be an international number: + then 7 to 15 digits".into());
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8–128 characters, not only white space. Kept secret in `Debug`.
#[derive(Debug, Clone)]
pub struct NewPassword(Secret);

impl NewPassword {
    /// Parses a password chosen at registration.
    ///
    /// # Errors
    /// What is wrong, for a person (never echoing the password).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(8..=128).contains(&len) {
            return Err("must be 8 to 128 characters".into());
        }
        if raw.trim().is_empty() {
            return Err("must not be only white space".into());
        }
        Ok(Self(Secret::new(raw)))
    }

    /// The password, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A validated registration.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Display name.
    pub name: PersonName,
    /// Login and contact address.
    pub email: Email,
    /// Contact number.
    pub phone_number: PhoneNumber,
    /// Chosen password.
    pub password: NewPassword,
}

impl NewUser {
    /// Validates every field, reporting all bad ones at once (`body.<field>`).
    ///
    /// # Errors
    /// One [`FieldError`] per invalid field.
    pub fn parse(name: &str, email: &str, phone_number: &str, password: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldError { field: format!("body.{field}"), message });
            }
        };
        let name_r = PersonName::parse(name);
        let email_r = Email::parse(email);
        let phone_r = PhoneNumber::parse(phone_number);
        let password_r = NewPassword::parse(password);
        check("name", name_r.as_ref().map(|_| ()).map_err(Clone::clone));
        check("email", email_r.as_ref().map(|_| ()).map_err(Clone::clone));
        check("phoneNumber", phone_r.as_ref().map(|_| ()).map_err(Clone::clone));
        check("password", password_r.as_ref().map(|_| ()).map_err(Clone::clone));
        match (name_r, email_r, phone_r, password_r) {
            (Ok(name), Ok(email), Ok(phone_number), Ok(password)) => Ok(Self { name, email, phone_number, password }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_bad_ones_refused() {
        assert_eq!(Email::parse("  Ada@Example.COM ").map(|e| e.0), Ok("ada@example.com".into()));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@@example.com",
            "ada@ex..com",
            "adé@example.com",
            "ada@exämple.com",
            "ada@ex_ample.com",
            "a\u{7}da@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(PhoneNumber::parse("+1 (212) 555-0100").map(|p| p.0), Ok("+12125550100".into()));
        assert_eq!(PhoneNumber::parse("4930 1234567").map(|p| p.0), Ok("+49301234567".into()));
        assert!(PhoneNumber::parse("  (+1) 212-555.0100 ").is_ok());
        for bad in ["", "123", "+1 212 555 01OO", "+1234567890123456", "+1 212 555 0100 ---------------------"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_and_passwords_have_bounds() {
        assert!(PersonName::parse("  ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert!(PersonName::parse("Zoë Ångström").is_ok());
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse(&"p".repeat(129)).is_err());
        assert!(NewPassword::parse("        ").is_err());
        assert!(NewPassword::parse("correct horse").is_ok());
    }

    #[test]
    fn new_user_reports_every_bad_field() {
        let errors = NewUser::parse("", "nope", "12", "short").expect_err("all invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["body.name", "body.email", "body.phoneNumber", "body.password"]);
        assert!(!errors.iter().any(|e| e.message.contains("short")), "password echoed");
    }
}
