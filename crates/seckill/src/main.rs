//! `seckill`: a flash-sale server. See `seckill --help` and the README.

use std::process::ExitCode;

use clap::Parser as _;

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
