//! Fuzz target `header_mapping`: arbitrary bytes as a header line, mapped for both kinds.
//!
//! A thin wrapper: the property and the input encoding live in
//! `fuzz/props.rs`, which `tests/fuzz_properties.rs` also runs over
//! `fuzz/seeds/header_mapping/` so stable CI checks the same thing.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| props::check_header(data));
