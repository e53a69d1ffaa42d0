impl Billing {
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        Ok(())
    }
    async fn on_money_back(&self, event: Message<Refund>) -> Result<(), BoxError> {
        Ok(())
    }
    async fn read_audit(&self, audit: InputStream<Audit>) -> Result<(), BoxError> {
        Ok(())
    }
}
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::TaskSet for Billing {
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
                ::tamarco::__private::kind::Topic,
                _,
                _,
                _,
                _,
                _,
            >(
                __tamarco_resource_of_Billing!(kafka => & __tamarco_svc.kafka),
                ::tamarco::__private::InputSpec::new("orders")
                    .transport_option("group", "billing")
                    .transport_option("offset_reset", "latest"),
                ::tamarco::__private::codec::Json,
                {
                    let __tamarco_s = ::tamarco::__private::Arc::clone(__tamarco_svc);
                    move |__tamarco_m| {
                        let __tamarco_s = ::tamarco::__private::Arc::clone(&__tamarco_s);
                        async move { Self::on_order(&__tamarco_s, __tamarco_m).await }
                    }
                },
            )?;
            ::tamarco::__private::bind_input::<
                _,
                ::tamarco::__private::kind::Topic,
                _,
                _,
                _,
                _,
                _,
            >(
                __tamarco_resource_of_Billing!(kafka => & __tamarco_svc.kafka),
                ::tamarco::__private::InputSpec::new("money_back")
                    .retries(2)
                    .transport_option("topics", ["refunds", "chargebacks"]),
                ::tamarco::__private::codec::Json,
                {
                    let __tamarco_s = ::tamarco::__private::Arc::clone(__tamarco_svc);
                    move |__tamarco_m| {
                        let __tamarco_s = ::tamarco::__private::Arc::clone(&__tamarco_s);
                        async move {
                            Self::on_money_back(&__tamarco_s, __tamarco_m).await
                        }
                    }
                },
            )?;
            ::tamarco::__private::bind_stream_input::<
                _,
                ::tamarco::__private::kind::Topic,
                _,
                _,
                _,
                _,
                _,
            >(
                __tamarco_resource_of_Billing!(kafka => & __tamarco_svc.kafka),
                ::tamarco::__private::InputSpec::new("audit.a,audit.b")
                    .transport_option("topics", ["audit.a", "audit.b"]),
                ::tamarco::__private::codec::Json,
                {
                    let __tamarco_s = ::tamarco::__private::Arc::clone(__tamarco_svc);
                    move |__tamarco_stream| async move {
                        Self::read_audit(&__tamarco_s, __tamarco_stream).await
                    }
                },
            )?;
            ::tamarco::__private::Result::Ok(())
        }
    }
};
