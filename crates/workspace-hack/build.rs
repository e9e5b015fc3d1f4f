//! Empty. The host-side feature pins in Cargo.toml are build-dependencies, and this script gives
//! them a build to belong to, as in the crate cargo-hakari generates.

fn main() {}
