//! A cached paginated query: each page of each filter set is cached under
//! `model_list_key`, the same key the Python reference computes, so a Rust
//! and a Python service can share the cached pages.
//!
//! ```text
//! cargo run -p clockwheel --example paginated_query
//! ```

#[path = "support/mod.rs"]
mod support;

use clockwheel::backends::{CacheBackend, LruCache, LruOptions};
use clockwheel::{CacheKeyBuilder, ListQuery};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::error::Error;
use std::time::Duration;
use support::{block_on, catalogue, FakeS3, Product};

/// One page of results: the reference's `{"items", "total_count", "page", "has_next"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page {
    pub items: Vec<Product>,
    pub total_count: usize,
    pub page: u64,
    pub has_next: bool,
}

/// What a run observed.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// The key of page 1 of electronics sorted by price (prefix `myapp`).
    pub first_key: String,
    /// Names on each page fetched, in fetch order.
    pub pages: Vec<Vec<String>>,
    /// S3 requests made for all the fetches.
    pub s3_requests: usize,
}

/// The pattern: key the page by model, filters, sort and paging; on a miss
/// run the query and cache the page for a minute.
async fn cached_query(
    cache: &dyn CacheBackend<Page>,
    keys: &CacheKeyBuilder,
    s3: &FakeS3,
    filters: Option<&Map<String, Value>>,
    query: &ListQuery<'_>,
) -> Result<Page, Box<dyn Error>> {
    let key = keys.for_model::<Product>().list_key(filters, query);
    if let Some(page) = cache.get(&key).await? {
        return Ok(page);
    }
    let category = filters
        .and_then(|f| f.get("category"))
        .and_then(Value::as_str);
    let mut matching = s3
        .scan(|p| category.map_or(true, |c| p.category == c))
        .await;
    matching.sort_by_key(|p| p.price_cents);
    let size = query.page_size.max(1) as usize;
    let start = (query.page.max(1) as usize - 1).saturating_mul(size);
    let page = Page {
        items: matching.iter().skip(start).take(size).cloned().collect(),
        total_count: matching.len(),
        page: query.page,
        has_next: start.saturating_add(size) < matching.len(),
    };
    cache
        .set(&key, page.clone(), Some(Duration::from_secs(60)))
        .await?;
    Ok(page)
}

/// Fetches pages 1, 2 and 1 again of electronics by price, two per page.
pub fn run() -> Result<Outcome, Box<dyn Error>> {
    let cache = LruCache::new(LruOptions::default())?;
    let keys = CacheKeyBuilder::new("myapp");
    let s3 = FakeS3::with(catalogue());
    let filters = json!({"category": "electronics"});
    let by_price = ListQuery::new().sort_field("price").page_size(2);
    let mut pages = Vec::new();
    block_on(async {
        for page in [1, 2, 1] {
            let query = by_price.page(page);
            let got = cached_query(&cache, &keys, &s3, filters.as_object(), &query).await?;
            pages.push(got.items.into_iter().map(|p| p.name).collect());
        }
        Ok::<_, Box<dyn Error>>(())
    })?;
    let first_key = keys
        .for_model::<Product>()
        .list_key(filters.as_object(), &ListQuery::new().sort_field("price"));
    Ok(Outcome {
        first_key,
        pages,
        s3_requests: s3.requests(),
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let outcome = run()?;
    println!("page-1 key (default page size): {}", outcome.first_key);
    for (i, names) in outcome.pages.iter().enumerate() {
        println!("fetch {}: {:?}", i + 1, names);
    }
    println!("S3 requests: {}", outcome.s3_requests);
    Ok(())
}
