//! JSON text exactly as Python's `json.dumps(obj, sort_keys=True)` writes it.
//!
//! The S3verless reference hashes this text to build list and count keys, so
//! reproducing it byte for byte is what lets a Rust service and a Python
//! service share cache entries. The rules, all checked against CPython in
//! this crate's tests:
//!
//! * separators `", "` and `": "`, no other whitespace;
//! * object keys sorted by code point at every level (Rust's `str` ordering,
//!   which compares UTF-8 bytes, is the same order);
//! * `ensure_ascii`: `\"` `\\` `\n` `\r` `\t` `\b` `\f`, every other character
//!   outside `' '..='~'` as `\uXXXX` with lowercase hex, characters beyond the
//!   BMP as a surrogate pair;
//! * `null`, `true`, `false`; integers in plain decimal of any size; floats as
//!   Python's `repr` (`1.0`, `1e-05`, `1e+16`, `-0.0`, and `NaN`, `Infinity`,
//!   `-Infinity` — see [`float_repr`]).
//!
//! A [`serde_json::Value`] cannot hold integers beyond the `i64`/`u64` range
//! unless serde_json's `arbitrary_precision` feature is enabled: without it,
//! parsing `18446744073709551616` yields a float and the text (and so the
//! key) is that of a Python float. With the feature the exact integer is
//! written. Either way this module writes what Python writes for the value the
//! `Value` actually holds.
//!
//! ```
//! use clockwheel::keys::pyjson;
//! use serde_json::json;
//!
//! let v = json!({"b": [1, 2.5, null], "a": {"z": true, "é": "x\n"}});
//! assert_eq!(
//!     pyjson::to_string(&v),
//!     r#"{"a": {"z": true, "\u00e9": "x\n"}, "b": [1, 2.5, null]}"#
//! );
//! ```

use serde_json::{Map, Number, Value};
use std::fmt::{self, Write};

/// Returns `value` as Python's `json.dumps(value, sort_keys=True)` text.
///
/// ```
/// use clockwheel::keys::pyjson;
/// use serde_json::json;
///
/// assert_eq!(pyjson::to_string(&json!({"x": 1e16, "emoji": "😀"})),
///            r#"{"emoji": "\ud83d\ude00", "x": 1e+16}"#);
/// ```
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    // Writing into a String never fails.
    let _ = to_writer(value, &mut out);
    out
}

/// Writes `value` into `out` as Python's `json.dumps(value, sort_keys=True)`
/// text. Fails only if `out` fails. Nesting depth is not limited by the
/// call stack: the walk keeps its own stack.
///
/// ```
/// use clockwheel::keys::pyjson;
/// use serde_json::json;
///
/// let mut text = String::from("data=");
/// pyjson::to_writer(&json!([true, null, "tab\t"]), &mut text)?;
/// assert_eq!(text, r#"data=[true, null, "tab\t"]"#);
/// # Ok::<(), std::fmt::Error>(())
/// ```
pub fn to_writer<W: Write + ?Sized>(value: &Value, out: &mut W) -> fmt::Result {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    open_value(value, &mut stack, out)?;
    finish(&mut stack, out)
}

/// Writes a JSON object given as a map (what [`to_writer`] does for
/// `Value::Object`, without having to build or clone a `Value`).
pub(crate) fn write_object<W: Write + ?Sized>(
    map: &Map<String, Value>,
    out: &mut W,
) -> fmt::Result {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    open_object(map, &mut stack, out)?;
    finish(&mut stack, out)
}

/// Writes the remaining members of every open container, innermost first.
fn finish<'a, W: Write + ?Sized>(stack: &mut Vec<Frame<'a>>, out: &mut W) -> fmt::Result {
    loop {
        let step = match stack.last_mut() {
            None => return Ok(()),
            Some(frame) => frame.step(),
        };
        match step {
            Step::Close(bracket) => {
                stack.pop();
                out.write_char(bracket)?;
            }
            Step::Item { first, key, value } => {
                if !first {
                    out.write_str(", ")?;
                }
                if let Some(key) = key {
                    write_str(key, out)?;
                    out.write_str(": ")?;
                }
                open_value(value, stack, out)?;
            }
        }
    }
}

