//! `art9._art9`: the extension module behind the `art9` Python package.
//!
//! It holds no scanning logic of its own: an [`Engine`] wraps one [`art9::service::Engine`]
//! (the scanner plus its policies, as `art9 check --stdio` and `art9 serve` use it), answers
//! `scan`/`check`/`mask` with the one finding model of the crate ([`art9::output::FindingOut`])
//! and scans Arrow record batches column by column (`arrow.rs`) with the GIL released.
//! The Python side (`art9/__init__.py`) caches one engine per configuration.
//!
//! Errors are Python exceptions under `art9.Art9Error` whose message is the library error's
//! one line (`file:line: ...` for a lexicon), never the scanned text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use art9::policy::DEFAULT_MIN_LIKELIHOOD;
use art9::service::FindingOut;
use art9::service::{self, EngineSource, LangSelection, Limits, Op};
use art9::{Category, Evasion, Lang, Likelihood, RecordContext};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyRecordBatch;

mod arrow;

create_exception!(
    art9,
    Art9Error,
    PyException,
    "Base class of the errors art9 raises."
);
create_exception!(
    art9,
    LoadError,
    Art9Error,
    "A lexicon or policy could not be loaded (the message names file:line)."
);
create_exception!(
    art9,
    RequestError,
    Art9Error,
    "A request cannot be answered: an unknown policy or language, a bad field set."
);
create_exception!(
    art9,
    InputError,
    Art9Error,
    "Arrow input that cannot be scanned: a missing column, a text column that is not a string column."
);

/// One finding: the same keys as a JSON Lines finding of `art9 scan` and of the service.
#[pyclass(frozen, eq, get_all, module = "art9._art9")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Field name (requests with named fields).
    field: Option<String>,
    /// Category (`health`, `politics`, ...).
    category: &'static str,
    /// The category's fideslang data-category key (`user.health`, ...).
    data_category: &'static str,
    /// Language of the lexicon that matched.
    lang: &'static str,
    /// Language of the note by a function-word vote, else by a sure character-trigram guess
    /// (`nl`, `da`, `en`; `und` when undetermined); grades use the vote alone.
    note_lang: &'static str,
    /// How likely the finding is to be special-category data about a person
    /// (`very_unlikely` … `very_likely`).
    likelihood: &'static str,
    /// UTF-8 byte offsets into the original text.
    start: usize,
    end: usize,
    /// Char (code point) offsets: Python string indices.
    char_start: usize,
    char_end: usize,
    /// The policy's action, when a policy was applied.
    action: Option<&'static str>,
    /// The evasion lane that found it (`homoglyph`, `spaced`, `typo`); `None` for an exact
    /// match.
    evasion: Option<&'static str>,
    /// The matched text (only when asked for).
    text: Option<String>,
    /// The lexicon entry id (only when asked for).
    entry: Option<String>,
}

impl Finding {
    fn from_out(f: FindingOut<'_>) -> Finding {
        Finding {
            field: f.field.map(Cow::into_owned),
            category: f.category.as_str(),
            data_category: f.data_category,
            lang: f.lang.as_str(),
            note_lang: f.note_lang.map_or("und", |l| l.as_str()),
            likelihood: f.likelihood.as_str(),
            start: f.start,
            end: f.end,
            char_start: f.char_start,
            char_end: f.char_end,
            action: f.action.map(|a| a.as_str()),
            evasion: f.evasion.map(|e| e.as_str()),
            text: f.text.map(Cow::into_owned),
            entry: f.entry.map(Cow::into_owned),
        }
    }
}

