//! Connection strings: which database a URL names ([`DbKind`], [`DbUrl`]), its parameters
//! and `sslmode`, password redaction for messages ([`redact`]), and the plain identifiers that
//! are safe to quote in every dialect ([`check_ident`]).

use super::*;

/// Which database a connection string names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    /// `sqlite:path`
    Sqlite,
    /// `postgres://` or `postgresql://`
    Postgres,
    /// `mysql://` or `mariadb://`
    Mysql,
}

impl DbKind {
    /// Short name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
            DbKind::Mysql => "mysql",
        }
    }

    /// Quote an identifier that [`check_ident`] accepted.
    pub fn quote(self, ident: &str) -> String {
        match self {
            DbKind::Mysql => format!("`{ident}`"),
            DbKind::Sqlite | DbKind::Postgres => format!("\"{ident}\""),
        }
    }

    /// Quote a possibly schema-qualified table name (`schema.table`).
    pub fn quote_table(self, table: &str) -> String {
        table
            .split('.')
            .map(|p| self.quote(p))
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// A parsed connection string. `Display` shows it with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    /// The database kind.
    pub kind: DbKind,
    /// What the driver gets: a file path for SQLite, the URL otherwise.
    pub(super) target: String,
    /// The password, if any, so that driver messages can be scrubbed.
    pub(super) password: Option<String>,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DbKind::Sqlite => write!(f, "sqlite:{}", self.target),
            _ => f.write_str(&redact(&self.target)),
        }
    }
}

impl DbUrl {
    /// Whether `input` looks like a database connection string (or `env:`).
    pub fn is_db_input(input: &str) -> bool {
        input == "env:"
            || [
                "sqlite:",
                "postgres://",
                "postgresql://",
                "mysql://",
                "mariadb://",
            ]
            .iter()
            .any(|p| input.starts_with(p))
    }

    /// Parse a connection string; `env:` reads [`DATABASE_URL_ENV`].
    ///
    /// # Errors
    /// An unknown scheme, an empty SQLite path, or `env:` with the variable unset.
    pub fn parse(input: &str) -> Result<DbUrl, DbError> {
        if input == "env:" {
            return match std::env::var(DATABASE_URL_ENV) {
                Ok(v) if !v.is_empty() && v != "env:" => DbUrl::parse(&v),
                _ => Err(DbError::new(
                    DbErrorKind::Url,
                    format!("{DATABASE_URL_ENV} is not set"),
                )),
            };
        }
        if let Some(rest) = input.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(DbError::new(
                    DbErrorKind::Url,
                    "sqlite: needs a file path (sqlite:crm.db)".into(),
                ));
            }
            return Ok(DbUrl {
                kind: DbKind::Sqlite,
                target: path.to_string(),
                password: None,
            });
        }
        let (kind, target) = if let Some(rest) = input.strip_prefix("postgresql://") {
            (DbKind::Postgres, format!("postgres://{rest}"))
        } else if input.starts_with("postgres://") {
            (DbKind::Postgres, input.to_string())
        } else if let Some(rest) = input.strip_prefix("mariadb://") {
            (DbKind::Mysql, format!("mysql://{rest}"))
        } else if input.starts_with("mysql://") {
            (DbKind::Mysql, input.to_string())
        } else {
            return Err(DbError::new(
                DbErrorKind::Url,
                format!(
                    "{}: not a database URL (sqlite:FILE, postgres://..., mysql://...)",
                    redact(input)
                ),
            ));
        };
        let password = password_of(&target);
        Ok(DbUrl {
            kind,
            target,
            password,
        })
    }

    /// The SQLite file path, or the URL for the server drivers. Contains the password:
    /// hand it to the driver only, never print it.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Make a driver message safe to show: one line, the password replaced.
    pub fn scrub(&self, message: &str) -> String {
        let mut m = message.replace(['\n', '\r'], " ");
        if self.password.is_some() {
            // Drivers may echo the URL with the password percent-encoded.
            m = m.replace(&self.target, &redact(&self.target));
        }
        if let Some(p) = self.password.as_deref().filter(|p| !p.is_empty()) {
            m = m.replace(p, "***");
        }
        m
    }
}

/// The userinfo part of `scheme://userinfo@host/...`, if any.
pub(super) fn userinfo(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end_auth = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end_auth].rfind('@')?;
    Some((start, start + at))
}

pub(super) fn password_of(url: &str) -> Option<String> {
    let mut found = None;
    if let Some((s, e)) = userinfo(url) {
        if let Some(colon) = url[s..e].find(':') {
            found = Some(percent_decode(&url[s + colon + 1..e]));
        }
    }
    if found.is_none() {
        if let Some(q) = url.find('?') {
            for pair in url[q + 1..].split('&') {
                if let Some(v) = pair.strip_prefix("password=") {
                    found = Some(percent_decode(v));
                }
            }
        }
    }
    found
}

