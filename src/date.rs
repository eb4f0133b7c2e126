//! Dates of records: parsing the date column of a CRM export or a database, the run's
//! reference time (`--as-of`), and maximum ages (`max_age: 2y`).
//!
//! Parsing and calendar arithmetic are [jiff](https://docs.rs/jiff)'s (its Temporal/ISO 8601
//! parser, `strftime`-style formats and calendar spans); this module only chooses which forms
//! a date column may take (see [`DateParser::parse`]) and how a date without a time zone is
//! read (as UTC).
//!
//! A value that is not one of those forms is *no date* (`None`), never a guess: retention
//! counts it as `unknown`, `--since` scans it.

use std::fmt;
use std::str::FromStr;

use jiff::civil;
use jiff::tz::TimeZone;

/// A point in time (UTC), to the second or finer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(jiff::Timestamp);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp(jiff::Timestamp::now())
    }

    /// Seconds since 1970-01-01T00:00:00Z (`None` out of jiff's range, years −9999…9999).
    pub fn from_unix_seconds(secs: i64) -> Option<Timestamp> {
        jiff::Timestamp::from_second(secs).ok().map(Timestamp)
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn unix_seconds(self) -> i64 {
        self.0.as_second()
    }

    /// The calendar year and month (UTC).
    pub fn year_month(self) -> (i16, i8) {
        let d = self.0.to_zoned(TimeZone::UTC).date();
        (d.year(), d.month())
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC (`2026-12-07T10:00:00Z`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A date or time the user wrote (`--as-of`, `--since`, a consent ledger) could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a date or time: {what} (use ISO 8601, e.g. 2026-12-07 or 2026-12-07T10:00:00Z)")]
#[non_exhaustive]
pub struct DateError {
    /// What was given (for options the user typed; a ledger's errors say only the field).
    pub what: String,
}

impl FromStr for Timestamp {
    type Err = DateError;

    /// A date or time as [`DateParser::auto`] reads it; `now` is the current time.
    fn from_str(s: &str) -> Result<Timestamp, DateError> {
        if s.trim().eq_ignore_ascii_case("now") {
            return Ok(Timestamp::now());
        }
        DateParser::auto().parse(s).ok_or_else(|| DateError {
            what: format!("{s:?}"),
        })
    }
}

/// Which forms a date column's values may take.
///
/// [`DateParser::auto`] reads, with or without surrounding spaces:
/// * ISO 8601 / RFC 3339: `2026-12-07`, `2026-12-07T10:00`, `2026-12-07 10:00:00`,
///   fractions of a second, an offset `Z`, `+01:00`, `+0100` or `+01` (Salesforce
///   `2006-06-12T21:03:42.000Z`, `2021-02-22T17:25:11.000+0000`; PostgreSQL's text form
///   `2026-12-07 10:00:00+01`; MySQL's `2026-12-07 10:00:00`); `/` or `.` between the date's
///   parts too (`2026/12/07`);
/// * day first, as written in the Netherlands and Denmark: `07-12-2026`, `7/12/2026`,
///   `07.12.2026`, each optionally with a time `HH:MM` or `HH:MM:SS` after a space;
/// * a number: 9–10 digits are seconds since 1970 (a Unix time, SQLite's integer dates),
///   12–13 digits milliseconds (HubSpot's `hs_timestamp`), 8 digits `YYYYMMDD`.
///
/// Without an offset a time is read as UTC, a date as its first second (UTC). Month-first
/// dates (`12/07/2026`, Zoho's `MM/dd/yyyy`) are read only with an explicit format
/// ([`DateParser::with_format`]): a day-first reading would be wrong, not unknown, for days
/// up to 12.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DateParser {
    /// A `strftime`-style format (`%m/%d/%Y %H:%M:%S`) tried before the unambiguous forms.
    format: Option<String>,
}

impl DateParser {
    /// The forms listed above.
    pub fn auto() -> DateParser {
        DateParser { format: None }
    }

    /// `format` (jiff's `strftime` directives: `%Y %m %d %H %M %S %z`…), then the ISO 8601
    /// and numeric forms; day-first dates are not read (they would contradict a month-first
    /// format).
    ///
    /// # Errors
    /// A format without a year, month and day directive.
    pub fn with_format(format: &str) -> Result<DateParser, DateError> {
        let has = |d: &str| format.contains(d);
        let date_part = (has("%Y") || has("%y")) && (has("%m") || has("%b") || has("%B"));
        if !date_part || !(has("%d") || has("%e")) {
            return Err(DateError {
                what: format!(
                    "date format {format:?} needs a year (%Y), a month (%m) and a day (%d)"
                ),
            });
        }
        Ok(DateParser {
            format: Some(format.to_string()),
        })
    }

    /// The format given, if any.
    pub fn format(&self) -> Option<&str> {
        self.format.as_deref()
    }

    /// The time a date column's value stands for; `None` when it is none of the forms this
    /// parser reads (empty, a word, an impossible date such as `31-02-2026`).
    pub fn parse(&self, text: &str) -> Option<Timestamp> {
        let t = text.trim();
        if t.is_empty() || t.len() > 64 {
            return None;
        }
        if let Some(f) = &self.format {
            if let Some(ts) = strftime(f, t) {
                return Some(ts);
            }
        }
        let b = t.as_bytes();
        if b.iter().all(u8::is_ascii_digit) {
            return number(t);
        }
        if b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) {
            return iso(t);
        }
        if self.format.is_none() {
            return day_first(t);
        }
        None
    }
}

/// Seconds (9–10 digits), milliseconds (12–13) since 1970, or `YYYYMMDD` (8).
fn number(t: &str) -> Option<Timestamp> {
    match t.len() {
        8 => civil::Date::strptime("%Y%m%d", t).ok().and_then(date_utc),
        9 | 10 => Timestamp::from_unix_seconds(t.parse().ok()?),
        12 | 13 => jiff::Timestamp::from_millisecond(t.parse().ok()?)
            .ok()
            .map(Timestamp),
        _ => None,
    }
}

/// ISO 8601 with `-` (or `/`, `.`) between the date's parts, with or without a time and an
/// offset.
fn iso(t: &str) -> Option<Timestamp> {
    let owned;
    let t = match t.as_bytes()[4] {
        b'-' => t,
        b'/' | b'.' if t.as_bytes().get(7) == Some(&t.as_bytes()[4]) => {
            let sep = char::from(t.as_bytes()[4]);
            owned = t.replacen(sep, "-", 2);
            &owned
        }
        _ => return None,
    };
    // With an offset (or `Z`): the instant. Without: civil time, read as UTC.
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Some(Timestamp(ts));
    }
    if let Ok(dt) = t.parse::<civil::DateTime>() {
        // jiff's civil parser also accepts (and ignores) an offset it could not use above;
        // only a value without one is taken as UTC.
        return civil_utc(dt);
    }
    None
}

