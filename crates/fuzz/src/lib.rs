//! Fuzzing boneseg's parsers of untrusted files on stable Rust, bounded in time so that CI runs it
//! (`.ci/fuzz.sh`): the annotation JSON, RLE text, the submission CSV, the meta table (CSV and
//! xlsx), PNG decoding and the Parquet probability store.
//!
//! Each [`targets::Target`] takes bytes and must neither panic, nor allocate more than the input
//! can justify, nor take long; it also checks what must hold of a parse that succeeds (an RLE
//! decodes to a mask that encodes back to itself, an annotation file survives its own JSON).
//! The [`harness`] feeds each target its committed corpus (`corpus/<target>/`, written by
//! [`seeds`] plus hand-made edge cases and every finding so far), then inputs [`mutate`]d from it
//! for a time budget, and saves what fails under `target/fuzz-findings/`. The corpus also runs as
//! a plain test (`tests/corpus.rs`), so every past finding stays a regression test.

pub mod alloc;
pub mod harness;
pub mod mutate;
pub mod seeds;
pub mod targets;
