//! Fuzz target `row_parser`: one line parsed as an order and as a trade against fixed headers (SPEC §2).
//!
//! A thin wrapper: the property and the input encoding live in
//! `fuzz/props.rs`, which `tests/fuzz_properties.rs` also runs over
//! `fuzz/seeds/row_parser/` so stable CI checks the same thing.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| props::check_row(data));
