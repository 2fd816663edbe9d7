//! From SQLite's errors to [`StoreError`].
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

// Primary result codes (the low byte of an extended code) that mean "try again later".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_PROTOCOL: i64 = 15;

/// Maps a driver error. Messages come from SQLite and sqlx and never carry bound parameters,
/// so no password hash or other value reaches a log through here.
fn from_sqlx(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() && db.message().contains("username_key") {
                return StoreError::Conflict(Conflict::UsernameTaken);
            }
            let code = db.code().and_then(|c| c.parse::<i64>().ok());
            if code.is_some_and(means_try_again) {
                StoreError::Unavailable(db.message().to_owned())
            } else {
                StoreError::Internal(db.message().to_owned())
            }
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// Whether SQLite's (extended) result code means "try again later" rather than a bug.
fn means_try_again(code: i64) -> bool {
    matches!(
        code & 0xff,
        SQLITE_BUSY
            | SQLITE_LOCKED
            | SQLITE_NOMEM
            | SQLITE_READONLY
            | SQLITE_IOERR
            | SQLITE_FULL
            | SQLITE_CANTOPEN
            | SQLITE_PROTOCOL
    )
}

/// The order batch connection's errors (`batch.rs`), mapped as sqlx's are. Messages come from
/// SQLite and never carry bound parameters.
impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        let code = match &e {
            rusqlite::Error::SqliteFailure(failure, _) => Some(i64::from(failure.extended_code)),
            _ => None,
        };
        DbError::Store(if code.is_some_and(means_try_again) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Internal(e.to_string())
        })
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
    fn the_batch_connections_errors_mean_what_sqlxs_do() {
        let failure =
            |extended: i32| DbError::from(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(extended), None));
        // SQLITE_BUSY_SNAPSHOT (517) and SQLITE_IOERR_FSYNC (1034): try again later.
        for busy in [5, 517, 1034, 13] {
            assert!(matches!(StoreError::from(failure(busy)), StoreError::Unavailable(_)), "{busy}");
        }
        // SQLITE_CONSTRAINT_CHECK (275): a bug, not a hiccup.
        assert!(matches!(StoreError::from(failure(275)), StoreError::Internal(_)));
        assert!(matches!(StoreError::from(DbError::from(rusqlite::Error::InvalidQuery)), StoreError::Internal(_)));
    }
}
