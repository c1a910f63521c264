//! Runs each example's logic (its `run()`, compiled in here from
//! `examples/`) and checks what it claims to show. `cargo run --example`
//! runs the same code through each example's `main`.

// Each example brings its own copy of `examples/support`, as it does when
// built alone.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)] // the examples' `main`s
#[path = "../examples/cache_aside.rs"]
mod cache_aside;
#[allow(dead_code)]
#[path = "../examples/invalidate_on_write.rs"]
mod invalidate_on_write;
#[allow(dead_code)]
#[path = "../examples/paginated_query.rs"]
mod paginated_query;
#[allow(dead_code)]
#[path = "../examples/two_tier.rs"]
mod two_tier;
#[allow(dead_code)]
#[path = "../examples/write_through.rs"]
mod write_through;

use std::time::Duration;

#[test]
fn cache_aside_loads_each_product_once() {
    let out = cache_aside::run().unwrap();
    let names: Vec<_> = out.found.iter().map(Option::as_deref).collect();
    assert_eq!(
        names,
        [
            Some("Desk lamp"),
            Some("Desk lamp"),
            Some("Headphones"),
            Some("Desk lamp"),
            None,
            None
        ]
    );
    // p1 once, p3 once, the unknown id each time (misses are not cached).
    assert_eq!(out.s3_requests, 4);
    assert_eq!(out.cached, 2);
}

#[test]
fn write_through_updates_the_entry_and_drops_list_pages() {
    let out = write_through::run().unwrap();
    assert_eq!(out.pages_invalidated, 2);
    assert_eq!(out.cached_product.map(|p| p.price_cents), Some(1_990));
    assert!(!out.page_still_cached);
}

#[test]
fn invalidate_on_write_removes_instance_lists_and_counts_only() {
    let out = invalidate_on_write::run().unwrap();
    let want = invalidate_on_write::Removed {
        instance: 1,
        lists: 2,
        counts: 1,
    };
    assert_eq!(out.removed, want);
    assert_eq!(out.left, ["s3v:model:User:42"]);
}

#[test]
fn paginated_query_caches_each_page_under_the_reference_key() {
    let out = paginated_query::run().unwrap();
    // The key CPython computes for the guide's example
    // (engine/tests/data/gen_key_vectors.py, case "guide example").
    assert_eq!(out.first_key, "myapp:list:Product:b612642ce1ce");
    let names: Vec<Vec<&str>> = out
        .pages
        .iter()
        .map(|p| p.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        names,
        [
            vec!["Charger", "Desk lamp"],
            vec!["Headphones"],
            vec!["Charger", "Desk lamp"]
        ]
    );
    assert_eq!(out.s3_requests, 2, "the third fetch is a cache hit");
}

#[test]
fn two_tier_promotes_with_the_time_left() {
    let out = two_tier::run().unwrap();
    assert!(out.found_after_l1_clear);
    let left = out.promoted_ttl.expect("promoted into L1");
    assert!(
        left <= Duration::from_secs(30) && left > Duration::from_secs(25),
        "{left:?}"
    );
    let stats: serde_json::Value = serde_json::from_str(&out.stats_json).unwrap();
    let types: Vec<_> = stats["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].clone())
        .collect();
    assert_eq!(types, ["LRUCache", "InMemoryCache"]);
    assert_eq!(stats["tiers"][0]["misses"], 1);
}
