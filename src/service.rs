//! The pre-save check as a request → response service: the JSON model shared by
//! `art9 serve` (HTTP, see `serve`) and `art9 check --stdio` (a co-process speaking JSON
//! Lines), and the [`Engine`] that answers it.
//!
//! A request names either one `text` or several `fields` (field name → text), optionally a
//! `policy` (built-in or preloaded, by name) and a `lang` restriction:
//!
//! ```json
//! {"fields": {"notes": "Klant heeft diabetes.", "summary": "Terugbellen"}, "policy": "default"}
//! ```
//!
//! The answer carries the overall decision, the findings (offsets only, never the matched
//! text unless the request says `"include_text": true`) and the value of each field with
//! `mask` and `reject` findings replaced:
//!
//! ```json
//! {"decision": "mask", "policy": "default",
//!  "findings": [{"field": "notes", "category": "health", "lang": "nl", "start": 12,
//!                "end": 20, "char_start": 12, "char_end": 20, "action": "mask"}],
//!  "fields": {"notes": "Klant heeft [HEALTH].", "summary": "Terugbellen"}}
//! ```
//!
//! # Privacy
//! Errors ([`RequestError`]) never quote the request: a JSON syntax error reports a line and a
//! column, not serde's message (which can quote the offending value).
//!
//! # Example
//! ```
//! use art9::service::{Engine, Limits, Op};
//!
//! let engine = Engine::builtin()?;
//! let req = art9::service::parse_request(br#"{"text": "Klant heeft diabetes."}"#)?;
//! let resp = engine.handle(Op::Check, req, &Limits::default())?;
//! assert_eq!(resp.decision, Some(art9::Outcome::Mask));
//! assert_eq!(resp.text.as_deref(), Some("Klant heeft [HEALTH]."));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::category::{Category, Lang};
use crate::lexicon::{LexiconError, LexiconSet, Replaced};
use crate::mask::mask;
use crate::matcher::{BuildError, Evasion, Finding, Scanner, ScannerBuilder};
use crate::policy::{CompiledPolicy, Outcome, PolicyError, BUILTIN_POLICIES};
use crate::record::{Context, RecordContext};

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Decision, findings with their actions, and the masked values.
    Check,
    /// Findings only (no policy).
    Scan,
    /// Decision and the masked values, no findings.
    Mask,
}

/// Per-request limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most fields in one request.
    pub max_fields: usize,
    /// Most items in one batch.
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_fields: 64,
            max_batch: 100,
        }
    }
}

/// A language restriction: one code or a list.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum LangSelection {
    /// `"lang": "nl"`.
    One(String),
    /// `"lang": ["nl", "da"]`.
    Many(Vec<String>),
}

/// One request as the client wrote it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Echoed back unchanged (useful in batches and on the co-process stream).
    #[serde(default)]
    pub id: Option<Value>,
    /// One text (exclusive with `fields`).
    #[serde(default)]
    pub text: Option<String>,
    /// Named fields (exclusive with `text`); the names select per-field policy rules.
    #[serde(default)]
    pub fields: Option<BTreeMap<String, String>>,
    /// Policy name (built-in or preloaded); default: the engine's default policy.
    #[serde(default)]
    pub policy: Option<String>,
    /// Keep only findings from lexicons of these languages.
    #[serde(default)]
    pub lang: Option<LangSelection>,
    /// Add the matched text and the entry id to each finding.
    #[serde(default)]
    pub include_text: bool,
    /// The data subject the note is about, for policy rules (never echoed back).
    #[serde(default)]
    pub subject: Option<String>,
    /// The record's other values, for the policy's `when` rules: name → string, number,
    /// boolean or null (never echoed back).
    #[serde(default)]
    pub context: Option<BTreeMap<String, Value>>,
}

/// A batch: up to [`Limits::max_batch`] requests answered in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// What to do with every item (default `check`).
    #[serde(default)]
    pub op: Option<Op>,
    /// The items, each a [`Request`]; an invalid item gets an error result of its own.
    pub items: Vec<Box<RawValue>>,
}

