//! Write-through: write S3 first, then the cache, then invalidate the list
//! pages that may include the changed product, by pattern.
//!
//! ```text
//! cargo run -p clockwheel --example write_through
//! ```

#[path = "support/mod.rs"]
mod support;

use clockwheel::backends::{CacheBackend, LruCache, LruOptions};
use clockwheel::{CacheKeyBuilder, ListQuery};
use serde_json::json;
use std::error::Error;
use std::time::Duration;
use support::{block_on, catalogue, FakeS3, Product};

/// One cache holds products and list pages, so its values are either.
#[derive(Clone, Debug, PartialEq)]
pub enum Cached {
    Product(Product),
    Page(Vec<Product>),
}

/// What a run observed.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// List pages removed by the write's pattern.
    pub pages_invalidated: usize,
    /// The product as the cache holds it after the write.
    pub cached_product: Option<Product>,
    /// Whether the electronics page was still cached after the write.
    pub page_still_cached: bool,
}

/// The pattern: S3 is the source of truth, so it is written first; then the
/// cache gets the new value (readers see it at once, no reload), and every
/// cached list page of the model goes, since any of them may include it.
async fn update_product(
    cache: &dyn CacheBackend<Cached>,
    keys: &CacheKeyBuilder,
    s3: &FakeS3,
    product: Product,
) -> Result<usize, Box<dyn Error>> {
    s3.put(product.clone()).await;
    let model = keys.for_model::<Product>();
    let ttl = Some(Duration::from_secs(300));
    cache
        .set(&model.key(&product.id), Cached::Product(product), ttl)
        .await?;
    Ok(cache.delete_pattern(&model.list_pattern()).await?)
}

/// Caches p1 and two list pages, then updates p1's price.
pub fn run() -> Result<Outcome, Box<dyn Error>> {
    let cache = LruCache::new(LruOptions::default())?;
    let keys = CacheKeyBuilder::new("myapp");
    let s3 = FakeS3::with(catalogue());
    let model = keys.for_model::<Product>();
    let electronics = json!({"category": "electronics"});
    let page_key = model.list_key(
        electronics.as_object(),
        &ListQuery::new().sort_field("price"),
    );
    block_on(async {
        let p1 = s3.get("p1").await.ok_or("p1 missing")?;
        cache
            .set(&model.key("p1"), Cached::Product(p1.clone()), None)
            .await?;
        let page = s3.scan(|p| p.category == "electronics").await;
        cache
            .set(&page_key, Cached::Page(page), Some(Duration::from_secs(60)))
            .await?;
        let all = model.list_key(None, &ListQuery::new());
        cache
            .set(&all, Cached::Page(s3.scan(|_| true).await), None)
            .await?;

        let cheaper = Product {
            price_cents: 1_990,
            ..p1
        };
        let pages_invalidated = update_product(&cache, &keys, &s3, cheaper).await?;
        let cached_product = match cache.get(&model.key("p1")).await? {
            Some(Cached::Product(p)) => Some(p),
            _ => None,
        };
        let page_still_cached = cache.exists(&page_key).await?;
        Ok(Outcome {
            pages_invalidated,
            cached_product,
            page_still_cached,
        })
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let outcome = run()?;
    println!("list pages invalidated: {}", outcome.pages_invalidated);
    println!("cached after write:     {:?}", outcome.cached_product);
    println!("page still cached:      {}", outcome.page_still_cached);
    Ok(())
}
