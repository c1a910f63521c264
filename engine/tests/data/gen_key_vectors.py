#!/usr/bin/env python3
"""Prints the expected cache keys of engine/tests/data/key_vectors.in (included by
engine/tests/key_vectors.rs).

The keys are computed independently of the Rust code, by CPython's own json
and hashlib modules, through a re-implementation of the S3verless
CacheKeyBuilder as the project's reference-semantics.md
describes it. Standard library only. Run:
    python3 engine/tests/data/gen_key_vectors.py > engine/tests/data/key_vectors.in

Each case's filters are given as JSON *text*, which both sides parse: Python
with json.loads, the Rust test with serde_json::from_str. Where it can, the
script also prints the same value as a serde_json json! literal (floats as
Rust literals, which the compiler reads exactly; serde_json's parser is only
exact with its `float_roundtrip` feature). Without serde_json's
`arbitrary_precision` feature, serde_json cannot hold integers outside the
i64/u64 range (they become floats) and reads `-0` as the float -0.0; for those
cases the script also prints the keys Python computes for the value serde_json
actually holds (`serde_default`).
"""
import hashlib
import json
import math
import struct
import sys


class CacheKeyBuilder:
    """The reference key builder, as reference-semantics.md states it."""

    def __init__(self, prefix="s3v"):
        self.prefix = prefix

    @staticmethod
    def _hash(data):
        text = json.dumps(data, sort_keys=True)
        return hashlib.md5(text.encode()).hexdigest()[:12]

    def model_key(self, model, id):
        return f"{self.prefix}:model:{model.__name__}:{id}"

    def model_list_key(self, model, filters=None, sort_field=None,
                       sort_order="asc", page=1, page_size=20):
        data = {"filters": filters or {}, "sort_field": sort_field,
                "sort_order": sort_order, "page": page, "page_size": page_size}
        return f"{self.prefix}:list:{model.__name__}:{self._hash(data)}"

    def model_count_key(self, model, filters=None):
        if not filters:
            return f"{self.prefix}:count:{model.__name__}:all"
        return f"{self.prefix}:count:{model.__name__}:{self._hash(filters)}"

    def model_pattern(self, model):
        return f"{self.prefix}:*:{model.__name__}:*"

    def model_instance_pattern(self, model):
        return f"{self.prefix}:model:{model.__name__}:*"

    def model_list_pattern(self, model):
        return f"{self.prefix}:list:{model.__name__}:*"

    def custom_key(self, *parts):
        return f"{self.prefix}:" + ":".join(str(p) for p in parts)


def model(name):
    return type(name, (), {})


