//! The lexicons compiled into the binary: `include_str!` of every
//! `lexicons/<lang>/<category>.yaml`, listed by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/builtin_lexicons.rs"));