#[pymethods]
impl Finding {
    /// The finding as the JSON object the CLI prints (keys without a value left out).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        if let Some(field) = &self.field {
            d.set_item("field", field)?;
        }
        d.set_item("category", self.category)?;
        d.set_item("data_category", self.data_category)?;
        d.set_item("lang", self.lang)?;
        d.set_item("note_lang", self.note_lang)?;
        d.set_item("likelihood", self.likelihood)?;
        d.set_item("start", self.start)?;
        d.set_item("end", self.end)?;
        d.set_item("char_start", self.char_start)?;
        d.set_item("char_end", self.char_end)?;
        if let Some(action) = self.action {
            d.set_item("action", action)?;
        }
        if let Some(evasion) = self.evasion {
            d.set_item("evasion", evasion)?;
        }
        if let Some(text) = &self.text {
            d.set_item("text", text)?;
        }
        if let Some(entry) = &self.entry {
            d.set_item("entry", entry)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        // Never the matched text: a repr ends up in logs and tracebacks.
        format!(
            "Finding(category={:?}, lang={:?}, start={}, end={}{}{})",
            self.category,
            self.lang,
            self.start,
            self.end,
            self.field
                .as_ref()
                .map(|f| format!(", field={f:?}"))
                .unwrap_or_default(),
            self.action
                .map(|a| format!(", action={a:?}"))
                .unwrap_or_default(),
        )
    }
}

/// The answer of `check`: the overall decision, the findings with their actions, the masked
/// text (or fields).
#[pyclass(frozen, get_all, module = "art9._art9")]
#[derive(Clone, Debug)]
pub struct Decision {
    /// `accept`, `mask` or `reject`.
    decision: &'static str,
    /// The policy applied.
    policy: String,
    /// The findings, each with its action.
    findings: Vec<Finding>,
    /// The text with `mask` and `reject` findings replaced (a text request).
    text: Option<String>,
    /// Each field with `mask` and `reject` findings replaced (a fields request).
    fields: Option<BTreeMap<String, String>>,
}

#[pymethods]
impl Decision {
    fn __repr__(&self) -> String {
        format!(
            "Decision(decision={:?}, policy={:?}, findings={})",
            self.decision,
            self.policy,
            self.findings.len()
        )
    }
}

/// A loaded scanner and its policies; immutable and shared between threads.
#[pyclass(frozen, module = "art9._art9")]
pub struct Engine {
    engine: service::Engine,
    /// The policy named at construction: its actions are added to `scan` findings.
    policy: Option<String>,
    /// Typo findings are kept for every text (`typos=True`); otherwise only under a policy
    /// that says `typos: true`, as in the service.
    typos: bool,
    /// The lowest likelihood reported (`--min-likelihood`); `None`: the policy's
    /// `min_likelihood`, else `possible`.
    min_likelihood: Option<Likelihood>,
}

/// A context value of `check`/`mask`: what a JSON request's `context` may hold.
#[derive(FromPyObject)]
enum ContextValue {
    // bool before int: a Python bool is an int.
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl ContextValue {
    fn into_json(self) -> serde_json::Value {
        match self {
            ContextValue::Bool(b) => b.into(),
            ContextValue::Int(i) => i.into(),
            ContextValue::Float(f) => f.into(),
            ContextValue::Text(s) => s.into(),
        }
    }
}

/// Text or named fields, as `check` and `mask` take them.
#[derive(FromPyObject)]
enum Input {
    Text(String),
    Fields(BTreeMap<String, String>),
}

fn parse_all<T: std::str::FromStr>(values: &[String]) -> PyResult<Vec<T>>
where
    T::Err: std::fmt::Display,
{
    values
        .iter()
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| LoadError::new_err(e.to_string()))
        })
        .collect()
}

fn request_error(e: service::RequestError) -> PyErr {
    RequestError::new_err(e.message)
}

impl Engine {
    /// Whether typo findings are reported: `typos=True`, or a policy that asks for them.
    fn keeps_typos(&self, policy: Option<&art9::CompiledPolicy>) -> bool {
        self.typos || (self.policy.is_some() && policy.is_some_and(|p| p.typos()))
    }

    fn request(
        &self,
        input: Input,
        policy: Option<String>,
        include_text: bool,
        field: Option<String>,
    ) -> service::Request {
        let (text, fields) = match (input, field) {
            (Input::Text(t), None) => (Some(t), None),
            (Input::Text(t), Some(name)) => (None, Some(BTreeMap::from([(name, t)]))),
            (Input::Fields(f), _) => (None, Some(f)),
        };
        service::Request {
            text,
            fields,
            policy: policy.or_else(|| self.policy.clone()),
            include_text,
            min_likelihood: self.min_likelihood,
            ..service::Request::default()
        }
    }

