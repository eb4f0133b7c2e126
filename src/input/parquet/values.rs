//! A Parquet column's values as text, read from the Arrow arrays the reader decodes: text
//! in place, numbers, decimals, booleans, dates and timestamps formatted as a JSON export of
//! the same data would hold them.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::Array;
use arrow_schema::{DataType, TimeUnit};

/// What a column can be read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Strings (UTF-8, large, views, or a dictionary of them): scanned.
    Text,
    /// Bytes: scanned when named, as UTF-8.
    Binary,
    /// A number, decimal, boolean, date or timestamp: text in a key, subject or context.
    Scalar,
    /// Every value null (Arrow's null type).
    Null,
    /// Lists, structs, maps, times, durations, intervals: not read.
    Unsupported,
}

impl Kind {
    pub(super) fn of(dt: &DataType) -> Kind {
        use DataType as D;
        match dt {
            D::Utf8 | D::LargeUtf8 | D::Utf8View => Kind::Text,
            D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => Kind::Binary,
            D::Int8
            | D::Int16
            | D::Int32
            | D::Int64
            | D::UInt8
            | D::UInt16
            | D::UInt32
            | D::UInt64
            | D::Float32
            | D::Float64
            | D::Decimal128(_, _)
            | D::Decimal256(_, _)
            | D::Boolean
            | D::Date32
            | D::Date64
            | D::Timestamp(_, _) => Kind::Scalar,
            D::Null => Kind::Null,
            D::Dictionary(_, values) => match Kind::of(values) {
                Kind::Unsupported => Kind::Unsupported,
                k => k,
            },
            _ => Kind::Unsupported,
        }
    }
}

/// One value.
#[derive(Debug)]
pub(super) enum Val<'a> {
    Null,
    Str(&'a str),
    Bytes(&'a [u8]),
    Owned(String),
}

impl Val<'_> {
    /// As text; `Err` for bytes that are not UTF-8. Null is the empty string.
    pub(super) fn into_text(self) -> Result<String, ()> {
        Ok(self.into_opt_text()?.unwrap_or_default())
    }

    /// As text, `None` for null; `Err` for bytes that are not UTF-8.
    pub(super) fn into_opt_text(self) -> Result<Option<String>, ()> {
        Ok(match self {
            Val::Null => None,
            Val::Str(s) => Some(s.to_string()),
            Val::Bytes(b) => Some(simdutf8::basic::from_utf8(b).map_err(|_| ())?.to_string()),
            Val::Owned(s) => Some(s),
        })
    }
}

/// A column of one record batch, ready to be read row by row: a dictionary's keys are
/// resolved once per batch.
pub(super) enum Column<'a> {
    Plain(&'a dyn Array),
    Dictionary {
        array: &'a dyn Array,
        keys: Vec<usize>,
        values: &'a dyn Array,
    },
}

impl<'a> Column<'a> {
    pub(super) fn new(array: &'a dyn Array) -> Column<'a> {
        match array.as_any_dictionary_opt() {
            Some(d) => Column::Dictionary {
                array,
                keys: d.normalized_keys(),
                values: d.values().as_ref(),
            },
            None => Column::Plain(array),
        }
    }

    /// The value of row `i`.
    pub(super) fn value(&self, i: usize) -> Val<'a> {
        match self {
            Column::Plain(a) => value(*a, i),
            Column::Dictionary {
                array,
                keys,
                values,
            } => {
                if array.is_null(i) {
                    return Val::Null;
                }
                match keys.get(i) {
                    Some(&k) if k < values.len() => value(*values, k),
                    _ => Val::Null,
                }
            }
        }
    }
}

/// A float as JSON writes it (`1.0`, `0.1`); not-a-number and infinities as Rust does.
fn float(v: f64) -> String {
    serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())
}

fn value(a: &dyn Array, i: usize) -> Val<'_> {
    use DataType as D;
    if a.is_null(i) {
        return Val::Null;
    }
    let owned = |s: String| Val::Owned(s);
    match a.data_type() {
        D::Utf8 => Val::Str(a.as_string::<i32>().value(i)),
        D::LargeUtf8 => Val::Str(a.as_string::<i64>().value(i)),
        D::Utf8View => Val::Str(a.as_string_view().value(i)),
        D::Binary => Val::Bytes(a.as_binary::<i32>().value(i)),
        D::LargeBinary => Val::Bytes(a.as_binary::<i64>().value(i)),
        D::BinaryView => Val::Bytes(a.as_binary_view().value(i)),
        D::FixedSizeBinary(_) => Val::Bytes(a.as_fixed_size_binary().value(i)),
        D::Int8 => owned(a.as_primitive::<Int8Type>().value(i).to_string()),
        D::Int16 => owned(a.as_primitive::<Int16Type>().value(i).to_string()),
        D::Int32 => owned(a.as_primitive::<Int32Type>().value(i).to_string()),
        D::Int64 => owned(a.as_primitive::<Int64Type>().value(i).to_string()),
        D::UInt8 => owned(a.as_primitive::<UInt8Type>().value(i).to_string()),
        D::UInt16 => owned(a.as_primitive::<UInt16Type>().value(i).to_string()),
        D::UInt32 => owned(a.as_primitive::<UInt32Type>().value(i).to_string()),
        D::UInt64 => owned(a.as_primitive::<UInt64Type>().value(i).to_string()),
        D::Float32 => {
            // Through its shortest decimal form, so that 0.1f32 stays 0.1.
            let v = a.as_primitive::<Float32Type>().value(i);
            owned(float(v.to_string().parse().unwrap_or(f64::from(v))))
        }
        D::Float64 => owned(float(a.as_primitive::<Float64Type>().value(i))),
        D::Decimal128(_, _) => owned(a.as_primitive::<Decimal128Type>().value_as_string(i)),
        D::Decimal256(_, _) => owned(a.as_primitive::<Decimal256Type>().value_as_string(i)),
        D::Boolean => owned(a.as_boolean().value(i).to_string()),
        D::Date32 => date(a.as_primitive::<Date32Type>().value_as_date(i)),
        D::Date64 => date(a.as_primitive::<Date64Type>().value_as_date(i)),
        D::Timestamp(unit, tz) => {
            let t = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value_as_datetime(i),
                TimeUnit::Millisecond => a
                    .as_primitive::<TimestampMillisecondType>()
                    .value_as_datetime(i),
                TimeUnit::Microsecond => a
                    .as_primitive::<TimestampMicrosecondType>()
                    .value_as_datetime(i),
                TimeUnit::Nanosecond => a
                    .as_primitive::<TimestampNanosecondType>()
                    .value_as_datetime(i),
            };
            match t {
                // A time zone: the value is UTC.
                Some(t) => owned(format!(
                    "{}{}",
                    t.format("%Y-%m-%dT%H:%M:%S%.f"),
                    if tz.is_some() { "Z" } else { "" }
                )),
                None => Val::Null,
            }
        }
        _ => Val::Null,
    }
}

fn date<D: std::fmt::Display>(d: Option<D>) -> Val<'static> {
    d.map_or(Val::Null, |d| Val::Owned(d.to_string()))
}