/// `D-M-YYYY`, `D/M/YYYY` or `D.M.YYYY` (one or two digits for day and month), optionally
/// followed by a space (or `T`) and `HH:MM[:SS]`.
fn day_first(t: &str) -> Option<Timestamp> {
    let (date, time) = match t.split_once([' ', 'T']) {
        Some((d, rest)) => (d, Some(rest.trim())),
        None => (t, None),
    };
    let sep = date.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let mut parts = date.split(sep);
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !ok(d, 1..=2) || !ok(m, 1..=2) || !ok(y, 4..=4) {
        return None;
    }
    let day = civil::Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()?;
    let time = match time {
        None => civil::Time::midnight(),
        Some(s) => civil::Time::strptime("%H:%M:%S", s)
            .or_else(|_| civil::Time::strptime("%H:%M", s))
            .ok()?,
    };
    civil_utc(day.to_datetime(time))
}

/// A value in a user-given `strftime` format: with an offset the instant, else civil time
/// (or a date) read as UTC.
fn strftime(format: &str, t: &str) -> Option<Timestamp> {
    let tm = jiff::fmt::strtime::parse(format, t).ok()?;
    if let Ok(ts) = tm.to_timestamp() {
        return Some(Timestamp(ts));
    }
    if let Ok(dt) = tm.to_datetime() {
        return civil_utc(dt);
    }
    tm.to_date().ok().and_then(date_utc)
}

