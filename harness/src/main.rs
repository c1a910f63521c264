//! `clockwheel-harness`: trace replay for sizing caches (placeholder until its own issue lands).

fn main() {
    println!("clockwheel-harness: trace replay is under construction");
}
