//! Cache keys byte-identical to the S3verless reference's `CacheKeyBuilder`,
//! so that Rust and Python services can share one cache tier.
//!
//! | method                                          | key                                |
//! |-------------------------------------------------|------------------------------------|
//! | [`model_key`](CacheKeyBuilder::model_key)       | `{prefix}:model:{Model}:{id}`      |
//! | [`model_list_key`](CacheKeyBuilder::model_list_key) | `{prefix}:list:{Model}:{hash}` |
//! | [`model_count_key`](CacheKeyBuilder::model_count_key) | `{prefix}:count:{Model}:all` or `…:{hash}` |
//! | [`model_pattern`](CacheKeyBuilder::model_pattern) | `{prefix}:*:{Model}:*`           |
//! | [`model_instance_pattern`](CacheKeyBuilder::model_instance_pattern) | `{prefix}:model:{Model}:*` |
//! | [`model_list_pattern`](CacheKeyBuilder::model_list_pattern) | `{prefix}:list:{Model}:*` |
//! | [`custom_key`](CacheKeyBuilder::custom_key)     | `{prefix}:{part}:{part}…`          |
//!
//! `{hash}` is the first 12 hex digits of the MD5 of the query's JSON text as
//! Python's `json.dumps(obj, sort_keys=True)` writes it (see [`pyjson`]).
//!
//! ```
//! use clockwheel::keys::{CacheKeyBuilder, CacheModel, ListQuery};
//! use serde_json::json;
//!
//! struct Product;
//! impl CacheModel for Product {
//!     const NAME: &'static str = "Product";
//! }
//!
//! let keys = CacheKeyBuilder::new("myapp");
//! assert_eq!(keys.model_key(Product::NAME, "abc123"), "myapp:model:Product:abc123");
//!
//! let filters = json!({"category": "electronics"});
//! let list = keys.model_list_key(
//!     Product::NAME,
//!     filters.as_object(),
//!     &ListQuery::new().sort_field("price"),
//! );
//! assert!(list.starts_with("myapp:list:Product:"));
//! assert_eq!(keys.model_pattern(Product::NAME), "myapp:*:Product:*");
//! ```

pub mod pyjson;

use md5::{Digest, Md5};
use serde_json::{Map, Value};
use std::fmt::{self, Display, Write};

/// The prefix the reference uses when none is given: `"s3v"`.
///
/// ```
/// use clockwheel::keys::{CacheKeyBuilder, DEFAULT_PREFIX};
///
/// assert_eq!(CacheKeyBuilder::default().prefix(), DEFAULT_PREFIX);
/// ```
pub const DEFAULT_PREFIX: &str = "s3v";

/// A type whose cache keys are built under a fixed model name, the Rust
/// stand-in for the reference passing a model class (whose `__name__` it
/// uses). Use the same name the Python model class has to share keys with a
/// Python service.
///
/// ```
/// use clockwheel::keys::{CacheKeyBuilder, CacheModel};
///
/// struct CacheTestModel;
/// impl CacheModel for CacheTestModel {
///     const NAME: &'static str = "CacheTestModel";
/// }
///
/// let keys = CacheKeyBuilder::default();
/// assert_eq!(
///     keys.model_key(CacheTestModel::NAME, "123-456"),
///     "s3v:model:CacheTestModel:123-456"
/// );
/// assert_eq!(keys.for_model::<CacheTestModel>().key(7), "s3v:model:CacheTestModel:7");
/// ```
pub trait CacheModel {
    /// The model name that appears in keys (Python: `Model.__name__`).
    const NAME: &'static str;
}

/// Sort and paging parameters of a list query: the reference's
/// `model_list_key` keyword arguments, with the same defaults (no sort field,
/// `"asc"`, page 1, 20 per page).
///
/// Fields are public; the same-named methods are chainable setters.
///
/// ```
/// use clockwheel::keys::ListQuery;
///
/// let q = ListQuery::new().sort_field("price").sort_order("desc").page(3);
/// assert_eq!(q.sort_field, Some("price"));
/// assert_eq!((q.sort_order, q.page, q.page_size), ("desc", 3, 20));
/// assert_eq!(ListQuery { page: 2, ..ListQuery::default() }.page, 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListQuery<'a> {
    /// Field to sort by; `None` is hashed as JSON `null`.
    pub sort_field: Option<&'a str>,
    /// Sort order, hashed as given (the reference uses `"asc"`/`"desc"`).
    pub sort_order: &'a str,
    /// Page number (the reference counts from 1).
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
}

impl<'a> ListQuery<'a> {
    /// The reference's defaults: no sort field, `"asc"`, page 1, page size 20.
    ///
    /// ```
    /// use clockwheel::keys::ListQuery;
    ///
    /// let q = ListQuery::new();
    /// assert_eq!((q.sort_field, q.sort_order, q.page, q.page_size), (None, "asc", 1, 20));
    /// ```
    pub const fn new() -> Self {
        ListQuery {
            sort_field: None,
            sort_order: "asc",
            page: 1,
            page_size: 20,
        }
    }

