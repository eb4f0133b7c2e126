//! Embeds every `lexicons/<lang>/<category>.yaml` into the binary (see src/lexicon/builtin.rs),
//! twice: the YAML as written (`BUILTIN`, what `art9 lexicon` shows and the tests read) and
//! baked (`BUILTIN_BAKED`): parsed here with the crate's own lexicon model and stored as JSON,
//! which start-up reads back about ten times faster than it parses the YAML. A file that does
//! not parse here is left unbaked (with a warning), so that the run-time parse reports its
//! error with file and line as for any lexicon. The test suite checks that all 21
//! language × category files are there and that each baked file equals its YAML. The cue
//! files (`lexicons/cues/<lang>.yaml`, issue 19) are embedded and baked the same way
//! (`BUILTIN_CUES`, `BUILTIN_CUES_BAKED`).

use std::fs;
use std::path::Path;

// The lexicon model, shared with the crate (it only needs `category`).
#[allow(dead_code)]
#[path = "src/category.rs"]
mod category;
#[allow(dead_code)]
#[path = "src/lexicon/model.rs"]
mod model;
// The cue file model (issue 19), baked the same way.
#[allow(dead_code)]
#[path = "src/lexicon/cue_model.rs"]
mod cue_model;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = Path::new(&root).join("lexicons");
    println!("cargo:rerun-if-changed=lexicons");
    println!("cargo:rerun-if-changed=src/category.rs");
    println!("cargo:rerun-if-changed=src/lexicon/model.rs");
    println!("cargo:rerun-if-changed=src/lexicon/cue_model.rs");
    let mut files = Vec::new();
    let mut cue_files = Vec::new();
    if let Ok(langs) = fs::read_dir(&dir) {
        for lang in langs.flatten() {
            let lp = lang.path();
            if !lp.is_dir() {
                continue;
            }
            // Context cues (issue 19) are not lexicons: embedded and baked like them below.
            if lp.file_name().is_some_and(|n| n == "cues") {
                println!("cargo:rerun-if-changed={}", lp.display());
                if let Ok(files) = fs::read_dir(&lp) {
                    for f in files.flatten() {
                        let p = f.path();
                        if p.extension().is_some_and(|e| e == "yaml") {
                            println!("cargo:rerun-if-changed={}", p.display());
                            cue_files.push(p);
                        }
                    }
                }
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
    cue_files.sort();
    let mut out = String::from("/// `(path, YAML text)` of every built-in lexicon.\npub const BUILTIN: &[(&str, &str)] = &[\n");
    let mut baked = String::from(
        "/// Per entry of [`BUILTIN`]: the file baked at build time (JSON of a\n\
         /// `model::BakedFile`), or `None` if its YAML did not parse then.\n\
         pub(crate) const BUILTIN_BAKED: &[Option<&str>] = &[\n",
    );
    for (i, p) in files.iter().enumerate() {
        let rel = p.strip_prefix(&root).unwrap_or(p).display().to_string();
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            p.display().to_string()
        ));
        match bake(p) {
            Ok(json) => {
                let name = Path::new(&out_dir).join(format!("lexicon-{i}.json"));
                fs::write(&name, json).expect("write a baked lexicon");
                baked.push_str(&format!(
                    "    Some(include_str!({:?})),\n",
                    name.display().to_string()
                ));
            }
            Err(e) => {
                println!("cargo:warning={rel}: not baked, parsed at run time: {e}");
                baked.push_str("    None,\n");
            }
        }
    }
    out.push_str("];\n");
    baked.push_str("];\n");
    out.push_str(&baked);
    out.push_str("/// `(path, YAML text)` of every built-in cue file (`lexicons/cues/<lang>.yaml`).\npub const BUILTIN_CUES: &[(&str, &str)] = &[\n");
    let mut baked = String::from(
        "/// Per entry of [`BUILTIN_CUES`]: the file baked at build time (JSON of a\n\
         /// `cue_model::BakedCueFile`), or `None` if its YAML did not parse then.\n\
         pub(crate) const BUILTIN_CUES_BAKED: &[Option<&str>] = &[\n",
    );
    for (i, p) in cue_files.iter().enumerate() {
        let rel = p.strip_prefix(&root).unwrap_or(p).display().to_string();
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            p.display().to_string()
        ));
        match bake_cues(p) {
            Ok(json) => {
                let name = Path::new(&out_dir).join(format!("cues-{i}.json"));
                fs::write(&name, json).expect("write a baked cue file");
                baked.push_str(&format!(
                    "    Some(include_str!({:?})),\n",
                    name.display().to_string()
                ));
            }
            Err(e) => {
                println!("cargo:warning={rel}: not baked, parsed at run time: {e}");
                baked.push_str("    None,\n");
            }
        }
    }
    out.push_str("];\n");
    baked.push_str("];\n");
    out.push_str(&baked);
    fs::write(Path::new(&out_dir).join("builtin_lexicons.rs"), out)
        .expect("write builtin_lexicons.rs");
}

/// The file as JSON of a `BakedFile`, or why its YAML does not parse.
fn bake(path: &Path) -> Result<String, String> {
    let yaml = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    let file: model::LexiconFile =
        serde_saphyr::from_str_with_options(&yaml, options).map_err(|e| e.to_string())?;
    serde_json::to_string(&model::BakedFile::from(file)).map_err(|e| e.to_string())
}

/// The cue file as JSON of a `BakedCueFile`, or why its YAML does not parse.
fn bake_cues(path: &Path) -> Result<String, String> {
    let yaml = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    let file: cue_model::CueFile =
        serde_saphyr::from_str_with_options(&yaml, options).map_err(|e| e.to_string())?;
    serde_json::to_string(&cue_model::BakedCueFile::from(file)).map_err(|e| e.to_string())
}
