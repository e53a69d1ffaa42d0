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
                ::tamarco::__private::resource_slot::<
                    Postgres,
                >("db", &[], false, &self.db),
                ::tamarco::__private::resource_slot::<
                    Redis,
                >("order_cache", &["db"], false, &self.cache),
                ::tamarco::__private::resource_slot::<
                    MyStatus,
                >("status", &[], true, &self.status),
            ])
        }
    }
};
