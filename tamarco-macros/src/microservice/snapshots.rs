//! Snapshot tests of the expansion: the generated code for a few representative services,
//! formatted with prettyplease and committed under `tamarco-macros/snapshots/`. A change to the
//! generated code shows up as a diff to review. Re-bless with `TAMARCO_BLESS=1 cargo test -p
//! tamarco-macros`.

use proc_macro2::TokenStream;
use quote::quote;

fn check(name: &str, args: TokenStream, item: TokenStream) {
    let output = super::expand(args, item);
    let file: syn::File = syn::parse2(output).expect("the expansion parses as items");
    let formatted = prettyplease::unparse(&file);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(format!("{name}.expanded.rs"));
    if std::env::var_os("TAMARCO_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &formatted).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot at {}; run with TAMARCO_BLESS=1 to record it",
            path.display()
        )
    });
    assert!(
        expected == formatted,
        "the expansion of `{name}` changed; review it and re-bless with TAMARCO_BLESS=1\n--- expected\n{expected}\n--- actual\n{formatted}"
    );
}

#[test]
fn hello_service() {
    check(
        "hello_service",
        quote!(),
        quote! {
            /// A service with one timer.
            pub struct Hello {
                #[resource]
                http_server: HttpServer,
                greetings: AtomicU64,
            }
        },
    );
}

#[test]
fn resources_with_options() {
    check(
        "resources_with_options",
        quote!(name = "orders"),
        quote! {
            struct OrderService {
                #[resource]
                db: Postgres,
                #[resource(depends_on = [db], name = "order_cache")]
                cache: Redis,
                #[resource(replaces_default)]
                status: MyStatus,
            }
        },
    );
}

#[test]
fn tasks_timers_threads_and_hooks() {
    check(
        "tasks_timers_threads_and_hooks",
        quote!(),
        quote! {
            impl Hello {
                #[task]
                async fn consume(&self, cx: TaskContext) -> Result<(), BoxError> { Ok(()) }
                #[task_timer(interval = "2s", autostart, singleton)]
                async fn tick(&self) {}
                #[cfg(unix)]
                #[thread(name = "worker")]
                fn blocking(&self, stop: ShutdownHandle) {}
                async fn start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> { stage.run().await?; Ok(()) }
                fn helper(&self) -> u8 { 1 }
            }
        },
    );
}

#[test]
fn service_with_context() {
    check(
        "service_with_context",
        quote!(),
        quote! {
            struct Shop {
                #[resource]
                http_server: HttpServer,
                cx: ServiceContext,
            }
        },
    );
}

#[test]
fn routes() {
    check(
        "routes",
        quote!(),
        quote! {
            impl Shop {
                #[route(http_server, GET "/")]
                async fn hello(&self) -> &'static str { "Hello world!" }
                #[route(http_server, GET "/orders/{id}")]
                #[route(http_server, DELETE "/orders/{id}")]
                async fn order(self: Arc<Self>, Path(id): Path<u64>, headers: HeaderMap) -> Json<Order> { todo!() }
                #[cfg(feature = "ws")]
                #[route(websocket, ANY "/echo")]
                async fn echo(&self, upgrade: WebSocketUpgrade) -> Response { todo!() }
            }
        },
    );
}

#[test]
fn outputs() {
    check(
        "outputs",
        quote!(),
        quote! {
            struct Prices {
                #[resource]
                amqp: Amqp,
                #[output(amqp, publish = "prices")]
                prices: PublishOutput<Price>,
                #[output(amqp, push = "orders", codec = Postcard)]
                orders: PushOutput<Order>,
            }
        },
    );
}

#[test]
fn inputs() {
    check(
        "inputs",
        quote!(),
        quote! {
            impl Prices {
                #[input(amqp, subscribe = "prices", concurrency = 4, prefetch = 16, retries = 3, dead_letter = "prices.dead")]
                async fn on_price(&self, price: Message<Price>) -> Result<(), BoxError> { Ok(()) }
                #[input(amqp, request = "quotes", codec = Postcard)]
                async fn quote(self: Arc<Self>, ask: Message<Ask>) -> Result<Quote, BoxError> { todo!() }
                #[cfg(feature = "kafka")]
                #[input(kafka, topic = "clicks")]
                async fn on_click(&self, click: Message<Click>) -> Result<(), BoxError> { Ok(()) }
            }
        },
    );
}

#[test]
fn stream_inputs() {
    check(
        "stream_inputs",
        quote!(),
        quote! {
            impl Ticker {
                #[input(kafka, topic = "ticks", stream, prefetch = 64)]
                async fn read_ticks(&self, ticks: InputStream<Tick>) -> Result<(), BoxError> { Ok(()) }
            }
        },
    );
}

#[test]
fn kafka_subscriptions() {
    check(
        "kafka_subscriptions",
        quote!(),
        quote! {
            impl Billing {
                #[input(kafka, topic = "orders", group = "billing", offset_reset = "latest")]
                async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> { Ok(()) }
                #[input(kafka, topics = ["refunds", "chargebacks"], name = "money_back", retries = 2)]
                async fn on_money_back(&self, event: Message<Refund>) -> Result<(), BoxError> { Ok(()) }
                #[input(kafka, topics = ["audit.a", "audit.b"], stream)]
                async fn read_audit(&self, audit: InputStream<Audit>) -> Result<(), BoxError> { Ok(()) }
            }
        },
    );
}

/// The "Equivalent code" of the macro's docs quotes the snapshots: each block marked
/// `<!-- snapshot: NAME -->` must be a run of lines of `NAME.expanded.rs` (indentation aside),
/// so that a change to the expansion that is not carried into the docs fails here.
#[test]
fn docs_quote_the_snapshots() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("../tamarco/src/docs/microservice.md"))
        .expect("the macro docs");
    let trimmed = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let mut checked = 0;
    for (marker, rest) in docs.split("<!-- snapshot: ").skip(1).map(|s| {
        let (name, rest) = s.split_once(" -->").expect("a closed marker");
        (name.to_owned(), rest.to_owned())
    }) {
        let block = rest
            .split_once("```text\n")
            .and_then(|(_, b)| b.split_once("```"))
            .map(|(b, _)| b)
            .expect("a code block after the marker");
        let snapshot =
            std::fs::read_to_string(root.join(format!("snapshots/{marker}.expanded.rs")))
                .unwrap_or_else(|_| {
                    panic!("the docs quote a snapshot `{marker}` that does not exist")
                });
        let (block, snapshot) = (trimmed(block), trimmed(&snapshot));
        assert!(
            snapshot.windows(block.len()).any(|w| w == block.as_slice()),
            "the docs' block marked `{marker}` is not in snapshots/{marker}.expanded.rs; copy the current expansion into tamarco/src/docs/microservice.md:\n{}",
            block.join("\n")
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} quoted blocks found");
}