    /// Sorts by `field`.
    ///
    /// ```
    /// use clockwheel::keys::ListQuery;
    ///
    /// assert_eq!(ListQuery::new().sort_field("name").sort_field, Some("name"));
    /// ```
    pub const fn sort_field(mut self, field: &'a str) -> Self {
        self.sort_field = Some(field);
        self
    }

    /// Sets the sort order (`"asc"` or `"desc"` in the reference).
    ///
    /// ```
    /// use clockwheel::keys::ListQuery;
    ///
    /// assert_eq!(ListQuery::new().sort_order("desc").sort_order, "desc");
    /// ```
    pub const fn sort_order(mut self, order: &'a str) -> Self {
        self.sort_order = order;
        self
    }

    /// Sets the page number.
    ///
    /// ```
    /// use clockwheel::keys::ListQuery;
    ///
    /// assert_eq!(ListQuery::new().page(4).page, 4);
    /// ```
    pub const fn page(mut self, page: u64) -> Self {
        self.page = page;
        self
    }

    /// Sets the number of items per page.
    ///
    /// ```
    /// use clockwheel::keys::ListQuery;
    ///
    /// assert_eq!(ListQuery::new().page_size(50).page_size, 50);
    /// ```
    pub const fn page_size(mut self, page_size: u64) -> Self {
        self.page_size = page_size;
        self
    }
}

/// Same as [`ListQuery::new`].
impl Default for ListQuery<'_> {
    fn default() -> Self {
        ListQuery::new()
    }
}

/// Builds cache keys exactly as the S3verless reference does (see the
/// [module documentation](self) for the formats).
///
/// Model names are given as `&str` (for a type, its [`CacheModel::NAME`]);
/// filters as a JSON object, `None` and an empty object meaning "no filters".
/// A `serde_json::Value` gives its object with [`Value::as_object`].
///
/// ```
/// use clockwheel::keys::{CacheKeyBuilder, ListQuery};
/// use serde_json::json;
///
/// let keys = CacheKeyBuilder::default();
/// let key = keys.model_list_key("CacheTestModel", None, &ListQuery::new());
/// assert_eq!(key, "s3v:list:CacheTestModel:452890617c49");
/// let count = keys.model_count_key("CacheTestModel", json!({"active": true}).as_object());
/// assert_eq!(count, "s3v:count:CacheTestModel:6a3d3c8c0b5b");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKeyBuilder {
    prefix: String,
}

/// A builder with the reference's default prefix, [`DEFAULT_PREFIX`].
impl Default for CacheKeyBuilder {
    fn default() -> Self {
        CacheKeyBuilder::new(DEFAULT_PREFIX)
    }
}

impl CacheKeyBuilder {
    /// A builder whose keys all start with `{prefix}:`.
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// assert_eq!(CacheKeyBuilder::new("myapp").model_key("User", 7), "myapp:model:User:7");
    /// ```
    pub fn new(prefix: impl Into<String>) -> Self {
        CacheKeyBuilder {
            prefix: prefix.into(),
        }
    }

