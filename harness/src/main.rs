//! `clockwheel-harness` binary: see `clockwheel_harness::cli`.

fn main() {
    if let Err(e) = clockwheel_harness::cli::main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
