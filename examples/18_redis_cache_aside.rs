//! 18 — Redis cache-aside: a task looks prices up through a cache; a miss computes the price
//! (slowly) and keeps it for a minute, a hit answers from Redis. It then stops by itself.
//! Needs the cargo feature `redis` of `tamarco` and a Redis on 127.0.0.1:6379 (the resource's
//! default).
//!
//! ```text
//! cargo run --example redis_cache_aside --features redis,yaml
//! ```

use std::time::{Duration, Instant};

use tamarco::prelude::*;
use tamarco::redis::Redis;
use tamarco::tracing::info;

#[microservice(name = "redis_cache_aside")]
#[derive(Default)]
struct Prices {
    #[resource]
    redis: Redis,
}

impl Prices {
    /// The price of `item`: from the cache, or computed and cached for a minute.
    async fn price(&self, item: &str) -> Result<f64, BoxError> {
        let key = format!("example:price:{item}");
        if let Some(price) = self.redis.get::<Option<f64>>(&key).await? {
            return Ok(price);
        }
        tamarco::tokio::time::sleep(Duration::from_millis(200)).await; // the slow lookup
        let price = item.len() as f64 * 1.25;
        self.redis
            .set_ex(&key, price, Duration::from_secs(60))
            .await?;
        Ok(price)
    }
}

#[microservice]
impl Prices {
    #[task]
    async fn look_up(&self, cx: TaskContext) -> Result<(), BoxError> {
        self.redis.del("example:price:teapot").await?;
        for round in ["miss", "hit"] {
            let began = Instant::now();
            let price = self.price("teapot").await?;
            info!("{round}: {price} in {:?}", began.elapsed());
        }
        cx.shutdown().stop_gracefully();
        Ok(())
    }
}

fn main() -> ExitStatus {
    let runtime = Prices::default().runtime();
    runtime
        .settings()
        .update_internal_yaml(
            "system: { resources: { tamarco_http_report_server: { enabled: false } } }",
        )
        .expect("valid YAML");
    runtime.run()
}
