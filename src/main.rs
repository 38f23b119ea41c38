use clap::Parser;

use facestyle::cli::{self, Cli};
use facestyle::huge_pages::HugePageAllocator;

/// Large buffers in huge pages (`src/huge_pages.rs`).
#[global_allocator]
static ALLOCATOR: HugePageAllocator = HugePageAllocator;

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        Some(command) => {
            facestyle::safe_write::set_overwrite(if args.force {
                facestyle::safe_write::Overwrite::Allow
            } else {
                facestyle::safe_write::Overwrite::Refuse
            });
            facestyle::device::on_compute_threads(|| cli::run(command, args.device))
        }
        None => facestyle::app::run(args.photos, args.device),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
