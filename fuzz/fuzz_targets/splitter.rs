//! Fuzz target `splitter`: cutting a buffer into chunks of whole lines, sequentially and in parallel.
//!
//! A thin wrapper: the property and the input encoding live in
//! `fuzz/props.rs`, which `tests/fuzz_properties.rs` also runs over
//! `fuzz/seeds/splitter/` so stable CI checks the same thing.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| props::check_splitter(data));