# (name, prefix, model, filters JSON text or None, sort_field, sort_order, page, page_size)
CASES = [
    ("defaults, no filters", "s3v", "CacheTestModel", None, None, "asc", 1, 20),
    ("empty filters equal no filters", "s3v", "CacheTestModel", "{}", None, "asc", 1, 20),
    ("guide example", "myapp", "Product", '{"category": "electronics"}', "price", "asc", 1, 20),
    ("boolean filter", "s3v", "Product", '{"active": true}', None, "asc", 1, 20),
    ("booleans and null", "s3v", "Product",
     '{"in_stock": false, "discontinued": null, "featured": true}', None, "asc", 1, 20),
    ("nested objects sorted at every level", "s3v", "Product",
     '{"price": {"$lt": 100, "$gte": 10}, "meta": {"z": 1, "a": {"y": 2, "b": 3}}, "tags": {"all": ["b", "a"]}}',
     "price", "desc", 2, 50),
    ("key order is by code point", "s3v", "Product",
     '{"b": 1, "B": 2, "a": 3, "_": 4, "": 5, "A": 6, "page": 7, "page_size": 8, "aa": 9, "a ": 10}',
     None, "asc", 1, 20),
    ("non-ASCII values", "s3v", "Product",
     '{"name": "caf\u00e9", "city": "Z\u00fcrich", "jp": "\u6771\u4eac"}', None, "asc", 1, 20),
    ("emoji and flags (surrogate pairs)", "s3v", "Product",
     '{"mood": "\U0001F600", "flag": "\U0001F1E8\U0001F1ED", "mixed": "a\U0001F680b"}', None, "asc", 1, 20),
    ("non-ASCII keys sort by code point, not UTF-16", "s3v", "Product",
     '{"\u00e9": 1, "z": 2, "\uff01": 3, "\U0001F600": 4, "\u007f": 5, "\ufb01": 6}', None, "asc", 1, 20),
    ("escapes", "s3v", "Product",
     r'{"s": "line\nbreak\ttab \"quoted\" back\\slash \r \b \f \u0000 \u001f \u007f / \u2028"}',
     None, "asc", 1, 20),
    ("simple floats", "s3v", "Product", '{"a": 1.0, "b": 0.1, "c": -0.0, "d": 2.5, "e": 100.0}',
     None, "asc", 1, 20),
    ("floats in exponent form", "s3v", "Product",
     '{"tiny": 1e-05, "big": 1e16, "huge": 1.5e300, "neg": -1.5e-300, "max": 1.7976931348623157e308, "min": 5e-324}',
     None, "asc", 1, 20),
    ("floats at the repr layout boundaries", "s3v", "Product",
     '{"x": 0.0001, "y": 1e15, "z": 123456789012345.6, "w": 9999999999999998.0, "v": 0.00011, "u": 1e22}',
     None, "asc", 1, 20),
    ("float digit ties go to even", "s3v", "Product", '{"tie": -1743746592103460.2}', None, "asc", 1, 20),
    ("64-bit integer limits", "s3v", "Product",
     '{"i64min": -9223372036854775808, "u64max": 18446744073709551615, "zero": 0, "neg": -42}',
     None, "asc", 1, 20),
    ("integers beyond 64 bits", "s3v", "Product",
     '{"big": 18446744073709551616, "bigger": 123456789012345678901234567890, "neg": -9223372036854775809}',
     None, "asc", 1, 20),
    ("negative zero integer", "s3v", "Product", '{"z": -0}', None, "asc", 1, 20),
    ("arrays keep their order", "s3v", "Product",
     '{"ids": [3, 1, 2], "mixed": [1, "a", null, true, 1.5, {"k": "v", "a": []}], "empty_list": [], "empty_obj": {}}',
     None, "asc", 1, 20),
    ("empty sort field is not null", "s3v", "Product", None, "", "asc", 1, 20),
    ("sort descending on a later page", "s3v", "Order", '{"status": "shipped"}', "created_at", "desc", 3, 50),
    ("page 0 and the largest u64 page size", "s3v", "Order", None, None, "asc", 0, 18446744073709551615),
    ("unicode model, sort field and order", "app\u00e9", "Produkt_\u00fc",
     '{"prix": {"$gte": 9.99}}', "prix_\u20ac", "DESC", 1, 20),
    ("empty prefix", "", "Product", '{"a": 1}', None, "asc", 1, 20),
    ("deep nesting", "s3v", "Product", '{"a": {"b": {"c": {"d": {"e": [{"f": null}]}}}}}', None, "asc", 1, 20),
    ("string that looks like JSON", "s3v", "Product", r'{"q": "{\"a\": 1}"}', None, "asc", 1, 20),
    ("filter with only null", "s3v", "Product", '{"deleted_at": null}', None, "asc", 1, 20),
]

# (method, prefix, model, args) for the keys that involve no hashing.
SIMPLE = [
    ("model_key", "s3v", "CacheTestModel", ["123-456"]),
    ("model_key", "myapp", "Product", ["abc123"]),
    ("model_key", "s3v", "User", [42]),
    ("model_key", "s3v", "Produkt_\u00fc", ["\U0001F600"]),
    ("model_pattern", "myapp", "Product", []),
    ("model_instance_pattern", "s3v", "Product", []),
    ("model_list_pattern", "s3v", "Product", []),
    ("custom_key", "s3v", None, ["session", "u1"]),
    ("custom_key", "s3v", None, [1, 2, 3]),
    ("custom_key", "s3v", None, []),
    ("custom_key", "x", None, ["a:b", ""]),
]

FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.30000000000000004, 1e-05, 0.0001, 0.00011,
    1e-4 * 9.99, 1e15, 1e16, 1e17, 1.5e300, -1.5e-300, 1e22, 1e23, 123.456,
    9999999999999998.0, 1234567890123456.8, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, 2.0 ** 53, 2.0 ** 64, 1 / 3, 2 / 3, math.pi, math.e,
    -1743746592103460.2, 0.5, 100.0, 1e100,
    float("nan"), float("inf"), float("-inf"),
]

STRINGS = [
    "", "plain", "caf\u00e9", "\U0001F600", "\"\\/", "\n\r\t\b\f", "\x00\x01\x1f\x7f",
    "\u2028\u2029", "\uffff", "\U0010FFFF", "~ ",
]