/// Python's `repr` of a float, which is also what `json.dumps` writes for it:
/// the shortest digits that read back to the same `f64`, in positional
/// notation when the decimal exponent is in `-4..16` (with `.0` added to
/// whole numbers) and in scientific notation otherwise (`e-05`, `e+16`:
/// a sign and at least two exponent digits). Non-finite values are written
/// `NaN`, `Infinity` and `-Infinity`, as `json.dumps` does by default.
///
/// ```
/// use clockwheel::keys::pyjson::float_repr;
///
/// assert_eq!(float_repr(1.0), "1.0");
/// assert_eq!(float_repr(0.1), "0.1");
/// assert_eq!(float_repr(1e-5), "1e-05");
/// assert_eq!(float_repr(1e16), "1e+16");
/// assert_eq!(float_repr(1.5e300), "1.5e+300");
/// assert_eq!(float_repr(-0.0), "-0.0");
/// assert_eq!(float_repr(f64::NEG_INFINITY), "-Infinity");
/// ```
pub fn float_repr(x: f64) -> String {
    let mut out = String::new();
    // Writing into a String never fails.
    let _ = write_float(x, &mut out);
    out
}

/// An open array or object whose remaining members are still to be written.
enum Frame<'a> {
    Array {
        items: std::slice::Iter<'a, Value>,
        first: bool,
    },
    Object {
        /// Entries in code-point order of their keys.
        entries: std::vec::IntoIter<(&'a String, &'a Value)>,
        first: bool,
    },
}

enum Step<'a> {
    Item {
        first: bool,
        key: Option<&'a str>,
        value: &'a Value,
    },
    Close(char),
}

impl<'a> Frame<'a> {
    fn step(&mut self) -> Step<'a> {
        match self {
            Frame::Array { items, first } => match items.next() {
                Some(value) => Step::Item {
                    first: std::mem::replace(first, false),
                    key: None,
                    value,
                },
                None => Step::Close(']'),
            },
            Frame::Object { entries, first } => match entries.next() {
                Some((key, value)) => Step::Item {
                    first: std::mem::replace(first, false),
                    key: Some(key.as_str()),
                    value,
                },
                None => Step::Close('}'),
            },
        }
    }
}

/// Writes a scalar completely, or the opening bracket of a non-empty
/// container (pushing a frame for its members). Empty containers are written
/// whole, as Python does: `[]`, `{}`.
fn open_value<'a, W: Write + ?Sized>(
    value: &'a Value,
    stack: &mut Vec<Frame<'a>>,
    out: &mut W,
) -> fmt::Result {
    match value {
        Value::Null => out.write_str("null"),
        Value::Bool(true) => out.write_str("true"),
        Value::Bool(false) => out.write_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_str(s, out),
        Value::Array(items) if items.is_empty() => out.write_str("[]"),
        Value::Array(items) => {
            stack.push(Frame::Array {
                items: items.iter(),
                first: true,
            });
            out.write_char('[')
        }
        Value::Object(map) => open_object(map, stack, out),
    }
}

fn open_object<'a, W: Write + ?Sized>(
    map: &'a Map<String, Value>,
    stack: &mut Vec<Frame<'a>>,
    out: &mut W,
) -> fmt::Result {
    if map.is_empty() {
        return out.write_str("{}");
    }
    stack.push(Frame::Object {
        entries: sorted_entries(map).into_iter(),
        first: true,
    });
    out.write_char('{')
}

/// The entries of `map` sorted by key in code-point order, whatever order the
/// map keeps (serde_json's `preserve_order` feature keeps insertion order).
fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    // Keys are unique, so an unstable sort is deterministic.
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Writes a JSON number as Python would write the `int` or `float` that
/// `json.loads` makes of it: integer-shaped numbers as integers of any size,
/// everything else as a float `repr`.
fn write_number<W: Write + ?Sized>(n: &Number, out: &mut W) -> fmt::Result {
    if let Some(u) = n.as_u64() {
        return write!(out, "{u}");
    }
    if let Some(i) = n.as_i64() {
        return write!(out, "{i}");
    }
    // Out of the 64-bit range (only possible with `arbitrary_precision`, where
    // the text is the number as written) or a float.
    let text = n.to_string();
    if let Some(digits) = integer_digits(&text) {
        return write_integer(text.starts_with('-'), digits, out);
    }
    match text.parse::<f64>() {
        Ok(x) => write_float(x, out),
        // serde_json only holds valid JSON numbers, which always parse.
        Err(_) => out.write_str(&text),
    }
}

/// The digits of `text` if it is an integer literal (`-?[0-9]+`).
fn integer_digits(text: &str) -> Option<&str> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let is_int = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    is_int.then_some(digits)
}

/// Writes an integer the way Python's `int.__repr__` does: no leading zeros,
/// and no sign on zero (`json.loads("-0")` is the int `0`).
fn write_integer<W: Write + ?Sized>(negative: bool, digits: &str, out: &mut W) -> fmt::Result {
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return out.write_char('0');
    }
    if negative {
        out.write_char('-')?;
    }
    out.write_str(significant)
}