/// One finding in a response: the finding type every command prints (see
/// [`crate::output::FindingOut`]); here without `record` and `line`.
pub use crate::output::FindingOut;

/// The answer to one [`Request`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct Response {
    /// The request's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// Overall decision: reject if any field is rejected, else mask if any is masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Outcome>,
    /// The policy applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Findings (check and scan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<FindingOut<'static>>>,
    /// The text with `mask` and `reject` findings replaced (requests with `text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Each field with `mask` and `reject` findings replaced (requests with `fields`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// Findings per category (in [`Category::ALL`] order), for metrics and logs.
    #[serde(skip)]
    pub counts: [u32; 7],
}

impl Response {
    /// The categories found, in [`Category::ALL`] order.
    pub fn categories(&self) -> impl Iterator<Item = Category> + '_ {
        Category::ALL
            .into_iter()
            .filter(|c| self.counts[c.index()] > 0)
    }
}

/// The body of an error: a stable code and a message that never quotes the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (`malformed_json`, `invalid_request`, ...).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// One item of a batch answer, or one line of the co-process stream.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ItemResult {
    /// The answer.
    Ok(Response),
    /// The item could not be answered.
    Err {
        /// The item's id, when it could be read.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
        /// What went wrong.
        error: ErrorBody,
    },
}

/// Why a request cannot be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestErrorKind {
    /// Not JSON.
    MalformedJson,
    /// JSON, but not a valid request.
    InvalidRequest,
    /// The policy is neither built in nor preloaded.
    UnknownPolicy,
    /// Too many fields or batch items.
    TooMany,
}

impl RequestErrorKind {
    /// The stable code in error bodies.
    pub fn code(self) -> &'static str {
        match self {
            RequestErrorKind::MalformedJson => "malformed_json",
            RequestErrorKind::InvalidRequest => "invalid_request",
            RequestErrorKind::UnknownPolicy => "unknown_policy",
            RequestErrorKind::TooMany => "too_many_items",
        }
    }
}

/// A request cannot be answered. The message never quotes the request's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
#[non_exhaustive]
pub struct RequestError {
    /// What kind of problem.
    pub kind: RequestErrorKind,
    /// Explanation (no request text).
    pub message: String,
    /// The request's id, when it could be read.
    pub id: Option<Value>,
}

impl RequestError {
    fn new(kind: RequestErrorKind, message: impl Into<String>) -> RequestError {
        RequestError {
            kind,
            message: message.into(),
            id: None,
        }
    }

    /// The error as a body `{"code", "message"}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.kind.code(),
            message: self.message.clone(),
        }
    }

    /// The error as a batch item / stream line.
    pub fn into_item(self) -> ItemResult {
        let error = self.body();
        ItemResult::Err { id: self.id, error }
    }
}

/// Map a serde_json error to a [`RequestError`] without its message, which can quote input.
fn json_error(e: &serde_json::Error, what: &str) -> RequestError {
    use serde_json::error::Category as C;
    let (kind, msg) = match e.classify() {
        C::Syntax | C::Eof | C::Io => (RequestErrorKind::MalformedJson, "malformed JSON"),
        C::Data => (
            RequestErrorKind::InvalidRequest,
            "JSON does not match the request schema",
        ),
    };
    RequestError::new(
        kind,
        format!(
            "{msg} at line {} column {} (expected {what})",
            e.line(),
            e.column()
        ),
    )
}

const REQUEST_SHAPE: &str = r#"{"text": "..."} or {"fields": {"name": "..."}}"#;

/// Parse one request. On a schema error the `id`, if readable, is kept for the error answer.
///
/// # Errors
/// Malformed JSON or a body that is not a [`Request`].
pub fn parse_request(bytes: &[u8]) -> Result<Request, RequestError> {
    serde_json::from_slice::<Request>(bytes).map_err(|e| {
        let mut err = json_error(&e, REQUEST_SHAPE);
        if err.kind == RequestErrorKind::InvalidRequest {
            #[derive(Deserialize)]
            struct IdOnly {
                #[serde(default)]
                id: Option<Value>,
            }
            err.id = serde_json::from_slice::<IdOnly>(bytes)
                .ok()
                .and_then(|i| i.id);
        }
        err
    })
}

