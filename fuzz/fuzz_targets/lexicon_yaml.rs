//! Fuzz target `lexicon_yaml`: the checks are in `fuzz/checks.rs`, shared with the stable
//! regression test `tests/fuzz_regressions.rs` (see FUZZING.md).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_lexicon_yaml(data));
