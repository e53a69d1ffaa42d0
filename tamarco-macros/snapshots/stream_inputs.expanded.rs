impl Ticker {
    async fn read_ticks(&self, ticks: InputStream<Tick>) -> Result<(), BoxError> {
        Ok(())
    }
}
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::TaskSet for Ticker {
        fn tasks() -> ::tamarco::__private::Vec<::tamarco::__private::TaskSpec<Self>> {
            #[allow(unused_mut)]
            let mut __tamarco_tasks = ::tamarco::__private::Vec::new();
            __tamarco_tasks
        }
        fn wire(
            __tamarco_svc: &::tamarco::__private::Arc<Self>,
        ) -> ::tamarco::__private::Result<(), ::tamarco::__private::BoxError> {
            ::tamarco::__private::bind_stream_input::<
                _,
                ::tamarco::__private::kind::Topic,
                _,
                _,
                _,
                _,
                _,
            >(
                __tamarco_resource_of_Ticker!(kafka => & __tamarco_svc.kafka),
                ::tamarco::__private::InputSpec::new("ticks").prefetch(64),
                ::tamarco::__private::codec::Json,
                {
                    let __tamarco_s = ::tamarco::__private::Arc::clone(__tamarco_svc);
                    move |__tamarco_stream| async move {
                        Self::read_ticks(&__tamarco_s, __tamarco_stream).await
                    }
                },
            )?;
            ::tamarco::__private::Result::Ok(())
        }
    }
};
