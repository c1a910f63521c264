//! Cache-aside: read through the cache, load from S3 on a miss, then store.
//!
//! ```text
//! cargo run -p clockwheel --example cache_aside
//! ```

#[path = "support/mod.rs"]
mod support;

use clockwheel::backends::{CacheBackend, InMemoryCache, InMemoryOptions};
use clockwheel::CacheKeyBuilder;
use std::error::Error;
use std::time::Duration;
use support::{block_on, catalogue, FakeS3, Product};

/// What a run observed.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// Products returned, in request order (`None` for an unknown id).
    pub found: Vec<Option<String>>,
    /// S3 requests made.
    pub s3_requests: usize,
    /// Entries in the cache at the end.
    pub cached: u64,
}

/// The pattern: try the cache, on a miss fetch from S3 and cache the result.
/// A missing product is not cached (as in the reference), so it costs an S3
/// request every time; cache a tombstone if that matters.
async fn get_product(
    cache: &dyn CacheBackend<Product>,
    keys: &CacheKeyBuilder,
    s3: &FakeS3,
    id: &str,
) -> Result<Option<Product>, Box<dyn Error>> {
    let key = keys.for_model::<Product>().key(id);
    if let Some(product) = cache.get(&key).await? {
        return Ok(Some(product));
    }
    let product = s3.get(id).await;
    if let Some(product) = &product {
        cache
            .set(&key, product.clone(), Some(Duration::from_secs(300)))
            .await?;
    }
    Ok(product)
}

/// Reads p1 three times, p3 once and an unknown id twice.
pub fn run() -> Result<Outcome, Box<dyn Error>> {
    let cache = InMemoryCache::new(InMemoryOptions {
        max_size: Some(1000),
        ..Default::default()
    })?;
    let keys = CacheKeyBuilder::default();
    let s3 = FakeS3::with(catalogue());
    let mut found = Vec::new();
    block_on(async {
        for id in ["p1", "p1", "p3", "p1", "nope", "nope"] {
            let product = get_product(&cache, &keys, &s3, id).await?;
            found.push(product.map(|p| p.name));
        }
        Ok::<_, Box<dyn Error>>(())
    })?;
    Ok(Outcome {
        found,
        s3_requests: s3.requests(),
        cached: cache.stats().size,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let outcome = run()?;
    println!("returned:    {:?}", outcome.found);
    println!(
        "S3 requests: {} for {} reads",
        outcome.s3_requests,
        outcome.found.len()
    );
    println!("cached:      {} entries", outcome.cached);
    Ok(())
}
