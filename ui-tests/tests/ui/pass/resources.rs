//! Resources: a custom `Resource`, `depends_on`, a settings name override, `replaces_default`,
//! and a plain field that is no resource.

use std::sync::atomic::{AtomicU64, Ordering};

use tamarco::prelude::*;

#[derive(Default)]
struct Db {
    queries: AtomicU64,
}

impl Resource for Db {
    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let _ = cx.name();
        self.queries.store(0, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Default)]
struct Cache;
impl Resource for Cache {}

#[derive(Default)]
struct MyStatus;
impl Resource for MyStatus {
    fn status(&self) -> Option<ResourceStatus> {
        None
    }
}

#[microservice(name = "orders")]
#[derive(Default)]
struct Orders {
    #[resource]
    db: Db,
    #[resource(depends_on = [db], name = "order_cache")]
    cache: Cache,
    #[resource(depends_on = [db, cache])]
    search: Cache,
    #[resource(replaces_default)]
    status: MyStatus,
    orders_seen: AtomicU64,
}

#[microservice]
impl Orders {}

fn main() {
    let orders = Orders::default();
    assert_eq!(Orders::NAME, "orders");
    let slots = orders.resources();
    let names: Vec<&str> = slots.iter().map(|slot| slot.name).collect();
    assert_eq!(names, ["db", "order_cache", "search", "status"]);
    assert_eq!(slots[1].depends_on, ["db"]);
    assert_eq!(slots[2].depends_on, ["db", "order_cache"]);
    assert!(slots[3].replaces_default);
    assert_eq!(orders.orders_seen.load(Ordering::Relaxed), 0);
}
