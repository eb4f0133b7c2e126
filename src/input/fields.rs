//! Which fields of a record are scanned: [`JsonOptions`] and the `*`/`?` globs field
//! names may be ([`is_glob_match`]).

/// How JSON records are turned into fields.
#[derive(Clone, Debug, Default)]
pub struct JsonOptions {
    /// Fields to scan (dotted paths). Empty = every top-level string field except the key.
    pub fields: Vec<String>,
    /// Key field(s); joined with `:` when several. Empty = line number.
    pub key: Vec<String>,
    /// Field naming the data subject (a string or number; missing or null = none).
    pub subject: Option<String>,
    /// Fields carried as [`Record::context`](crate::record::Record::context) (dotted paths;
    /// missing or null = no value). Like the key and subject, they are not scanned unless
    /// named in `fields`.
    pub context: Vec<String>,
}

/// Whether `pattern` holds glob metacharacters (`*`, `?`).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Match `name` against a glob: `*` = any run of chars, `?` = one char; case-sensitive.
pub fn is_glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Classic backtracking over the last `*`: linear for patterns with one star.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
