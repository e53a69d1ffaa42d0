/// A service with one timer.
pub struct Hello {
    http_server: HttpServer,
    greetings: AtomicU64,
}
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::Microservice for Hello {
        const NAME: &'static str = "hello";
        fn resources(
            &self,
        ) -> ::tamarco::__private::Vec<::tamarco::__private::ResourceSlot<'_>> {
            ::tamarco::__private::Vec::from([
                ::tamarco::__private::resource_slot::<
                    HttpServer,
                >("http_server", &[], false, &self.http_server),
            ])
        }
    }
};