    fn handle(&self, py: Python<'_>, op: Op, req: service::Request) -> PyResult<service::Response> {
        let limits = Limits {
            max_fields: usize::MAX,
            max_batch: usize::MAX,
        };
        py.detach(|| self.engine.handle(op, req, &limits))
            .map_err(request_error)
    }
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (lexicons=Vec::new(), policy=None, lang=Vec::new(), categories=Vec::new(), no_builtin=false, replace_lexicons=false, terms=None, typos=false, typo_word_lists=Vec::new(), min_likelihood=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        lexicons: Vec<PathBuf>,
        policy: Option<String>,
        lang: Vec<String>,
        categories: Vec<String>,
        no_builtin: bool,
        replace_lexicons: bool,
        terms: Option<PathBuf>,
        typos: bool,
        typo_word_lists: Vec<PathBuf>,
        min_likelihood: Option<String>,
    ) -> PyResult<Engine> {
        // As `--min-likelihood LEVEL|all`.
        let min_likelihood = match min_likelihood.as_deref() {
            None => None,
            Some("all") => Some(Likelihood::VeryUnlikely),
            Some(level) => Some(
                level
                    .parse::<Likelihood>()
                    .map_err(|e| LoadError::new_err(format!("min_likelihood: {e}")))?,
            ),
        };
        let source = EngineSource {
            lexicon_paths: lexicons,
            no_builtin,
            terms,
            replace_lexicons,
            langs: parse_all::<Lang>(&lang)?,
            categories: parse_all::<Category>(&categories)?,
            policies: policy.iter().cloned().collect(),
            typos,
            typo_word_lists,
        };
        let engine = py
            .detach(|| service::Engine::load(&source))
            .map_err(|e| LoadError::new_err(e.to_string()))?;
        let policy = policy.map(|_| engine.default_policy().to_string());
        Ok(Engine {
            engine,
            policy,
            typos,
            min_likelihood,
        })
    }

