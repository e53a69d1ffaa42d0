/// A service with one timer.
pub struct Hello {
    http_server: HttpServer,
    greetings: AtomicU64,
}
#[doc(hidden)]
#[allow(unused_macros)]
macro_rules! __tamarco_resource_of_Hello {
    (http_server => $($e:tt)*) => {
        $($e)*
    };
    ($other:ident => $($e:tt)*) => {
        ::tamarco::__private::error_at!($other,
        "` is not a resource of `Hello`; its resources are `http_server`")
    };
}
#[doc(hidden)]
#[allow(unused_imports)]
pub(crate) use __tamarco_resource_of_Hello;
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::Microservice for Hello {
        const NAME: &'static str = "hello";
        fn resources(
            &self,
        ) -> ::tamarco::__private::Vec<::tamarco::__private::ResourceSlot<'_>> {
            ::tamarco::__private::Vec::from([
                ::tamarco::__private::ResourceSlot {
                    name: "http_server",
                    depends_on: &[],
                    replaces_default: false,
                    resource: ::tamarco::__private::as_resource::<
                        HttpServer,
                    >(&self.http_server),
                },
            ])
        }
    }
};
