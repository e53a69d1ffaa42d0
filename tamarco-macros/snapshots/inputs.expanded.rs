impl Prices {
    async fn on_price(&self, price: Message<Price>) -> Result<(), BoxError> {
        Ok(())
    }
    async fn quote(self: Arc<Self>, ask: Message<Ask>) -> Result<Quote, BoxError> {
        todo!()
    }
    #[cfg(feature = "kafka")]
    async fn on_click(&self, click: Message<Click>) -> Result<(), BoxError> {
        Ok(())
    }
}
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::TaskSet for Prices {
        fn tasks() -> ::tamarco::__private::Vec<::tamarco::__private::TaskSpec<Self>> {
            #[allow(unused_mut)]
            let mut __tamarco_tasks = ::tamarco::__private::Vec::new();
            __tamarco_tasks
        }
        fn wire(
            __tamarco_svc: &::tamarco::__private::Arc<Self>,
        ) -> ::tamarco::__private::Result<(), ::tamarco::__private::BoxError> {
            ::tamarco::__private::bind_input::<
                _,
                ::tamarco::__private::kind::Subscribe,
                _,
                _,
                _,
                _,
                _,
            >(
                __tamarco_resource_of_Prices!(amqp => & __tamarco_svc.amqp),
                ::tamarco::__private::InputSpec::new("prices")
                    .concurrency(4)
                    .prefetch(16)
                    .retries(3)
                    .dead_letter("prices.dead"),
                ::tamarco::__private::codec::Json,
                {
                    let __tamarco_s = ::tamarco::__private::Arc::clone(__tamarco_svc);
                    move |__tamarco_m| {
                        let __tamarco_s = ::tamarco::__private::Arc::clone(&__tamarco_s);
                        async move { Self::on_price(&__tamarco_s, __tamarco_m).await }
                    }
                },
            )?;
            ::tamarco::__private::bind_request_input::<
                _,
                _,
                _,
                _,
                _,
                _,
                _,
            >(
                __tamarco_resource_of_Prices!(amqp => & __tamarco_svc.amqp),
                ::tamarco::__private::InputSpec::new("quotes"),
                Postcard,
                {
                    let __tamarco_s = ::tamarco::__private::Arc::clone(__tamarco_svc);
                    move |__tamarco_m| {
                        let __tamarco_s = ::tamarco::__private::Arc::clone(&__tamarco_s);
                        async move { Self::quote(__tamarco_s, __tamarco_m).await }
                    }
                },
            )?;
            #[cfg(feature = "kafka")]
            ::tamarco::__private::bind_input::<
                _,
                ::tamarco::__private::kind::Topic,
                _,
                _,
                _,
                _,
                _,
            >(
                __tamarco_resource_of_Prices!(kafka => & __tamarco_svc.kafka),
                ::tamarco::__private::InputSpec::new("clicks"),
                ::tamarco::__private::codec::Json,
                {
                    let __tamarco_s = ::tamarco::__private::Arc::clone(__tamarco_svc);
                    move |__tamarco_m| {
                        let __tamarco_s = ::tamarco::__private::Arc::clone(&__tamarco_s);
                        async move { Self::on_click(&__tamarco_s, __tamarco_m).await }
                    }
                },
            )?;
            ::tamarco::__private::Result::Ok(())
        }
    }
};
