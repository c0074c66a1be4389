//! `tessera`: see `tessera --help`.

use std::process::ExitCode;

use clap::Parser;
use tessera_server::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, no backtrace: the operator needs the key and the problem.
            eprintln!("tessera: {e}");
            ExitCode::from(2)
        }
    }
}
