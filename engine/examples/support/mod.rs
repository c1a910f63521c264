//! What the examples share: a ten-line executor and a stand-in for S3.
//!
//! The backends' futures are ready as soon as they are made, so any executor
//! runs them; the examples use this `block_on` to stay free of a runtime
//! dependency (in a service, `.await` them on tokio, async-std, smol...).

#![allow(dead_code)] // each example uses a part

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Runs `future` to completion on this thread, parking while it is pending.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(value) => return value,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// The examples' model type (what a Pydantic model is in the reference).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub category: String,
    pub price_cents: u64,
}

impl clockwheel::CacheModel for Product {
    const NAME: &'static str = "Product";
}

impl Product {
    pub fn new(id: &str, name: &str, category: &str, price_cents: u64) -> Self {
        Product {
            id: id.into(),
            name: name.into(),
            category: category.into(),
            price_cents,
        }
    }
}

/// An in-memory stand-in for the S3 bucket, counting the requests that a
/// cache is there to save.
#[derive(Default)]
pub struct FakeS3 {
    objects: Mutex<BTreeMap<String, Product>>,
    requests: AtomicUsize,
}

impl FakeS3 {
    /// A bucket holding `products`.
    pub fn with(products: impl IntoIterator<Item = Product>) -> Self {
        let s3 = FakeS3::default();
        for p in products {
            s3.objects.lock().unwrap().insert(p.id.clone(), p);
        }
        s3
    }

    /// GET one object.
    pub async fn get(&self, id: &str) -> Option<Product> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.objects.lock().unwrap().get(id).cloned()
    }

    /// PUT one object.
    pub async fn put(&self, product: Product) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.objects
            .lock()
            .unwrap()
            .insert(product.id.clone(), product);
    }

    /// LIST and filter every object (one request, however many match).
    pub async fn scan(&self, keep: impl Fn(&Product) -> bool) -> Vec<Product> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.objects
            .lock()
            .unwrap()
            .values()
            .filter(|p| keep(p))
            .cloned()
            .collect()
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

/// A small catalogue.
pub fn catalogue() -> Vec<Product> {
    vec![
        Product::new("p1", "Desk lamp", "electronics", 2_500),
        Product::new("p2", "Kettle", "kitchen", 3_900),
        Product::new("p3", "Headphones", "electronics", 8_900),
        Product::new("p4", "Toaster", "kitchen", 2_900),
        Product::new("p5", "Charger", "electronics", 1_900),
    ]
}
