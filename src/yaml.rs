//! Reading the YAML that users write (lexicons, policies, the test suite) with limits: size,
//! nesting depth, aliases, duplicate keys; and errors reduced to a line and one message.

use std::path::Path;

use serde_saphyr::{Budget, DuplicateKeyPolicy, Options};

/// Largest lexicon or policy file we parse (bytes). Ours are far smaller; this guards the
/// parser against a runaway or hostile file.
pub const MAX_YAML_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting accepted in lexicon and policy YAML.
pub const MAX_YAML_DEPTH: usize = 16;
/// Aliases (`*ref`) accepted in one file; lexicons need none, a few are tolerated.
pub const MAX_YAML_ALIASES: usize = 64;

/// YAML options with our size/depth/alias limits (shared with policy loading).
pub(crate) fn yaml_options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = MAX_YAML_DEPTH;
    budget.max_aliases = MAX_YAML_ALIASES;
    budget.max_anchors = MAX_YAML_ALIASES;
    budget.max_documents = 1;
    budget.max_reader_input_bytes = Some(MAX_YAML_BYTES);
    budget.max_total_scalar_bytes = MAX_YAML_BYTES;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options
}

/// Turn a YAML error into (line, one-line message).
pub(crate) fn yaml_error_parts(err: &serde_saphyr::Error) -> (Option<usize>, String) {
    let line = err.location().map(|l| l.line() as usize).filter(|&l| l > 0);
    let text = err.without_snippet().to_string();
    let msg = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML")
        .to_string();
    (line, msg)
}

/// Read a YAML file into a string, enforcing the size limit.
pub(crate) fn read_yaml_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_YAML_BYTES as u64 {
        return Err(format!(
            "file is {} bytes, over the {} byte limit",
            meta.len(),
            MAX_YAML_BYTES
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 at byte {}", e.utf8_error().valid_up_to()))
}