    /// The keys of the model type `M`, named by its [`CacheModel::NAME`].
    ///
    /// ```
    /// use clockwheel::keys::{CacheKeyBuilder, CacheModel, ListQuery};
    ///
    /// struct Product;
    /// impl CacheModel for Product {
    ///     const NAME: &'static str = "Product";
    /// }
    ///
    /// let keys = CacheKeyBuilder::new("myapp");
    /// let product = keys.for_model::<Product>();
    /// assert_eq!(product.key("abc123"), "myapp:model:Product:abc123");
    /// assert_eq!(product.list_key(None, &ListQuery::new()), keys.model_list_key("Product", None, &ListQuery::new()));
    /// assert_eq!(product.pattern(), "myapp:*:Product:*");
    /// ```
    pub fn for_model<M: CacheModel + ?Sized>(&self) -> ModelKeys<'_> {
        self.model(M::NAME)
    }

    /// The keys of the model named `model` (as [`for_model`](Self::for_model),
    /// for a name known only at run time).
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// let keys = CacheKeyBuilder::default();
    /// assert_eq!(keys.model("User").instance_pattern(), "s3v:model:User:*");
    /// ```
    pub fn model<'a>(&'a self, model: &'a str) -> ModelKeys<'a> {
        ModelKeys { keys: self, model }
    }

    /// The prefix of every key.
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// assert_eq!(CacheKeyBuilder::new("myapp").prefix(), "myapp");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}:model:{model}:{id}`, the key of one model instance.
    ///
    /// `id` is written with its `Display` output, which equals Python's
    /// `str(id)` for strings, integers and UUIDs (not for floats or bools:
    /// format those yourself to match).
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// let keys = CacheKeyBuilder::default();
    /// assert_eq!(keys.model_key("CacheTestModel", "123-456"), "s3v:model:CacheTestModel:123-456");
    /// ```
    pub fn model_key(&self, model: &str, id: impl Display) -> String {
        format!("{}:model:{model}:{id}", self.prefix)
    }

    /// `{prefix}:list:{model}:{hash}`, the key of one page of a list query.
    ///
    /// `{hash}` covers, as Python's `json.dumps(…, sort_keys=True)` text, the
    /// object `{"filters": filters or {}, "page": …, "page_size": …,
    /// "sort_field": … or null, "sort_order": …}`.
    ///
    /// ```
    /// use clockwheel::keys::{CacheKeyBuilder, ListQuery};
    /// use serde_json::json;
    ///
    /// let keys = CacheKeyBuilder::default();
    /// let filters = json!({"category": "electronics"});
    /// let page1 = keys.model_list_key("Product", filters.as_object(), &ListQuery::new());
    /// let page2 = keys.model_list_key("Product", filters.as_object(), &ListQuery::new().page(2));
    /// assert_ne!(page1, page2);
    /// // No filters and empty filters are the same query.
    /// assert_eq!(
    ///     keys.model_list_key("Product", None, &ListQuery::new()),
    ///     keys.model_list_key("Product", json!({}).as_object(), &ListQuery::new()),
    /// );
    /// ```
    pub fn model_list_key(
        &self,
        model: &str,
        filters: Option<&Map<String, Value>>,
        query: &ListQuery<'_>,
    ) -> String {
        let hash = hash12(|out| write_list_query(filters, query, out));
        format!("{}:list:{model}:{hash}", self.prefix)
    }

    /// `{prefix}:count:{model}:all` without filters (`None` or an empty
    /// object), otherwise `{prefix}:count:{model}:{hash}` with `{hash}` taken
    /// over the filters' Python JSON text.
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    /// use serde_json::json;
    ///
    /// let keys = CacheKeyBuilder::default();
    /// assert_eq!(keys.model_count_key("Product", None), "s3v:count:Product:all");
    /// let active = keys.model_count_key("Product", json!({"active": true}).as_object());
    /// assert_eq!(active, "s3v:count:Product:6a3d3c8c0b5b");
    /// ```
    pub fn model_count_key(&self, model: &str, filters: Option<&Map<String, Value>>) -> String {
        match non_empty(filters) {
            None => format!("{}:count:{model}:all", self.prefix),
            Some(filters) => {
                let hash = hash12(|out| write_object(filters, out));
                format!("{}:count:{model}:{hash}", self.prefix)
            }
        }
    }

    /// `{prefix}:*:{model}:*`: a glob for every key of `model` (instances,
    /// lists, counts). Glob characters in `model` are not escaped, as in the
    /// reference.
    ///
    /// ```
    /// use clockwheel::glob::Pattern;
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// let keys = CacheKeyBuilder::default();
    /// let pattern = Pattern::new(&keys.model_pattern("Product"))?;
    /// assert!(pattern.matches(&keys.model_key("Product", 1)));
    /// assert!(pattern.matches(&keys.model_count_key("Product", None)));
    /// # Ok::<(), clockwheel::glob::PatternError>(())
    /// ```
    pub fn model_pattern(&self, model: &str) -> String {
        format!("{}:*:{model}:*", self.prefix)
    }

    /// `{prefix}:model:{model}:*`: a glob for every instance key of `model`.
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// assert_eq!(CacheKeyBuilder::default().model_instance_pattern("User"), "s3v:model:User:*");
    /// ```
    pub fn model_instance_pattern(&self, model: &str) -> String {
        format!("{}:model:{model}:*", self.prefix)
    }

    /// `{prefix}:list:{model}:*`: a glob for every list key of `model`.
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// assert_eq!(CacheKeyBuilder::default().model_list_pattern("User"), "s3v:list:User:*");
    /// ```
    pub fn model_list_pattern(&self, model: &str) -> String {
        format!("{}:list:{model}:*", self.prefix)
    }

    /// `{prefix}:` followed by `parts` joined with `:` (just `{prefix}:` when
    /// there are none). Parts are written with `Display`, which matches
    /// Python's `str()` for strings and integers.
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// let keys = CacheKeyBuilder::default();
    /// assert_eq!(keys.custom_key(["session", "u1"]), "s3v:session:u1");
    /// assert_eq!(keys.custom_key([1, 2, 3]), "s3v:1:2:3");
    /// assert_eq!(keys.custom_key(Vec::<&str>::new()), "s3v:");
    /// ```
    pub fn custom_key<I>(&self, parts: I) -> String
    where
        I: IntoIterator,
        I::Item: Display,
    {
        let mut key = format!("{}:", self.prefix);
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                key.push(':');
            }
            // Writing into a String never fails.
            let _ = write!(key, "{part}");
        }
        key
    }
}

