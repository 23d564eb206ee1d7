//! The `runbox` binary.

use std::process::ExitCode;

use clap::Parser;

/// See the `mimalloc` feature in `runtime/Cargo.toml` for why.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Logging is set up by `Cli::execute` (`serve` takes its format from its config).
    let cli = runbox::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            // Logging is not set up yet: say it on stderr directly.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: cannot start the async runtime: {err}");
            }
            return ExitCode::from(runbox::cli::EXIT_USAGE);
        }
    };
    runtime.block_on(cli.execute())
}
