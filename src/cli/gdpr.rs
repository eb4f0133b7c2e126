//! The date, retention and consent options shared by `scan` and `mask` (issue 21):
//! `--date-field` (alias `--date-column`), `--date-format`, `--as-of`, `--consent`,
//! `--since`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;

use art9::consent::ConsentLedger;
use art9::date::{DateParser, Timestamp};
use art9::pipeline::Since;
use art9::policy::GdprOptions;
use art9::CompiledPolicy;

use super::args::InputArgs;

#[derive(Args, Debug, Clone, Default)]
pub struct GdprArgs {
    /// The field or column holding each record's date: for a policy's retention and
    /// consent rules, --since, and the run summary's counts by month. ISO 8601 dates and
    /// times (with or without an offset; none = UTC), 07-11-2026 / 7/11/2026 / 07.11.2026
    /// (day first), Unix seconds or milliseconds, database DATE/TIMESTAMP values. Read like
    /// --context. Default: the policy's `retention: date_field`.
    #[arg(
        help_heading = "Dates, retention and consent",
        long = "date-field",
        visible_alias = "date-column",
        value_name = "NAME"
    )]
    pub date_field: Option<String>,
    /// A strftime format for dates the automatic forms do not read, e.g. month first:
    /// '%m/%d/%Y %H:%M:%S' (ISO 8601 and Unix times are still read; day-first ones no longer).
    #[arg(
        help_heading = "Dates, retention and consent",
        long,
        value_name = "FMT"
    )]
    pub date_format: Option<String>,
    /// The reference time retention ages and consents are judged at (default: now, UTC):
    /// 2026-12-07 or 2026-12-07T10:00:00Z. Give it for reproducible runs.
    #[arg(
        help_heading = "Dates, retention and consent",
        long,
        value_name = "DATE"
    )]
    pub as_of: Option<String>,
    /// The consent ledger: a CSV or JSON Lines file of (subject, category, given_at,
    /// withdrawn_at, reference), or table:NAME for a table with those columns in the
    /// database being scanned. Needs --subject, a date field and a policy with `consent:`
    /// rules (README "Consent ledger").
    #[arg(
        help_heading = "Dates, retention and consent",
        long,
        value_name = "FILE|table:NAME"
    )]
    pub consent: Option<String>,
    /// Scan only records dated at or after TIME (a date or time as --as-of); earlier ones are
    /// counted as filtered (reason `since`), records without a readable date are scanned and
    /// counted as undated.
    #[arg(
        help_heading = "Dates, retention and consent",
        long,
        value_name = "TIME"
    )]
    pub since: Option<String>,
}

impl GdprArgs {
    /// `--date-format` as a parser.
    fn parser(&self) -> Result<Option<DateParser>> {
        self.date_format
            .as_deref()
            .map(|f| DateParser::with_format(f).context("--date-format"))
            .transpose()
    }

    /// Put the run's settings on the policy (when it has retention or consent rules, or a
    /// ledger is given); `as_of` is [`GdprArgs::as_of`], one reference time for every
    /// record of the run.
    pub fn apply(
        &self,
        policy: CompiledPolicy,
        input: &InputArgs,
        as_of: Timestamp,
    ) -> Result<CompiledPolicy> {
        let as_of = Some(as_of);
        let consent = match &self.consent {
            None => None,
            Some(c) => {
                if input.subject.is_none() {
                    bail!("--consent needs --subject COLUMN (whose consent a note falls under)");
                }
                Some(Arc::new(load_ledger(c, &input.input)?))
            }
        };
        Ok(policy.with_gdpr(GdprOptions {
            date_field: self.date_field.clone(),
            date_format: self.parser()?,
            as_of,
            consent,
        })?)
    }

    /// The run's reference time: `--as-of`, else now.
    pub fn as_of(&self) -> Result<Timestamp> {
        match self.as_of.as_deref() {
            Some(t) => t.parse().context("--as-of"),
            None => Ok(Timestamp::now()),
        }
    }

    /// Checks for a run without a policy.
    pub fn without_policy(&self) -> Result<()> {
        if self.consent.is_some() {
            bail!("--consent needs --policy with `consent:` rules (what active consent changes)");
        }
        Ok(())
    }

    /// The date field of the run: `--date-field`, else the policy's.
    pub fn date_field(&self, policy: Option<&CompiledPolicy>) -> Option<String> {
        self.date_field
            .clone()
            .or_else(|| policy.and_then(|p| p.date_field()).map(str::to_string))
    }

    /// How the run reads dates: `--date-format`, else the policy's, else the automatic forms.
    pub fn date_parser(&self, policy: Option<&CompiledPolicy>) -> Result<DateParser> {
        Ok(match self.parser()? {
            Some(p) => p,
            None => policy
                .and_then(CompiledPolicy::date_parser)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// `--since` for the pipeline.
    pub fn since(&self, policy: Option<&CompiledPolicy>) -> Result<Option<Since>> {
        let Some(t) = &self.since else {
            return Ok(None);
        };
        let time: Timestamp = t.parse().context("--since")?;
        let Some(date_field) = self.date_field(policy) else {
            bail!("--since needs --date-field NAME (the record's date column)");
        };
        Ok(Some(Since {
            date_field,
            parser: self.date_parser(policy)?,
            time,
        }))
    }
}

/// Read the ledger: `table:NAME` from the database being scanned, else a file.
fn load_ledger(spec: &str, input: &str) -> Result<ConsentLedger> {
    if let Some(table) = spec.strip_prefix("table:") {
        if !art9::input::db::DbUrl::is_db_input(input) {
            bail!("--consent table:{table} reads a table of the database being scanned; this input is a file (give the ledger as a CSV or JSON Lines file)");
        }
        let url = art9::input::db::DbUrl::parse(input)?;
        return Ok(ConsentLedger::from_table(&url, table)?);
    }
    Ok(ConsentLedger::from_path(Path::new(spec))?)
}
