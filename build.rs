//! Embeds every `lexicons/<lang>/<category>.yaml` into the binary (see src/lexicon/builtin.rs).
//! The test suite checks that all 21 language × category files are there.

use std::fs;
use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&root).join("lexicons");
    println!("cargo:rerun-if-changed=lexicons");
    let mut files = Vec::new();
    if let Ok(langs) = fs::read_dir(&dir) {
        for lang in langs.flatten() {
            let lp = lang.path();
            if !lp.is_dir() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", lp.display());
            if let Ok(cats) = fs::read_dir(&lp) {
                for cat in cats.flatten() {
                    let p = cat.path();
                    if p.extension().is_some_and(|e| e == "yaml") {
                        println!("cargo:rerun-if-changed={}", p.display());
                        files.push(p);
                    }
                }
            }
        }
    }
    files.sort();
    let mut out = String::from("/// `(path, YAML text)` of every built-in lexicon.\npub const BUILTIN: &[(&str, &str)] = &[\n");
    for p in &files {
        let rel = p.strip_prefix(&root).unwrap_or(p).display().to_string();
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            p.display().to_string()
        ));
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    fs::write(Path::new(&out_dir).join("builtin_lexicons.rs"), out)
        .expect("write builtin_lexicons.rs");
}