/// Writes `x` as Python's `float.__repr__` (see [`float_repr`]).
fn write_float<W: Write + ?Sized>(x: f64, out: &mut W) -> fmt::Result {
    if x.is_nan() {
        return out.write_str("NaN");
    }
    if x.is_sign_negative() {
        out.write_char('-')?;
    }
    if x.is_infinite() {
        return out.write_str("Infinity");
    }
    let sci = shortest_sci(x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    write_shortest(&digits, exp, out)
}

/// The digits Python's `repr` picks for the finite, non-negative `a`, in
/// Rust's scientific layout: `d[.ddd]e<exp>` (`0e0` for zero).
///
/// Python (David Gay's dtoa, mode 0) takes the fewest significant digits that
/// read back as `a` and, among strings of that length, the one nearest to
/// `a`, ties to even. Rust's `{:e}` finds the same length but may settle a
/// tie the other way (1743746592103460.25 → "…460.3", Python "…460.2"), so
/// the correctly rounded (ties-to-even) string of that length is preferred
/// whenever it also reads back as `a`.
fn shortest_sci(a: f64) -> String {
    let shortest = format!("{a:e}");
    let mantissa = shortest.split('e').next().unwrap_or("");
    let len = mantissa.bytes().filter(u8::is_ascii_digit).count();
    let nearest = format!("{a:.*e}", len.saturating_sub(1));
    if nearest != shortest && nearest.parse::<f64>() == Ok(a) {
        nearest
    } else {
        shortest
    }
}

/// Lays out the significant `digits` (d1 d2 ...) of a value
/// d1.d2... × 10^`exp` with Python's `repr` rules (`float_repr_style` 'short').
fn write_shortest<W: Write + ?Sized>(digits: &str, exp: i32, out: &mut W) -> fmt::Result {
    // Python's "decpt": the value is 0.d1d2... × 10^decpt.
    let decpt = exp + 1;
    let (head, tail) = digits.split_at(1.min(digits.len()));
    if !(-4 < decpt && decpt <= 16) {
        out.write_str(head)?;
        if !tail.is_empty() {
            out.write_char('.')?;
            out.write_str(tail)?;
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return write!(out, "e{sign}{:02}", exp.unsigned_abs());
    }
    if decpt <= 0 {
        out.write_str("0.")?;
        write_zeros(decpt.unsigned_abs(), out)?;
        return out.write_str(digits);
    }
    let int_len = decpt.unsigned_abs() as usize;
    if int_len >= digits.len() {
        out.write_str(digits)?;
        write_zeros((int_len - digits.len()) as u32, out)?;
        return out.write_str(".0");
    }
    let (int_part, frac_part) = digits.split_at(int_len);
    out.write_str(int_part)?;
    out.write_char('.')?;
    out.write_str(frac_part)
}

fn write_zeros<W: Write + ?Sized>(count: u32, out: &mut W) -> fmt::Result {
    (0..count).try_for_each(|_| out.write_char('0'))
}

/// Writes `s` as a JSON string with Python's `ensure_ascii=True` escaping.
pub(crate) fn write_str<W: Write + ?Sized>(s: &str, out: &mut W) -> fmt::Result {
    out.write_char('"')?;
    // Copy runs of characters that need no escape in one call.
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        if (' '..='~').contains(&c) && c != '"' && c != '\\' {
            continue;
        }
        out.write_str(&s[run_start..i])?;
        run_start = i + c.len_utf8();
        write_escape(c, out)?;
    }
    out.write_str(&s[run_start..])?;
    out.write_char('"')
}

fn write_escape<W: Write + ?Sized>(c: char, out: &mut W) -> fmt::Result {
    match c {
        '"' => out.write_str("\\\""),
        '\\' => out.write_str("\\\\"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\u{8}' => out.write_str("\\b"),
        '\u{c}' => out.write_str("\\f"),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(out, "\\u{unit:04x}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_match_python() {
        let v = json!("\"\\\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}~ é\u{ffff}😀");
        assert_eq!(
            to_string(&v),
            r#""\"\\\n\r\t\b\f\u0000\u001f\u007f~ \u00e9\uffff\ud83d\ude00""#
        );
    }

    #[test]
    fn integer_layout() {
        let mut s = String::new();
        write_integer(true, "000", &mut s).unwrap();
        s.push(' ');
        write_integer(true, "0012", &mut s).unwrap();
        s.push(' ');
        write_integer(false, "123456789012345678901234567890", &mut s).unwrap();
        assert_eq!(s, "0 -12 123456789012345678901234567890");
        assert_eq!(integer_digits("-12"), Some("12"));
        assert_eq!(integer_digits("1.0"), None);
        assert_eq!(integer_digits("1e5"), None);
        assert_eq!(integer_digits("-"), None);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let depth = 100_000;
        let mut v = json!(1);
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        let text = to_string(&v);
        assert_eq!(text.len(), 2 * depth + 1);
        // serde_json's recursive Drop would overflow on this depth; unwind it.
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Null);
        }
    }
}
