//! Shoppers, operators and delivery addresses, and the policy for their credentials.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{AddressId, AdminId, UserId};
use crate::validation::{FieldErrors, optional_text, text};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Most addresses one shopper may keep.
pub const MAX_ADDRESSES: usize = 20;
/// The level every new shopper starts at.
pub const NEW_USER_LEVEL: u8 = 1;

/// A shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    /// Membership level; activities may require a minimum.
    pub level: u8,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub nickname: Option<String>,
    pub created_at: Timestamp,
}

/// An operator of the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admin {
    pub id: AdminId,
    pub username: String,
    pub created_at: Timestamp,
}

/// A checked username: 3–32 characters of letters, digits, `_`, `-`, `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username (surrounding spaces are ignored; case is kept but names are unique
    /// regardless of case).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let n = name.chars().count();
        if !(3..=32).contains(&n) {
            return Err("must be 3 to 32 characters".into());
        }
        if !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err("may contain only letters, digits, '_', '-' and '.'".into());
        }
        Ok(Username(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a new password against the policy (length only: long passphrases beat rules).
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

/// A valid registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: Username,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub nickname: Option<String>,
}

impl NewUser {
    /// Parses a registration, collecting every problem (the password is checked but not kept).
    pub fn parse(
        username: &str,
        password: &str,
        phone: Option<&str>,
        email: Option<&str>,
        nickname: Option<&str>,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let username = Username::parse(username).map_err(|m| errors.add("username", m)).ok();
        if let Err(m) = check_password(password) {
            errors.add("password", m);
        }
        let phone = optional_text(&mut errors, "phone", phone, 20);
        if let Some(Err(m)) = phone.as_deref().map(check_phone) {
            errors.add("phone", m);
        }
        let email = optional_text(&mut errors, "email", email, 254);
        if let Some(e) = &email {
            let valid = e
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'));
            if !valid || e.contains(char::is_whitespace) {
                errors.add("email", "must be an email address");
            }
        }
        let nickname = optional_text(&mut errors, "nickname", nickname, 32);
        match username {
            Some(username) if errors.is_empty() => Ok(NewUser { username, phone, email, nickname }),
            _ => Err(errors),
        }
    }
}

fn check_phone(phone: &str) -> Result<(), String> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    if allowed && (5..=15).contains(&digits) { Ok(()) } else { Err("must be a phone number".into()) }
}

/// A shopper's delivery address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub id: AddressId,
    pub user_id: UserId,
    pub contact: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub is_default: bool,
}

impl Address {
    /// The copy kept on an order, so later edits of the address never change where an order
    /// ships.
    pub fn snapshot(&self) -> AddressSnapshot {
        AddressSnapshot {
            contact: self.contact.clone(),
            phone: self.phone.clone(),
            text: format!("{} {} {} {}", self.province, self.city, self.district, self.detail),
        }
    }
}

/// The address as copied onto an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressSnapshot {
    pub contact: String,
    pub phone: String,
    pub text: String,
}

/// A valid new address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    pub contact: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub is_default: bool,
}

/// Raw address input.
#[derive(Debug, Clone, Default)]
pub struct AddressInput<'a> {
    pub contact: &'a str,
    pub phone: &'a str,
    pub province: &'a str,
    pub city: &'a str,
    pub district: &'a str,
    pub detail: &'a str,
    pub is_default: Option<bool>,
}

impl NewAddress {
    /// Parses an address, collecting every problem.
    pub fn parse(input: &AddressInput<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let contact = text(&mut errors, "contact", input.contact, 32);
        let phone = text(&mut errors, "phone", input.phone, 20);
        if errors.get("phone").is_none()
            && let Err(m) = check_phone(&phone)
        {
            errors.add("phone", m);
        }
        let province = text(&mut errors, "province", input.province, 32);
        let city = text(&mut errors, "city", input.city, 32);
        let district = text(&mut errors, "district", input.district, 32);
        let detail = text(&mut errors, "detail", input.detail, 200);
        errors.into_result(NewAddress {
            contact,
            phone,
            province,
            city,
            district,
            detail,
            is_default: input.is_default.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_short_words() {
        assert_eq!(Username::parse(" alice_01 ").unwrap().as_str(), "alice_01");
        assert!(Username::parse("张三丰").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("a b c").is_err());
        assert!(Username::parse("<script>").is_err());
        assert!(Username::parse(&"x".repeat(33)).is_err());
    }

    #[test]
    fn a_registration_reports_every_bad_field() {
        let e = NewUser::parse("a", "short", Some("12ab"), Some("nope"), None).unwrap_err();
        for f in ["username", "password", "phone", "email"] {
            assert!(e.get(f).is_some(), "{f}: {e}");
        }
        let ok =
            NewUser::parse("alice", "correct horse", Some("+86 138-0013-8000"), Some("a@b.cn"), Some(" Al ")).unwrap();
        assert_eq!(ok.nickname.as_deref(), Some("Al"));
        assert!(NewUser::parse("alice", &"p".repeat(129), None, None, None).is_err());
    }

    #[test]
    fn an_address_needs_every_part_and_snapshots_as_one_line() {
        let e = NewAddress::parse(&AddressInput::default()).unwrap_err();
        for f in ["contact", "phone", "province", "city", "district", "detail"] {
            assert!(e.get(f).is_some(), "{f}");
        }
        let a = NewAddress::parse(&AddressInput {
            contact: "张三",
            phone: "13800138000",
            province: "浙江省",
            city: "杭州市",
            district: "余杭区",
            detail: "文一西路 969 号",
            is_default: Some(true),
        })
        .unwrap();
        let stored = Address {
            id: AddressId::from_raw(1),
            user_id: UserId::from_raw(1),
            contact: a.contact,
            phone: a.phone,
            province: a.province,
            city: a.city,
            district: a.district,
            detail: a.detail,
            is_default: a.is_default,
        };
        assert_eq!(stored.snapshot().text, "浙江省 杭州市 余杭区 文一西路 969 号");
    }
}