    /// The likelihood threshold given at construction (`None`: the policy's, else
    /// `possible`).
    #[getter]
    fn min_likelihood(&self) -> Option<&'static str> {
        self.min_likelihood.map(Likelihood::as_str)
    }

    /// The name of the policy given at construction, if any.
    #[getter]
    fn policy(&self) -> Option<String> {
        self.policy.clone()
    }

    /// The names of the policies `check` and `mask` may name.
    fn policy_names(&self) -> Vec<String> {
        self.engine.policy_names().map(str::to_string).collect()
    }

    #[pyo3(signature = (text, field=None, include_text=false))]
    fn scan(
        &self,
        py: Python<'_>,
        text: &str,
        field: Option<&str>,
        include_text: bool,
    ) -> Vec<Finding> {
        let scanner = self.engine.scanner();
        let policy = self.engine.policy(self.policy.as_deref());
        let keep_typos = self.keeps_typos(policy);
        py.detach(|| {
            let mut found = scanner.scan(text);
            if !keep_typos {
                found.retain(|f| f.evasion != Some(Evasion::Typo));
            }
            // The likelihood threshold, as `art9 scan` applies it: `min_likelihood`
            // (`--min-likelihood`), else the policy's, else the default.
            match policy.filter(|_| self.policy.is_some()) {
                Some(p) => p.retain_likely(field, &mut found, self.min_likelihood),
                None => {
                    let min = self.min_likelihood.unwrap_or(DEFAULT_MIN_LIKELIHOOD);
                    found.retain(|f| f.likelihood >= min);
                }
            }
            let decision = policy.filter(|_| self.policy.is_some()).map(|p| {
                let ctx = RecordContext {
                    field,
                    ..RecordContext::none()
                };
                p.decide(&ctx, &found)
            });
            found
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let action = decision.as_ref().map(|d| d.actions[i].0);
                    let mut out = FindingOut::new(scanner, text, f, action, include_text);
                    out.field = field.map(Cow::Borrowed);
                    Finding::from_out(out)
                })
                .collect()
        })
    }

    #[pyo3(signature = (input, policy=None, field=None, include_text=false, lang=None, subject=None, context=None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        py: Python<'_>,
        input: Input,
        policy: Option<String>,
        field: Option<String>,
        include_text: bool,
        lang: Option<Vec<String>>,
        subject: Option<String>,
        context: Option<BTreeMap<String, Option<ContextValue>>>,
    ) -> PyResult<Decision> {
        let mut req = self.request(input, policy, include_text, field);
        req.lang = lang.map(LangSelection::Many);
        req.subject = subject;
        req.context = context.map(|c| {
            c.into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.map_or(serde_json::Value::Null, ContextValue::into_json),
                    )
                })
                .collect()
        });
        let resp = self.handle(py, Op::Check, req)?;
        Ok(Decision {
            decision: resp.decision.map(|d| d.as_str()).unwrap_or("accept"),
            policy: resp.policy.unwrap_or_default(),
            findings: resp
                .findings
                .unwrap_or_default()
                .into_iter()
                .map(Finding::from_out)
                .collect(),
            text: resp.text,
            fields: resp.fields,
        })
    }

    #[pyo3(signature = (input, policy=None, field=None, subject=None, context=None))]
    fn mask(
        &self,
        py: Python<'_>,
        input: Input,
        policy: Option<String>,
        field: Option<String>,
        subject: Option<String>,
        context: Option<BTreeMap<String, Option<ContextValue>>>,
    ) -> PyResult<Py<PyAny>> {
        // A text comes back as a text, also when `field` names it (for per-field rules).
        let text_field = match &input {
            Input::Text(_) => Some(field.clone()),
            Input::Fields(_) => None,
        };
        let mut req = self.request(input, policy, false, field);
        req.subject = subject;
        req.context = context.map(|c| {
            c.into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.map_or(serde_json::Value::Null, ContextValue::into_json),
                    )
                })
                .collect()
        });
        let resp = self.handle(py, Op::Mask, req)?;
        let masked = match text_field {
            Some(None) => resp.text.unwrap_or_default(),
            Some(Some(name)) => resp
                .fields
                .and_then(|mut f| f.remove(&name))
                .unwrap_or_default(),
            None => {
                let fields = resp.fields.unwrap_or_default();
                return Ok(fields.into_pyobject(py)?.into_any().unbind());
            }
        };
        Ok(masked.into_pyobject(py)?.into_any().unbind())
    }

    #[pyo3(signature = (data, text_columns, key_column=None, subject_column=None, include_text=false, context_columns=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn scan_arrow(
        &self,
        py: Python<'_>,
        data: AnyRecordBatch,
        text_columns: Vec<String>,
        key_column: Option<String>,
        subject_column: Option<String>,
        include_text: bool,
        context_columns: Vec<String>,
    ) -> PyResult<PyRecordBatch> {
        let reader = data.into_reader()?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| InputError::new_err(e.to_string()))?;
        let policy = self
            .policy
            .as_deref()
            .and_then(|name| self.engine.policy(Some(name)));
        // As the CLI does: the columns the policy's `when` rules name come along with each
        // record; one the input lacks is a missing value, as in a JSON record without it.
        let mut context_columns = context_columns;
        for name in policy.map(|p| p.context_columns()).unwrap_or_default() {
            if schema.index_of(name).is_ok() && !context_columns.iter().any(|c| c == name) {
                context_columns.push(name.to_string());
            }
        }
        let plan = arrow::Plan::new(
            &schema,
            &text_columns,
            key_column.as_deref(),
            subject_column.as_deref(),
            &context_columns,
        )
        .map_err(InputError::new_err)?;
        let keep_typos = self.keeps_typos(policy);
        let out = py
            .detach(|| {
                arrow::scan(
                    self.engine.scanner(),
                    policy,
                    &plan,
                    &batches,
                    include_text,
                    keep_typos,
                    self.min_likelihood,
                )
            })
            .map_err(InputError::new_err)?;
        Ok(PyRecordBatch::new(out))
    }
}

/// The extension module.
#[pymodule]
fn _art9(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Art9Error", py.get_type::<Art9Error>())?;
    m.add("LoadError", py.get_type::<LoadError>())?;
    m.add("RequestError", py.get_type::<RequestError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("FINDINGS_COLUMNS", arrow::COLUMNS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Engine>()?;
    m.add_class::<Finding>()?;
    m.add_class::<Decision>()?;
    Ok(())
}
