struct Shop {
    http_server: HttpServer,
    cx: ServiceContext,
}
#[doc(hidden)]
#[allow(unused_macros)]
macro_rules! __tamarco_resource_of_Shop {
    (http_server => $($e:tt)*) => {
        $($e)*
    };
    ($other:ident => $($e:tt)*) => {
        ::tamarco::__private::error_at!($other,
        "` is not a resource of `Shop`; its resources are `http_server`")
    };
}
#[doc(hidden)]
#[allow(unused_imports)]
pub(crate) use __tamarco_resource_of_Shop;
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::Microservice for Shop {
        const NAME: &'static str = "shop";
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
        fn bind(
            &self,
            __tamarco_cx: &::tamarco::__private::ServiceContext,
        ) -> ::tamarco::__private::Result<(), ::tamarco::__private::BoxError> {
            self.cx.bind_from(__tamarco_cx);
            ::tamarco::__private::Result::Ok(())
        }
    }
};