/// The keys of one model under one [`CacheKeyBuilder`]: its methods without
/// the model argument. Made by [`CacheKeyBuilder::for_model`] or
/// [`CacheKeyBuilder::model`].
///
/// ```
/// use clockwheel::keys::{CacheKeyBuilder, ListQuery};
/// use serde_json::json;
///
/// let keys = CacheKeyBuilder::default();
/// let orders = keys.model("Order");
/// let shipped = json!({"status": "shipped"});
/// assert_eq!(orders.count_key(None), "s3v:count:Order:all");
/// assert!(orders.count_key(shipped.as_object()).starts_with("s3v:count:Order:"));
/// assert!(orders.list_key(shipped.as_object(), &ListQuery::new().page(2)).starts_with("s3v:list:Order:"));
/// assert_eq!(orders.list_pattern(), "s3v:list:Order:*");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelKeys<'a> {
    keys: &'a CacheKeyBuilder,
    model: &'a str,
}

impl ModelKeys<'_> {
    /// The model name in the keys.
    ///
    /// ```
    /// use clockwheel::keys::CacheKeyBuilder;
    ///
    /// assert_eq!(CacheKeyBuilder::default().model("User").name(), "User");
    /// ```
    pub fn name(&self) -> &str {
        self.model
    }

    /// [`CacheKeyBuilder::model_key`] for this model.
    pub fn key(&self, id: impl Display) -> String {
        self.keys.model_key(self.model, id)
    }

    /// [`CacheKeyBuilder::model_list_key`] for this model.
    pub fn list_key(&self, filters: Option<&Map<String, Value>>, query: &ListQuery<'_>) -> String {
        self.keys.model_list_key(self.model, filters, query)
    }

    /// [`CacheKeyBuilder::model_count_key`] for this model.
    pub fn count_key(&self, filters: Option<&Map<String, Value>>) -> String {
        self.keys.model_count_key(self.model, filters)
    }

    /// [`CacheKeyBuilder::model_pattern`] for this model.
    pub fn pattern(&self) -> String {
        self.keys.model_pattern(self.model)
    }

    /// [`CacheKeyBuilder::model_instance_pattern`] for this model.
    pub fn instance_pattern(&self) -> String {
        self.keys.model_instance_pattern(self.model)
    }

    /// [`CacheKeyBuilder::model_list_pattern`] for this model.
    pub fn list_pattern(&self) -> String {
        self.keys.model_list_pattern(self.model)
    }
}

/// `filters` unless it is absent or empty (Python: `filters or {}` / `not
/// filters` on a dict).
fn non_empty(filters: Option<&Map<String, Value>>) -> Option<&Map<String, Value>> {
    filters.filter(|map| !map.is_empty())
}

/// Writes the reference's list-query object. Invariant: the five keys are
/// written in sorted order, "filters" < "page" < "page_size" < "sort_field"
/// < "sort_order", exactly as `json.dumps(…, sort_keys=True)` orders them.
fn write_list_query<W: Write>(
    filters: Option<&Map<String, Value>>,
    query: &ListQuery<'_>,
    out: &mut W,
) -> fmt::Result {
    out.write_str("{\"filters\": ")?;
    match non_empty(filters) {
        Some(filters) => write_object(filters, out)?,
        None => out.write_str("{}")?,
    }
    write!(out, ", \"page\": {}", query.page)?;
    write!(out, ", \"page_size\": {}", query.page_size)?;
    out.write_str(", \"sort_field\": ")?;
    match query.sort_field {
        Some(field) => write_json_str(field, out)?,
        None => out.write_str("null")?,
    }
    out.write_str(", \"sort_order\": ")?;
    write_json_str(query.sort_order, out)?;
    out.write_char('}')
}

fn write_object<W: Write>(map: &Map<String, Value>, out: &mut W) -> fmt::Result {
    pyjson::write_object(map, out)
}

fn write_json_str<W: Write>(s: &str, out: &mut W) -> fmt::Result {
    pyjson::write_str(s, out)
}

/// The first 12 hex digits of the MD5 of the text `write` produces.
fn hash12(write: impl FnOnce(&mut Md5Writer) -> fmt::Result) -> String {
    let mut sink = Md5Writer(Md5::new());
    // Md5Writer never fails, so neither can `write`.
    let _ = write(&mut sink);
    let digest = sink.0.finalize();
    let mut hex = String::with_capacity(12);
    for byte in &digest[..6] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Feeds written text straight into an MD5 state, so keys are hashed without
/// building the JSON text in memory.
struct Md5Writer(Md5);

impl Write for Md5Writer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}
