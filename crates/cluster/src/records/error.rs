//! From PostgreSQL's errors to [`StoreError`].
//!
//! The orphan rule forbids `impl From<sqlx::Error> for StoreError` here, so the record
//! functions return [`DbError`], which holds either a driver error or an answer already in the
//! ports' words, and `?` in the trait methods turns it into a [`StoreError`].

use seckill_domain::validation::FieldErrors;
use seckill_store::{Conflict, StoreError};

/// An error inside a record function: a driver failure, or a store answer decided by our code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a record function.
pub(crate) type DbResult<T> = Result<T, DbError>;

impl From<Conflict> for DbError {
    fn from(c: Conflict) -> Self {
        DbError::Store(StoreError::Conflict(c))
    }
}

impl From<FieldErrors> for DbError {
    fn from(e: FieldErrors) -> Self {
        DbError::Store(StoreError::Invalid(e))
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Store(s) => s,
            DbError::Sqlx(e) => from_sqlx(e),
        }
    }
}

/// Stored data that breaks our own rules (a bug or corruption).
pub(crate) fn corrupt(what: impl std::fmt::Display) -> DbError {
    DbError::Store(seckill_rows::corrupt(what))
}

/// `Invalid` on one field.
pub(crate) fn invalid(field: &str, message: impl Into<String>) -> DbError {
    DbError::Store(StoreError::Invalid(FieldErrors::single(field, message)))
}

/// Whether a SQLSTATE means "try again later": the connection (class 08), the server's
/// resources (53), an operator or a shutdown (57), a lock not granted (55P03), or a
/// transaction that lost a race and was rolled back (40: serialization failure, deadlock).
fn is_transient(sqlstate: &str) -> bool {
    ["08", "53", "57", "40"].iter().any(|class| sqlstate.starts_with(class)) || sqlstate == "55P03"
}

/// Maps a driver error. Messages come from PostgreSQL and sqlx and never carry bound
/// parameters, so no password hash or other value reaches a log through here.
fn from_sqlx(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            if db.is_unique_violation()
                && db.constraint().is_some_and(|c| c == "users_username_key" || c == "admins_username_key")
            {
                return StoreError::Conflict(Conflict::UsernameTaken);
            }
            match db.code() {
                Some(code) if is_transient(&code) => StoreError::Unavailable(db.message().to_owned()),
                _ => StoreError::Internal(db.message().to_owned()),
            }
        }
        other => StoreError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_rows_and_pool_timeouts_keep_their_meaning() {
        assert!(matches!(StoreError::from(DbError::from(sqlx::Error::RowNotFound)), StoreError::NotFound));
        assert!(matches!(StoreError::from(DbError::from(sqlx::Error::PoolTimedOut)), StoreError::Unavailable(_)));
        assert!(matches!(
            StoreError::from(DbError::from(Conflict::UsernameTaken)),
            StoreError::Conflict(Conflict::UsernameTaken)
        ));
    }

    #[test]
    fn lost_races_and_lost_connections_are_worth_a_retry_and_bugs_are_not() {
        for code in ["40001", "40P01", "08006", "53300", "57P01", "55P03"] {
            assert!(is_transient(code), "{code}");
        }
        for code in ["23505", "23514", "42601", "22P02"] {
            assert!(!is_transient(code), "{code}");
        }
    }
}
