//! Invalidation on writes: after a change, drop the product's own key and,
//! by pattern, every list page and count of its model; the next reads reload.
//!
//! ```text
//! cargo run -p clockwheel --example invalidate_on_write
//! ```

#[path = "support/mod.rs"]
mod support;

use clockwheel::backends::{CacheBackend, InMemoryCache, InMemoryOptions};
use clockwheel::{CacheKeyBuilder, ListQuery};
use serde_json::{json, Value};
use std::error::Error;
use support::{block_on, catalogue, FakeS3, Product};

/// What one invalidation removed.
#[derive(Debug, Default, PartialEq)]
pub struct Removed {
    /// The product's own entry (0 or 1).
    pub instance: usize,
    /// List pages of the model.
    pub lists: usize,
    /// Counts of the model.
    pub counts: usize,
}

/// What a run observed.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub removed: Removed,
    /// Entries left: other models' keys, untouched.
    pub left: Vec<String>,
}

/// The pattern: an exact delete for the instance, patterns for everything
/// derived from many instances. The builder has no count pattern, so it is
/// spelled with `custom_key`. (`model.pattern()` would drop instances, lists
/// and counts of the model all at once.)
async fn invalidate_product(
    cache: &dyn CacheBackend<Value>,
    keys: &CacheKeyBuilder,
    id: &str,
) -> Result<Removed, Box<dyn Error>> {
    let model = keys.for_model::<Product>();
    Ok(Removed {
        instance: usize::from(cache.delete(&model.key(id)).await?),
        lists: cache.delete_pattern(&model.list_pattern()).await?,
        counts: cache
            .delete_pattern(&keys.custom_key(["count", model.name(), "*"]))
            .await?,
    })
}

/// Caches a product, two pages, a count and an unrelated user, then
/// invalidates after a write to p2.
pub fn run() -> Result<Outcome, Box<dyn Error>> {
    let cache = InMemoryCache::new(InMemoryOptions::default())?;
    let keys = CacheKeyBuilder::default();
    let products = keys.for_model::<Product>();
    let s3 = FakeS3::with(catalogue());
    let kitchen = json!({"category": "kitchen"});
    block_on(async {
        let p2 = s3.get("p2").await.ok_or("p2 missing")?;
        cache
            .set(&products.key("p2"), serde_json::to_value(&p2)?, None)
            .await?;
        for page in [1, 2] {
            let key = products.list_key(kitchen.as_object(), &ListQuery::new().page(page));
            cache
                .set(&key, json!({"page": page, "items": []}), None)
                .await?;
        }
        cache
            .set(&products.count_key(kitchen.as_object()), json!(2), None)
            .await?;
        let user = keys.model("User").key(42);
        cache.set(&user, json!({"name": "Ada"}), None).await?;

        s3.put(Product {
            price_cents: 3_500,
            ..p2
        })
        .await;
        let removed = invalidate_product(&cache, &keys, "p2").await?;
        let mut left = Vec::new();
        for key in [user.as_str(), &products.key("p2")] {
            if cache.exists(key).await? {
                left.push(key.to_string());
            }
        }
        Ok(Outcome { removed, left })
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let outcome = run()?;
    println!("removed: {:?}", outcome.removed);
    println!("left:    {:?}", outcome.left);
    Ok(())
}
