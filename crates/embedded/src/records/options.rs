//! How the SQLite file is opened: path, durability, time zone, connection settings.
//!
//! Every connection of the process — the readers, the records' writer, the order batch
//! connection and the checkpointer — is built from [`SqliteOptions`] here, so they all agree
//! on WAL, foreign keys, `synchronous` and the busy timeout.

use std::path::PathBuf;
use std::time::Duration;

use seckill_domain::TimeZone;
use seckill_domain::validation::FieldErrors;
use seckill_store::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

/// How long a connection waits for another writer's lock before answering "busy"
/// ([`StoreError::Unavailable`]).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How hard a commit pushes data to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `synchronous=FULL`: a committed transaction survives a power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a committed transaction survives the process being killed
    /// (`kill -9`), but the last commits may be lost on a power loss. Faster.
    Normal,
}

/// Where and how to open the records.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file; it and its parent directory are created if missing.
    pub path: PathBuf,
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// The shop's zone, in which time slots are wall-clock times. Activity rules that depend on
    /// windows (at least one window, no product in two activities at once) are decided in it.
    pub tz: TimeZone,
    /// Size of the read pool (at least 1). Writes always go through one connection.
    pub read_connections: u32,
}

impl SqliteOptions {
    /// Options for `path` in zone `tz`: `synchronous=FULL` and 4 readers.
    pub fn new(path: impl Into<PathBuf>, tz: TimeZone) -> Self {
        SqliteOptions { path: path.into(), synchronous: Synchronous::Full, tz, read_connections: 4 }
    }

    /// The connection that checkpoints the WAL in the background (see
    /// [`SqliteRecords`](super::SqliteRecords)).
    pub(crate) fn checkpointer_options(&self) -> SqliteConnectOptions {
        self.connect_options(true).pragma("wal_autocheckpoint", "0").pragma("cache_size", "-2048")
    }

    /// A sqlx connection: every one has the [shared pragmas](Self::shared_pragmas) and a 5 s
    /// busy timeout; a writer creates the file if it is missing and puts it in WAL mode,
    /// readers never write.
    pub(crate) fn connect_options(&self, writer: bool) -> SqliteConnectOptions {
        let mut options = SqliteConnectOptions::new().filename(&self.path).busy_timeout(BUSY_TIMEOUT);
        if writer {
            // WAL is a property of the file: set once by the writer, readers find it there.
            options = options.create_if_missing(true).journal_mode(SqliteJournalMode::Wal);
            for (pragma, value) in self.writer_pragmas() {
                options = options.pragma(pragma, value);
            }
            options
        } else {
            for (pragma, value) in self.shared_pragmas() {
                options = options.pragma(pragma, value);
            }
            options.read_only(true).pragma("cache_size", "-16384")
        }
    }

    /// What every connection sets: foreign keys, the chosen `synchronous`, and pages read
    /// through the OS page cache by mapping rather than a `read()` per page miss.
    fn shared_pragmas(&self) -> [(&'static str, String); 3] {
        let synchronous = match self.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        [("foreign_keys", "ON".into()), ("synchronous", synchronous.into()), ("mmap_size", MMAP_BYTES.to_string())]
    }

    /// What a writing connection sets (the records' writer and the order batch connection,
    /// [`super::batch`]): the shared pragmas, a page cache of [`WRITER_CACHE_KIB`], and the WAL
    /// backstop — the checkpointer connection copies the WAL off the commit path, a writer
    /// only steps in if the WAL grows past `WAL_BACKSTOP_PAGES`.
    pub(crate) fn writer_pragmas(&self) -> Vec<(&'static str, String)> {
        let mut pragmas = self.shared_pragmas().to_vec();
        pragmas.push(("cache_size", format!("-{WRITER_CACHE_KIB}")));
        pragmas.push(("wal_autocheckpoint", WAL_BACKSTOP_PAGES.to_string()));
        pragmas
    }
}

/// A writer's page cache, in KiB: 8 MiB. Bigger is slower under a flood. When an insert splits
/// a B-tree page, SQLite renumbers pages through a temporary page number far past the end of
/// the file (`balance_nonroot`), and the commit that follows then walks the connection's
/// whole page-cache hash table to drop pages past the end — a walk as long as the cache is
/// big. With 64 MiB, that walk grew to 8 % of the server's CPU within 45 s of a flood as the
/// cache filled; with 8 MiB, 40 s floods ran 8–10 % faster (three pairs of runs, BENCHMARKS.md).
/// Pages that drop out of the cache are read back through the memory map, without a system
/// call.
pub(crate) const WRITER_CACHE_KIB: u32 = 8 * 1024;

/// How much of the file connections map into memory.
const MMAP_BYTES: u64 = 256 * 1024 * 1024;
/// WAL pages after which the writer checkpoints by itself (the checkpointer normally keeps the
/// WAL far below: it runs every [`CHECKPOINT_EVERY`](super::CHECKPOINT_EVERY)).
const WAL_BACKSTOP_PAGES: u32 = 20_000;

/// Parses a database URL of the embedded shape — `sqlite://path`, `sqlite:path` or a bare
/// path — into a file path. `sqlite:///abs/file.db` is the absolute path `/abs/file.db`.
/// Refuses other schemes, an empty path, in-memory databases (the records must outlive the
/// process) and query parameters (every setting comes from [`SqliteOptions`]).
pub fn sqlite_path_from_url(url: &str) -> Result<PathBuf, StoreError> {
    let bad = |m: &str| StoreError::Invalid(FieldErrors::single("database_url", m));
    let url = url.trim();
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(bad("must be sqlite://PATH, sqlite:PATH or a file path"));
    } else {
        url
    };
    if path.is_empty() {
        return Err(bad("names no file"));
    }
    if path == ":memory:" || path.starts_with("file::memory:") {
        return Err(bad("an in-memory database would lose every record on exit"));
    }
    if path.contains('?') {
        return Err(bad("query parameters are not supported; use the settings instead"));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_every_accepted_form_name_the_same_kind_of_path() {
        let ok = |u: &str| sqlite_path_from_url(u).unwrap();
        assert_eq!(ok("sqlite://data/seckill.db"), PathBuf::from("data/seckill.db"));
        assert_eq!(ok("sqlite:///var/lib/seckill/seckill.db"), PathBuf::from("/var/lib/seckill/seckill.db"));
        assert_eq!(ok("sqlite:data/seckill.db"), PathBuf::from("data/seckill.db"));
        assert_eq!(ok("sqlite:/tmp/x.db"), PathBuf::from("/tmp/x.db"));
        assert_eq!(ok("./data/seckill.db"), PathBuf::from("./data/seckill.db"));
        assert_eq!(ok(" /abs/seckill.db "), PathBuf::from("/abs/seckill.db"));
    }

    #[test]
    fn urls_that_name_no_durable_file_are_refused() {
        for bad in [
            "",
            "sqlite://",
            "sqlite:",
            "sqlite::memory:",
            "sqlite://:memory:",
            "postgres://localhost/seckill",
            "sqlite://data/x.db?mode=rwc",
        ] {
            match sqlite_path_from_url(bad) {
                Err(StoreError::Invalid(e)) => assert!(e.get("database_url").is_some(), "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn new_options_are_durable_with_four_readers() {
        let o = SqliteOptions::new("x.db", TimeZone::UTC);
        assert_eq!((o.synchronous, o.read_connections), (Synchronous::Full, 4));
    }
}