fn civil_utc(dt: civil::DateTime) -> Option<Timestamp> {
    dt.to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| Timestamp(z.timestamp()))
}

fn date_utc(d: civil::Date) -> Option<Timestamp> {
    civil_utc(d.to_datetime(civil::Time::midnight()))
}

/// PostgreSQL's binary `date` (days since 2000-01-01) as `YYYY-MM-DD`; `infinity` (or
/// `-infinity`) for its infinite values and dates out of range, which no parser reads.
#[cfg(any(feature = "postgres", test))]
pub(crate) fn pg_date(days: i32) -> String {
    let epoch = civil::date(2000, 1, 1);
    // `Span::days` panics out of its range: `try_days`.
    let day = jiff::Span::new()
        .try_days(i64::from(days))
        .and_then(|span| epoch.checked_add(span));
    match day {
        Ok(d) if days != i32::MAX && days != i32::MIN => d.to_string(),
        _ if days < 0 => "-infinity".into(),
        _ => "infinity".into(),
    }
}

/// PostgreSQL's binary `timestamp` / `timestamptz` (microseconds since 2000-01-01T00:00:00,
/// UTC for `timestamptz`) as RFC 3339 in UTC; `infinity` as for [`pg_date`].
#[cfg(any(feature = "postgres", test))]
pub(crate) fn pg_timestamp(micros: i64) -> String {
    const EPOCH_2000: i64 = 946_684_800;
    let ts = micros
        .checked_add(EPOCH_2000 * 1_000_000)
        .filter(|_| micros != i64::MAX && micros != i64::MIN)
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok());
    match ts {
        Some(t) => t.to_string(),
        None if micros < 0 => "-infinity".into(),
        None => "infinity".into(),
    }
}

/// How old a record may get: a calendar span such as `2y`, `18 months`, `1 year 6 months`,
/// `90d` or ISO 8601 `P2Y6M` (jiff's span syntax). Years and months are calendar years and
/// months (counted back from the reference time in UTC), not a fixed number of days.
#[derive(Clone, Copy, Debug)]
pub struct MaxAge(jiff::Span);

impl FromStr for MaxAge {
    type Err = DateError;

    fn from_str(s: &str) -> Result<MaxAge, DateError> {
        let bad = || DateError {
            what: format!("{s:?} as a maximum age (e.g. 2y, 18 months, 90d, P2Y)"),
        };
        let span: jiff::Span = s.trim().parse().map_err(|_| bad())?;
        if span.is_negative() || span.is_zero() {
            return Err(bad());
        }
        Ok(MaxAge(span))
    }
}

