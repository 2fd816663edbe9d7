//! `seckill`: a flash-sale server. See `seckill --help` and the README.

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc instead of glibc's malloc: the hot path allocates a little per request on every
/// worker thread, and glibc's arenas spent ~15 % of the server's CPU there under a rush (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = seckill::Cli::parse();
    match seckill::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the context chain joined by ": ".
            eprintln!("seckill: {e:#}");
            ExitCode::FAILURE
        }
    }
}
