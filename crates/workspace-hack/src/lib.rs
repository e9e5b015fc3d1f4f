//! Nothing to call: this crate only pins features of shared dependencies (see its Cargo.toml).