pub(super) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Remove the query parameter `name` from a URL: the URL without it, and its last value.
pub fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some(q) = url.find('?') else {
        return (url.to_string(), None);
    };
    let (head, query) = (&url[..q], &url[q + 1..]);
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((k, v)) if k == name => {
                value = Some(v.to_string());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    if kept.is_empty() {
        (head.to_string(), value)
    } else {
        (format!("{head}?{}", kept.join("&")), value)
    }
}

/// `sslmode` as libpq spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, else plain TCP (the default).
    Prefer,
    /// TLS or fail.
    Require,
}

impl SslMode {
    /// Parse `disable`, `prefer`, `require`.
    ///
    /// # Errors
    /// Any other value (the message lists the accepted ones).
    pub fn parse(v: &str) -> Result<SslMode, DbError> {
        match v {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            other => Err(DbError::new(
                DbErrorKind::Url,
                format!("sslmode={other} is not supported (disable, prefer or require)"),
            )),
        }
    }
}

/// Replace the password in a URL (`user:pass@` and `password=` parameters) with `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some((s, e)) = userinfo(url) {
        if let Some(colon) = url[s..e].find(':') {
            out = format!("{}***{}", &url[..s + colon + 1], &url[e..]);
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query = query
            .split('&')
            .map(|pair| {
                if pair.starts_with("password=") {
                    "password=***".to_string()
                } else {
                    pair.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        out = format!("{head}{query}");
    }
    out
}

/// Accept plain identifiers only: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes, so that quoting
/// them is always safe in every dialect. `allow_schema` also accepts `schema.table`.
///
/// # Errors
/// Anything else, with the name in the message (it is a name the user typed, not note text).
pub fn check_ident(what: &str, name: &str, allow_schema: bool) -> Result<(), DbError> {
    let parts: Vec<&str> = if allow_schema {
        name.split('.').collect()
    } else {
        vec![name]
    };
    let plain = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && p.bytes()
                .enumerate()
                .all(|(i, c)| c == b'_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
    };
    if parts.len() > 2 || !parts.iter().all(|p| plain(p)) {
        return Err(DbError::new(
            DbErrorKind::Schema,
            format!(
                "{what} {name:?} is not a plain identifier (letters, digits, _; use --query \
                 for anything else)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://bob:s3cret@db.example/crm"),
            "postgres://bob:***@db.example/crm"
        );
        assert_eq!(
            redact("mysql://root@127.0.0.1/db"),
            "mysql://root@127.0.0.1/db"
        );
        assert_eq!(
            redact("postgres://h/db?user=x&password=s3cret"),
            "postgres://h/db?user=x&password=***"
        );
        let u = DbUrl::parse("postgresql://bob:p%40ss@h/db").unwrap();
        assert_eq!(u.to_string(), "postgres://bob:***@h/db");
        assert_eq!(
            u.scrub("auth failed for p@ss\nbye"),
            "auth failed for *** bye"
        );
        assert!(!format!("{u:?}").contains("p%40ss"));
    }

    #[test]
    fn url_parameters() {
        assert_eq!(
            take_param("mysql://u@h/db?sslmode=require", "sslmode"),
            ("mysql://u@h/db".to_string(), Some("require".to_string()))
        );
        assert_eq!(
            take_param("mysql://u@h/db?a=1&sslmode=disable&b=2", "sslmode"),
            (
                "mysql://u@h/db?a=1&b=2".to_string(),
                Some("disable".to_string())
            )
        );
        assert_eq!(
            take_param("mysql://u@h/db", "sslmode"),
            ("mysql://u@h/db".to_string(), None)
        );
        assert_eq!(SslMode::parse("prefer").unwrap(), SslMode::Prefer);
        assert!(SslMode::parse("verify-full").is_err());
    }

    #[test]
    fn identifiers() {
        assert!(check_ident("table", "notes", true).is_ok());
        assert!(check_ident("table", "crm.notes", true).is_ok());
        assert!(check_ident("column", "crm.notes", false).is_err());
        assert!(check_ident("table", "notes; DROP TABLE x", true).is_err());
        assert!(check_ident("table", "a\"b", true).is_err());
        assert!(check_ident("table", "1abc", true).is_err());
        assert_eq!(DbKind::Mysql.quote_table("a.b"), "`a`.`b`");
    }

    #[test]
    fn urls() {
        assert!(DbUrl::is_db_input("sqlite:crm.db"));
        assert!(!DbUrl::is_db_input("notes.jsonl"));
        assert_eq!(
            DbUrl::parse("sqlite:///tmp/x.db").unwrap().target(),
            "/tmp/x.db"
        );
        assert_eq!(DbUrl::parse("mariadb://r@h/d").unwrap().kind, DbKind::Mysql);
        assert!(DbUrl::parse("sqlite:").is_err());
    }
}
