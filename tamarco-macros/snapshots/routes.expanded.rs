impl Shop {
    async fn hello(&self) -> &'static str {
        "Hello world!"
    }
    async fn order(
        self: Arc<Self>,
        Path(id): Path<u64>,
        headers: HeaderMap,
    ) -> Json<Order> {
        todo!()
    }
    #[cfg(feature = "ws")]
    async fn echo(&self, upgrade: WebSocketUpgrade) -> Response {
        todo!()
    }
}
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::TaskSet for Shop {
        fn tasks() -> ::tamarco::__private::Vec<::tamarco::__private::TaskSpec<Self>> {
            #[allow(unused_mut)]
            let mut __tamarco_tasks = ::tamarco::__private::Vec::new();
            __tamarco_tasks
        }
        fn wire(
            __tamarco_svc: &::tamarco::__private::Arc<Self>,
        ) -> ::tamarco::__private::Result<(), ::tamarco::__private::BoxError> {
            ::tamarco::__private::http::add_routes(
                __tamarco_resource_of_Shop!(http_server => & __tamarco_svc.http_server),
                |__tamarco_route| {
                    let __tamarco_router = ::tamarco::__private::http::Router::<
                        ::tamarco::__private::Arc<Self>,
                    >::new();
                    let __tamarco_router = __tamarco_router
                        .route(
                            "/",
                            ::tamarco::__private::http::observed(
                                __tamarco_route("/"),
                                ::tamarco::__private::Option::Some(
                                    ::tamarco::__private::http::MethodFilter::GET,
                                ),
                                |
                                    ::tamarco::__private::http::State(
                                        __tamarco_svc,
                                    ): ::tamarco::__private::http::State<
                                        ::tamarco::__private::Arc<Self>,
                                    >|
                                async move {
                                    ::tamarco::__private::http::into_response(
                                        Self::hello(&__tamarco_svc).await,
                                    )
                                },
                            ),
                        );
                    let __tamarco_router = __tamarco_router
                        .route(
                            "/orders/{id}",
                            ::tamarco::__private::http::observed(
                                __tamarco_route("/orders/{id}"),
                                ::tamarco::__private::Option::Some(
                                    ::tamarco::__private::http::MethodFilter::GET,
                                ),
                                |
                                    ::tamarco::__private::http::State(
                                        __tamarco_svc,
                                    ): ::tamarco::__private::http::State<
                                        ::tamarco::__private::Arc<Self>,
                                    >,
                                    __tamarco_arg0: Path<u64>,
                                    __tamarco_arg1: HeaderMap|
                                async move {
                                    ::tamarco::__private::http::into_response(
                                        Self::order(__tamarco_svc, __tamarco_arg0, __tamarco_arg1)
                                            .await,
                                    )
                                },
                            ),
                        );
                    let __tamarco_router = __tamarco_router
                        .route(
                            "/orders/{id}",
                            ::tamarco::__private::http::observed(
                                __tamarco_route("/orders/{id}"),
                                ::tamarco::__private::Option::Some(
                                    ::tamarco::__private::http::MethodFilter::DELETE,
                                ),
                                |
                                    ::tamarco::__private::http::State(
                                        __tamarco_svc,
                                    ): ::tamarco::__private::http::State<
                                        ::tamarco::__private::Arc<Self>,
                                    >,
                                    __tamarco_arg0: Path<u64>,
                                    __tamarco_arg1: HeaderMap|
                                async move {
                                    ::tamarco::__private::http::into_response(
                                        Self::order(__tamarco_svc, __tamarco_arg0, __tamarco_arg1)
                                            .await,
                                    )
                                },
                            ),
                        );
                    __tamarco_router
                        .with_state(::tamarco::__private::Arc::clone(__tamarco_svc))
                },
            );
            ::tamarco::__private::http::add_routes(
                __tamarco_resource_of_Shop!(websocket => & __tamarco_svc.websocket),
                |__tamarco_route| {
                    let __tamarco_router = ::tamarco::__private::http::Router::<
                        ::tamarco::__private::Arc<Self>,
                    >::new();
                    #[cfg(feature = "ws")]
                    let __tamarco_router = __tamarco_router
                        .route(
                            "/echo",
                            ::tamarco::__private::http::observed(
                                __tamarco_route("/echo"),
                                ::tamarco::__private::Option::None,
                                |
                                    ::tamarco::__private::http::State(
                                        __tamarco_svc,
                                    ): ::tamarco::__private::http::State<
                                        ::tamarco::__private::Arc<Self>,
                                    >,
                                    __tamarco_arg0: WebSocketUpgrade|
                                async move {
                                    ::tamarco::__private::http::into_response(
                                        Self::echo(&__tamarco_svc, __tamarco_arg0).await,
                                    )
                                },
                            ),
                        );
                    __tamarco_router
                        .with_state(::tamarco::__private::Arc::clone(__tamarco_svc))
                },
            );
            ::tamarco::__private::Result::Ok(())
        }
    }
};
