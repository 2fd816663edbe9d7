//! `sqlx::migrate!` reads `migrations/` at compile time, and cargo does not watch that
//! directory by itself: without this, a new migration file would not reach the binary until
//! some Rust file of the crate changed too.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