impl fmt::Display for MaxAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl MaxAge {
    /// The oldest time a record may have at `as_of`: records dated before it are over the
    /// maximum age. `None` when that is before jiff's smallest date (nothing is that old).
    pub fn cutoff(self, as_of: Timestamp) -> Option<Timestamp> {
        as_of
            .0
            .to_zoned(TimeZone::UTC)
            .checked_sub(self.0)
            .ok()
            .map(|z| Timestamp(z.timestamp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        DateParser::auto().parse(s).map(|t| t.to_string())
    }

    #[test]
    fn iso_forms() {
        assert_eq!(p("2026-12-07").as_deref(), Some("2026-12-07T00:00:00Z"));
        assert_eq!(
            p(" 2026-12-07T10:00 ").as_deref(),
            Some("2026-12-07T10:00:00Z")
        );
        assert_eq!(
            p("2006-06-12T21:03:42.000Z").as_deref(),
            Some("2006-06-12T21:03:42Z")
        );
        assert_eq!(
            p("2021-02-22T17:25:11.000+0000").as_deref(),
            Some("2021-02-22T17:25:11Z")
        );
        assert_eq!(
            p("2019-06-01T00:00:00+05:30").as_deref(),
            Some("2019-05-31T18:30:00Z")
        );
        assert_eq!(
            p("2026-12-07 10:00:00+01").as_deref(),
            Some("2026-12-07T09:00:00Z")
        );
        assert_eq!(
            p("2026-12-07 10:00:00.123456").as_deref(),
            Some("2026-12-07T10:00:00.123456Z")
        );
        assert_eq!(p("2026/12/07").as_deref(), Some("2026-12-07T00:00:00Z"));
        assert_eq!(p("2026.12.07").as_deref(), Some("2026-12-07T00:00:00Z"));
    }

    #[test]
    fn day_first_and_numbers() {
        assert_eq!(p("07-12-2026").as_deref(), Some("2026-12-07T00:00:00Z"));
        assert_eq!(p("7/12/2026 9:05").as_deref(), Some("2026-12-07T09:05:00Z"));
        assert_eq!(
            p("07.12.2026 09:05:30").as_deref(),
            Some("2026-12-07T09:05:30Z")
        );
        assert_eq!(p("1700000000").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(
            p("1700000000123").as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(p("20261207").as_deref(), Some("2026-12-07T00:00:00Z"));
    }

    #[test]
    fn not_dates() {
        for s in [
            "",
            "   ",
            "yesterday",
            "31-02-2026",
            "2026-13-01",
            "12/31/2026",
            "123",
            "2026-12",
            "07-12-26",
            "2026-12-07T25:00",
            "1-2-3-2026",
        ] {
            assert_eq!(p(s), None, "{s:?}");
        }
    }

    #[test]
    fn explicit_format() {
        let us = DateParser::with_format("%m/%d/%Y %H:%M:%S").unwrap();
        let r = |s: &str| us.parse(s).map(|t| t.to_string());
        assert_eq!(
            r("12/31/2026 10:00:00").as_deref(),
            Some("2026-12-31T10:00:00Z")
        );
        // The unambiguous forms still work; day-first ones are not read.
        assert_eq!(r("2026-12-31").as_deref(), Some("2026-12-31T00:00:00Z"));
        assert_eq!(r("31-12-2026"), None);
        let date_only = DateParser::with_format("%m/%d/%Y").unwrap();
        assert_eq!(
            date_only
                .parse("01/05/2024")
                .map(|t| t.to_string())
                .as_deref(),
            Some("2024-01-05T00:00:00Z")
        );
        assert!(DateParser::with_format("%H:%M").is_err());
    }

    #[test]
    fn postgres_binary_dates() {
        assert_eq!(pg_date(0), "2000-01-01");
        assert_eq!(pg_date(9_472), "2025-12-07"); // 25 * 365 + 7 leap days + 340
        assert_eq!(pg_date(-1), "1999-12-31");
        assert_eq!(pg_date(i32::MAX), "infinity");
        assert_eq!(pg_date(i32::MIN), "-infinity");
        assert_eq!(pg_date(i32::MAX - 1), "infinity");
        assert_eq!(pg_timestamp(i64::MIN + 1), "-infinity");
        assert_eq!(pg_timestamp(1_500_000), "2000-01-01T00:00:01.5Z");
        assert_eq!(pg_timestamp(i64::MAX), "infinity");
        assert_eq!(
            p(&pg_timestamp(86_400_000_000)).as_deref(),
            Some("2000-01-02T00:00:00Z")
        );
        assert_eq!(p("infinity"), None);
    }

    #[test]
    fn max_age_counts_calendar_months() {
        let as_of: Timestamp = "2026-03-31T12:00:00Z".parse().unwrap();
        let m: MaxAge = "1 month".parse().unwrap();
        assert_eq!(m.cutoff(as_of).unwrap().to_string(), "2026-02-28T12:00:00Z");
        let y: MaxAge = "P2Y".parse().unwrap();
        assert_eq!(y.cutoff(as_of).unwrap().to_string(), "2024-03-31T12:00:00Z");
        assert!("0d".parse::<MaxAge>().is_err());
        assert!("-2y".parse::<MaxAge>().is_err());
        assert!("two years".parse::<MaxAge>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = DateParser::auto().parse(&s);
            let _ = s.parse::<MaxAge>();
        }

        #[test]
        fn iso_and_day_first_agree(y in 1900i16..2100, m in 1i8..=12, d in 1i8..=28) {
            let iso = p(&format!("{y:04}-{m:02}-{d:02}"));
            proptest::prop_assert_eq!(p(&format!("{d}-{m}-{y:04}")), iso.clone());
            proptest::prop_assert_eq!(p(&format!("{d:02}/{m:02}/{y:04} 00:00")), iso);
        }
    }
}
