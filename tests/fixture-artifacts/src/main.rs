//! Prints the path of a built guest: `cargo run -q -p runbox-fixtures -- echo-params`.
//! With no argument, lists every guest.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use runbox_fixtures::{examples, fixtures};

fn main() -> ExitCode {
    let all = fixtures::ALL.iter().chain(examples::ALL.iter());
    match std::env::args().nth(1) {
        None => {
            for (name, path) in all {
                println!("{name}\t{path}");
            }
            ExitCode::SUCCESS
        }
        Some(wanted) => match all.clone().find(|(name, _)| *name == wanted) {
            Some((_, path)) => {
                println!("{path}");
                ExitCode::SUCCESS
            }
            None => {
                let names: Vec<&str> = all.map(|(name, _)| *name).collect();
                eprintln!(
                    "no guest named {wanted:?}; built guests: {}",
                    names.join(", ")
                );
                ExitCode::from(2)
            }
        },
    }
}
