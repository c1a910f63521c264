//! Two tiers: a small, short-lived LRU in front of a larger in-memory cache.
//! Hits in L2 are promoted into L1 for the time they have left in L2.
//!
//! ```text
//! cargo run -p clockwheel --example two_tier
//! ```

#[path = "support/mod.rs"]
mod support;

use clockwheel::backends::{
    CacheBackend, CompositeCache, InMemoryCache, InMemoryOptions, LruCache, LruOptions,
};
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;
use support::block_on;

/// What a run observed.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// Whether the value came back through the composite after L1 lost it.
    pub found_after_l1_clear: bool,
    /// Time the promoted L1 copy has left (at most the L2 entry's 30 s).
    pub promoted_ttl: Option<Duration>,
    /// The composite's stats, as the reference's JSON.
    pub stats_json: String,
}

/// Builds the tiers, writes through both, empties L1, reads (promoting from
/// L2), and reports.
pub fn run() -> Result<Outcome, Box<dyn Error>> {
    let l1 = Arc::new(LruCache::new(LruOptions {
        max_size: 100,
        default_ttl: Some(Duration::from_secs(60)),
        ..Default::default()
    })?);
    let l2 = Arc::new(InMemoryCache::new(InMemoryOptions {
        max_size: Some(1000),
        default_ttl: Some(Duration::from_secs(300)),
        ..Default::default()
    })?);
    let cache = CompositeCache::new(vec![l1.clone(), l2.clone()])?;
    block_on(async {
        // Written to both tiers; 30 s in each.
        cache
            .set(
                "s3v:model:Product:p1",
                "Desk lamp".to_string(),
                Some(Duration::from_secs(30)),
            )
            .await?;
        l1.clear().await?; // as if L1 had evicted it
        let found = cache.get("s3v:model:Product:p1").await?.is_some();
        let promoted_ttl = l1.engine().remaining_ttl("s3v:model:Product:p1").flatten();
        let stats = CacheBackend::stats(&cache).await?;
        Ok(Outcome {
            found_after_l1_clear: found,
            promoted_ttl,
            stats_json: serde_json::to_string(&stats)?,
        })
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let outcome = run()?;
    println!(
        "found after L1 was cleared: {}",
        outcome.found_after_l1_clear
    );
    println!("promoted into L1 for:       {:?}", outcome.promoted_ttl);
    println!("stats: {}", outcome.stats_json);
    Ok(())
}
