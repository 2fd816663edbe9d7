//! The `seckill` program: command line, configuration, telemetry, and the launch of a server in
//! the shape the configuration picks. `main.rs` only parses the command line and calls [`run`].
//!
//! - [`settings`] — defaults → TOML file → `SECKILL_*` environment, typed once.
//! - [`launch`] — open the records of the chosen shape, bind, serve, stop gracefully.
//! - [`cli`] — the subcommands (`serve`, `migrate`, `admin create`, `demo`, `config`).
//! - [`demo`] — the demo shop with a sale opening a minute after start.
//! - [`telemetry`] — logs.
//!
//! This is the only crate that knows every backend; the server never does.

pub mod cli;
pub mod demo;
pub mod launch;
pub mod settings;
pub mod telemetry;

pub use cli::{Cli, run};
pub use launch::{OpenedRecords, Server};
pub use settings::Settings;
