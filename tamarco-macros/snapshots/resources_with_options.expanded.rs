struct OrderService {
    db: Postgres,
    cache: Redis,
    status: MyStatus,
}
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
