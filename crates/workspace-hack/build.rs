//! Empty: cargo resolves a package's build-dependencies only when it has a build script, and the
//! host-side feature pins in Cargo.toml are build-dependencies.

fn main() {}