def rust_str(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif not ch.isprintable():
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def rust_opt(s):
    return "None" if s is None else "Some(%s)" % rust_str(s)


def rust_json(v):
    """`v` as the argument of serde_json's json! macro (floats as Rust f64
    literals, which the compiler reads exactly)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return "%di64" % v if -(2 ** 63) <= v < 2 ** 63 else "%du64" % v
    if isinstance(v, float):
        return repr(v) + "_f64"
    if isinstance(v, str):
        return rust_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(rust_json(x) for x in v) + "]"
    return "{" + ", ".join("%s: %s" % (rust_str(k), rust_json(x)) for k, x in v.items()) + "}"


def json_macro_can_build(v):
    """Whether json! can hold `v` exactly: no integer beyond 64 bits."""
    if isinstance(v, bool) or v is None or isinstance(v, (float, str)):
        return True
    if isinstance(v, int):
        return -(2 ** 63) <= v < 2 ** 64
    if isinstance(v, list):
        return all(json_macro_can_build(x) for x in v)
    return all(json_macro_can_build(x) for x in v.values())


def serde_default_int(text):
    """What serde_json (without arbitrary_precision) holds for an integer literal."""
    if text == "-0":
        return -0.0
    value = int(text)
    if -(2 ** 63) <= value < 2 ** 64:
        return value
    return float(text)


def expected(prefix, name, filters, sort_field, sort_order, page, page_size):
    keys = CacheKeyBuilder(prefix)
    m = model(name)
    data = {"filters": filters or {}, "sort_field": sort_field,
            "sort_order": sort_order, "page": page, "page_size": page_size}
    return (json.dumps(data, sort_keys=True),
            keys.model_list_key(m, filters, sort_field, sort_order, page, page_size),
            keys.model_count_key(m, filters))


def rust_expected(e):
    return "Expected { list_json: %s, list_key: %s, count_key: %s }" % tuple(map(rust_str, e))


def main():
    w = sys.stdout.write
    w("// Generated by tests/data/gen_key_vectors.py with CPython %s.\n" % sys.version.split()[0])
    w("const KEY_VECTORS: &[KeyVector] = &[\n")
    for name, prefix, mname, text, sort_field, sort_order, page, page_size in CASES:
        exact_filters = None if text is None else json.loads(text)
        serde_filters = None if text is None else json.loads(text, parse_int=serde_default_int)
        exact = expected(prefix, mname, exact_filters, sort_field, sort_order, page, page_size)
        serde = expected(prefix, mname, serde_filters, sort_field, sort_order, page, page_size)
        w("    KeyVector {\n")
        w("        name: %s,\n" % rust_str(name))
        w("        prefix: %s,\n" % rust_str(prefix))
        w("        model: %s,\n" % rust_str(mname))
        w("        filters: %s,\n" % rust_opt(text))
        if text is not None and serde == exact and json_macro_can_build(exact_filters):
            w("        build: Some(|| json!(%s)),\n" % rust_json(exact_filters))
        else:
            w("        build: None,\n")
        w("        sort_field: %s,\n" % rust_opt(sort_field))
        w("        sort_order: %s,\n" % rust_str(sort_order))
        w("        page: %d,\n" % page)
        w("        page_size: %d,\n" % page_size)
        w("        exact: %s,\n" % rust_expected(exact))
        w("        serde_default: %s,\n" % (
            "None" if serde == exact else "Some(%s)" % rust_expected(serde)))
        w("    },\n")
    w("];\n\n")

    w("const SIMPLE_VECTORS: &[SimpleVector] = &[\n")
    for method, prefix, mname, args in SIMPLE:
        keys = CacheKeyBuilder(prefix)
        call_args = ([model(mname)] if mname else []) + args
        key = getattr(keys, method)(*call_args)
        w("    SimpleVector { method: %s, prefix: %s, model: %s, args: &[%s], expected: %s },\n" % (
            rust_str(method), rust_str(prefix), rust_str(mname or ""),
            ", ".join(rust_str(str(a)) for a in args), rust_str(key)))
    w("];\n\n")

    w("// (f64 bits, json.dumps(float)) pairs.\n")
    w("const FLOAT_VECTORS: &[(u64, &str)] = &[\n")
    for x in FLOATS:
        bits = struct.unpack("<Q", struct.pack("<d", x))[0]
        w("    (0x%016x, %s),\n" % (bits, rust_str(json.dumps(x))))
    w("];\n\n")

    w("// (string, json.dumps(string)) pairs.\n")
    w("const STRING_VECTORS: &[(&str, &str)] = &[\n")
    for s in STRINGS:
        w("    (%s, %s),\n" % (rust_str(s), rust_str(json.dumps(s))))
    w("];\n")


if __name__ == "__main__":
    main()
