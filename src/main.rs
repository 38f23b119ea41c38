use clap::Parser;

use facestyle::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        Some(command) => cli::run(command, args.device),
        None => facestyle::app::run(args.photo, args.device),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
