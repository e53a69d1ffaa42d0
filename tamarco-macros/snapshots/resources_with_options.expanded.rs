struct OrderService {
    db: Postgres,
    cache: Redis,
    status: MyStatus,
}
#[doc(hidden)]
#[allow(unused_macros)]
macro_rules! __tamarco_resource_of_OrderService {
    (db => $($e:tt)*) => {
        $($e)*
    };
    (cache => $($e:tt)*) => {
        $($e)*
    };
    (status => $($e:tt)*) => {
        $($e)*
    };
    ($other:ident => $($e:tt)*) => {
        ::tamarco::__private::error_at!($other,
        "` is not a resource of `OrderService`; its resources are `db`, `cache`, `status`")
    };
}
#[doc(hidden)]
#[allow(unused_imports)]
pub(crate) use __tamarco_resource_of_OrderService;
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::Microservice for OrderService {
        const NAME: &'static str = "orders";
        fn resources(
            &self,
        ) -> ::tamarco::__private::Vec<::tamarco::__private::ResourceSlot<'_>> {
            ::tamarco::__private::Vec::from([
                ::tamarco::__private::ResourceSlot {
                    name: "db",
                    depends_on: &[],
                    replaces_default: false,
                    resource: ::tamarco::__private::as_resource::<Postgres>(&self.db),
                },
                ::tamarco::__private::ResourceSlot {
                    name: "order_cache",
                    depends_on: &["db"],
                    replaces_default: false,
                    resource: ::tamarco::__private::as_resource::<Redis>(&self.cache),
                },
                ::tamarco::__private::ResourceSlot {
                    name: "status",
                    depends_on: &[],
                    replaces_default: true,
                    resource: ::tamarco::__private::as_resource::<MyStatus>(&self.status),
                },
            ])
        }
    }
};