/// Parse a batch request.
///
/// # Errors
/// Malformed JSON, a body that is not a [`BatchRequest`], or more than `limits.max_batch`
/// items.
pub fn parse_batch(bytes: &[u8], limits: &Limits) -> Result<BatchRequest, RequestError> {
    let batch: BatchRequest = serde_json::from_slice(bytes)
        .map_err(|e| json_error(&e, r#"{"items": [request, ...]}"#))?;
    if batch.items.len() > limits.max_batch {
        return Err(RequestError::new(
            RequestErrorKind::TooMany,
            format!(
                "{} items in the batch; the limit is {}",
                batch.items.len(),
                limits.max_batch
            ),
        ));
    }
    Ok(batch)
}

/// Where an [`Engine`] is loaded from; kept so that it can be loaded again (reload).
#[derive(Clone, Debug, Default)]
pub struct EngineSource {
    /// Lexicon directories or files added to the built-in ones (a file that says
    /// `replace: true` replaces the one of its language and category).
    pub lexicon_paths: Vec<PathBuf>,
    /// Do not load the built-in lexicons.
    pub no_builtin: bool,
    /// Scan with a flat term list (TSV: `term<TAB>lang<TAB>category`, the format of `art9
    /// lexicon export`) instead of the built-in lexicons.
    pub terms: Option<PathBuf>,
    /// Every file of `lexicon_paths` replaces the lexicon of its language and category (as
    /// if it said `replace: true`) instead of adding its entries to it.
    pub replace_lexicons: bool,
    /// Keep only these languages (empty = all).
    pub langs: Vec<Lang>,
    /// Keep only these categories (empty = all).
    pub categories: Vec<Category>,
    /// Policies (built-in names or YAML files) to preload; the first is the default
    /// (`default` when empty). The built-in policies are always available by name.
    pub policies: Vec<String>,
    /// The typo lane for every request (`art9 serve --typos`); without it only requests
    /// under a policy that says `typos: true` get typo findings (issue 20).
    pub typos: bool,
    /// Word lists (one word a line) whose words are never typos, besides the built-in guard.
    pub typo_word_lists: Vec<PathBuf>,
}

impl EngineSource {
    /// The lexicons this source asks for: the term list, or the built-in lexicons (unless
    /// `no_builtin`) with `lexicon_paths` added (or replacing), kept to `langs` and
    /// `categories`. What files replaced is in [`LexiconSet::replaced`].
    ///
    /// # Errors
    /// A lexicon file or the term list does not load, or nothing is left after filtering.
    pub fn lexicon_set(&self) -> Result<LexiconSet, EngineError> {
        let mut set = match &self.terms {
            Some(path) => LexiconSet::from_terms_file(path)?,
            None if self.no_builtin => LexiconSet::new(),
            None => LexiconSet::builtin()?,
        };
        for path in &self.lexicon_paths {
            if self.replace_lexicons {
                set.add_path_replacing(path)?;
            } else {
                set.add_path(path)?;
            }
        }
        set.retain(&self.langs, &self.categories);
        if set.is_empty() {
            return Err(EngineError::NoLexicons);
        }
        Ok(set)
    }
}

/// An engine could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A lexicon failed to load.
    #[error(transparent)]
    Lexicon(#[from] LexiconError),
    /// The scanner could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A policy failed to load.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The languages and categories asked for leave no lexicon to scan with.
    #[error("no lexicons left to scan with (check the languages, categories, lexicon files and built-ins asked for)")]
    NoLexicons,
    /// Loading stopped unexpectedly (a panic in the loader thread).
    #[error("loading lexicons and policies failed unexpectedly")]
    Aborted,
    /// A typo word list could not be read.
    #[error("cannot read the typo word list {path}: {source}")]
    WordList {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A scanner plus the policies requests may name: immutable, `Send + Sync`, cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    scanner: Scanner,
    policies: BTreeMap<String, CompiledPolicy>,
    default_policy: String,
    replaced: Vec<Replaced>,
    /// Typo findings are answered for every request (else only under policies that say
    /// `typos: true`).
    typos: bool,
}

impl Engine {
    /// An engine with this scanner and default policy; the built-in policies are available
    /// by name too (a policy named like a built-in replaces it). Whatever the scanner finds is
    /// answered: build it with [`ScannerBuilder::typos`] for typo findings.
    pub fn new(scanner: Scanner, default_policy: CompiledPolicy) -> Engine {
        let mut policies = BTreeMap::new();
        for (name, _) in BUILTIN_POLICIES {
            if let Ok(p) = CompiledPolicy::load(name) {
                policies.insert((*name).to_string(), p);
            }
        }
        let default_name = default_policy.name().to_string();
        policies.insert(default_name.clone(), default_policy);
        Engine {
            scanner,
            policies,
            default_policy: default_name,
            replaced: Vec::new(),
            typos: true,
        }
    }

    /// The built-in lexicons and the built-in `default` policy.
    ///
    /// # Errors
    /// Only if a built-in lexicon is broken (ruled out by the test suite).
    pub fn builtin() -> Result<Engine, EngineError> {
        Ok(Engine::new(
            Scanner::builtin()?,
            CompiledPolicy::default_policy(),
        ))
    }

    /// Load lexicons and policies as `source` says.
    ///
    /// # Errors
    /// A lexicon or policy that does not load, or no lexicon left after filtering.
    pub fn load(source: &EngineSource) -> Result<Engine, EngineError> {
        let set = source.lexicon_set()?;
        let replaced = set.replaced().to_vec();
        let mut names = source.policies.iter();
        let first = names.next().map(String::as_str).unwrap_or("default");
        let first = CompiledPolicy::load(first)?;
        let rest = names
            .map(|n| CompiledPolicy::load(n))
            .collect::<Result<Vec<_>, _>>()?;
        // The scanner looks for typos when any request may want them; requests that do not
        // have them dropped (`Engine::answer`).
        let any_typos = source.typos || first.typos() || rest.iter().any(CompiledPolicy::typos);
        let mut builder = ScannerBuilder::new();
        builder.lexicons(set).typos(any_typos);
        for path in &source.typo_word_lists {
            let text = std::fs::read_to_string(path).map_err(|e| EngineError::WordList {
                path: path.clone(),
                source: e,
            })?;
            builder.typo_word_list(text);
        }
        let scanner = builder.build()?;
        let mut engine = Engine::new(scanner, first);
        engine.replaced = replaced;
        engine.typos = source.typos;
        for p in rest {
            engine.policies.insert(p.name().to_string(), p);
        }
        Ok(engine)
    }

    /// The lexicons that files with `replace: true` (or `replace_lexicons`) replaced when
    /// [`Engine::load`] loaded this engine, for the operator to be told.
    pub fn replaced(&self) -> &[Replaced] {
        &self.replaced
    }

    /// The scanner.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// The default policy's name.
    pub fn default_policy(&self) -> &str {
        &self.default_policy
    }

    /// The names of the policies requests may name.
    pub fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }

    /// A policy by name (`None` = the default).
    pub fn policy(&self, name: Option<&str>) -> Option<&CompiledPolicy> {
        self.policies.get(name.unwrap_or(&self.default_policy))
    }

    /// Answer one request.
    ///
    /// # Errors
    /// Neither or both of `text` and `fields`, too many fields, an unknown policy or
    /// language. The request's id is carried into the error.
    pub fn handle(&self, op: Op, req: Request, limits: &Limits) -> Result<Response, RequestError> {
        let id = req.id.clone();
        self.answer(op, req, limits).map_err(|mut e| {
            e.id = id;
            e
        })
    }

    fn answer(&self, op: Op, req: Request, limits: &Limits) -> Result<Response, RequestError> {
        let langs = match &req.lang {
            None => None,
            Some(sel) => Some(parse_langs(sel)?),
        };
        let policy = match req.policy.as_deref() {
            None if op == Op::Scan => None,
            name => Some(self.policy(name).ok_or_else(|| {
                RequestError::new(
                    RequestErrorKind::UnknownPolicy,
                    format!(
                        "unknown policy; available: {}",
                        self.policy_names().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?),
        };
        let policy = if op == Op::Scan { None } else { policy };
        let keep_typos = self.typos || policy.is_some_and(CompiledPolicy::typos);
        let mut counts = [0u32; 7];
        let mut text_out = None;
        let mut fields_out = None;
        let mut findings_out = Vec::new();
        let mut outcome = Outcome::Accept;
        let mut scratch: Vec<Finding> = Vec::new();
        let context: Context = req
            .context
            .iter()
            .flatten()
            .map(|(name, v)| {
                let text = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                (name.as_str(), text)
            })
            .collect();
        let mut one = |field: Option<&str>, text: &str| -> Option<String> {
            self.scanner.scan_into(text, &mut scratch);
            if !keep_typos {
                scratch.retain(|f| f.evasion != Some(Evasion::Typo));
            }
            if let Some(langs) = &langs {
                scratch.retain(|f| langs.contains(&f.lang));
            }
            for f in &scratch {
                counts[f.category.index()] += 1;
            }
            let ctx = RecordContext {
                field,
                key: None,
                subject: req.subject.as_deref(),
                columns: &context,
            };
            let decision = policy.map(|p| p.decide(&ctx, &scratch));
            if let Some(d) = &decision {
                outcome = outcome.max(d.outcome);
            }
            if op != Op::Mask {
                for (i, f) in scratch.iter().enumerate() {
                    let action = decision.as_ref().map(|d| d.actions[i].0);
                    let mut out = FindingOut::new(&self.scanner, text, f, action, req.include_text)
                        .into_owned();
                    out.field = field.map(|n| Cow::Owned(n.to_string()));
                    findings_out.push(out);
                }
            }
            match (policy, &decision) {
                (Some(p), Some(d)) => Some(mask(text, &scratch, d, p)),
                _ => None,
            }
        };
        match (req.text, req.fields) {
            (Some(text), None) => text_out = one(None, &text),
            (None, Some(fields)) => {
                if fields.len() > limits.max_fields {
                    return Err(RequestError::new(
                        RequestErrorKind::TooMany,
                        format!(
                            "{} fields in the request; the limit is {}",
                            fields.len(),
                            limits.max_fields
                        ),
                    ));
                }
                let mut masked = BTreeMap::new();
                for (name, text) in &fields {
                    if let Some(m) = one(Some(name), text) {
                        masked.insert(name.clone(), m);
                    }
                }
                if policy.is_some() {
                    fields_out = Some(masked);
                }
            }
            _ => {
                return Err(RequestError::new(
                    RequestErrorKind::InvalidRequest,
                    format!("give exactly one of text and fields: {REQUEST_SHAPE}"),
                ))
            }
        }
        Ok(Response {
            id: req.id,
            decision: policy.map(|_| outcome),
            policy: policy.map(|p| p.name().to_string()),
            findings: (op != Op::Mask).then_some(findings_out),
            text: text_out,
            fields: fields_out,
            counts,
        })
    }

    /// Answer a batch, one result per item, in order.
    pub fn handle_batch(&self, batch: BatchRequest, limits: &Limits) -> Vec<ItemResult> {
        let op = batch.op.unwrap_or(Op::Check);
        batch
            .items
            .iter()
            .map(|raw| {
                match parse_request(raw.get().as_bytes()).and_then(|r| self.handle(op, r, limits)) {
                    Ok(r) => ItemResult::Ok(r),
                    Err(e) => e.into_item(),
                }
            })
            .collect()
    }
}

fn parse_langs(sel: &LangSelection) -> Result<Vec<Lang>, RequestError> {
    let codes: Vec<&str> = match sel {
        LangSelection::One(s) => vec![s.as_str()],
        LangSelection::Many(v) => v.iter().map(String::as_str).collect(),
    };
    codes
        .into_iter()
        .map(|c| {
            c.parse::<Lang>().map_err(|_| {
                RequestError::new(
                    RequestErrorKind::InvalidRequest,
                    "unknown lang (expected nl, da or en)",
                )
            })
        })
        .collect()
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Check => "check",
            Op::Scan => "scan",
            Op::Mask => "mask",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::builtin().unwrap()
    }

    #[test]
    fn fields_are_decided_and_masked_per_field() {
        let req = parse_request(
            br#"{"id": 7, "fields": {"notes": "Klant heeft diabetes.", "summary": "Bellen"}}"#,
        )
        .unwrap();
        let r = engine().handle(Op::Check, req, &Limits::default()).unwrap();
        assert_eq!(r.decision, Some(Outcome::Mask));
        assert_eq!(r.id, Some(Value::from(7)));
        let fields = r.fields.unwrap();
        assert_eq!(fields["notes"], "Klant heeft [HEALTH].");
        assert_eq!(fields["summary"], "Bellen");
        let f = r.findings.unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].field.as_deref(), Some("notes"));
        assert!(f[0].text.is_none());
    }

    /// The request's `context` reaches the policy's `when` rules, as a record's does in a scan.
    #[test]
    fn request_context_reaches_when_rules() {
        let policy = CompiledPolicy::from_yaml(
            "consent",
            "default: {action: mask}\nwhen:\n  - column: consent_health\n    equals: [\"yes\", \"1\"]\n    categories: [health]\n    action: flag\n",
        )
        .unwrap();
        let engine = Engine::new(Scanner::builtin().unwrap(), policy);
        let check = |body: &[u8]| {
            let req = parse_request(body).unwrap();
            engine.handle(Op::Check, req, &Limits::default()).unwrap()
        };
        let r =
            check(br#"{"text": "Klant heeft diabetes.", "context": {"consent_health": "yes"}}"#);
        assert_eq!(r.decision, Some(Outcome::Accept));
        assert_eq!(r.text.as_deref(), Some("Klant heeft diabetes."));
        // A number counts as its JSON text; null and a missing name as no value.
        let r = check(br#"{"text": "Klant heeft diabetes.", "context": {"consent_health": 1}}"#);
        assert_eq!(r.decision, Some(Outcome::Accept));
        for body in [
            &br#"{"text": "Klant heeft diabetes.", "context": {"consent_health": null}}"#[..],
            br#"{"text": "Klant heeft diabetes.", "context": {"consent_health": "no"}}"#,
            br#"{"text": "Klant heeft diabetes."}"#,
        ] {
            assert_eq!(check(body).decision, Some(Outcome::Mask));
        }
    }

    #[test]
    fn errors_never_quote_the_request() {
        for body in [
            &br#"{"text": "diabetes"#[..],
            br#"{"text": 5, "diabetes": 1}"#,
            br#"{"diabetes": "diabetes"}"#,
            br#"{"text": "x", "lang": "diabetes"}"#,
            br#"{"text": "x", "policy": "diabetes"}"#,
        ] {
            let e = parse_request(body)
                .and_then(|r| engine().handle(Op::Check, r, &Limits::default()))
                .unwrap_err();
            assert!(!e.to_string().contains("diabetes"), "{e}");
        }
    }

    #[test]
    fn lang_restriction_and_limits() {
        let req = parse_request(br#"{"text": "Klant heeft diabetes.", "lang": "da"}"#).unwrap();
        let r = engine().handle(Op::Scan, req, &Limits::default()).unwrap();
        assert!(r.findings.unwrap().is_empty());
        let req = parse_request(br#"{"fields": {"a": "", "b": ""}}"#).unwrap();
        let limits = Limits {
            max_fields: 1,
            ..Limits::default()
        };
        let e = engine().handle(Op::Check, req, &limits).unwrap_err();
        assert_eq!(e.kind, RequestErrorKind::TooMany);
    }
}
