struct Prices {
    amqp: Amqp,
    prices: PublishOutput<Price>,
    orders: PushOutput<Order>,
}
#[doc(hidden)]
#[allow(unused_macros)]
macro_rules! __tamarco_resource_of_Prices {
    (amqp => $($e:tt)*) => {
        $($e)*
    };
    ($other:ident => $($e:tt)*) => {
        ::tamarco::__private::error_at!($other,
        "` is not a resource of `Prices`; its resources are `amqp`")
    };
}
#[doc(hidden)]
#[allow(unused_imports)]
pub(crate) use __tamarco_resource_of_Prices;
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::Microservice for Prices {
        const NAME: &'static str = "prices";
        fn resources(
            &self,
        ) -> ::tamarco::__private::Vec<::tamarco::__private::ResourceSlot<'_>> {
            ::tamarco::__private::Vec::from([
                ::tamarco::__private::ResourceSlot {
                    name: "amqp",
                    depends_on: &[],
                    replaces_default: false,
                    resource: ::tamarco::__private::as_resource::<Amqp>(&self.amqp),
                },
            ])
        }
        fn bind(
            &self,
            __tamarco_cx: &::tamarco::__private::ServiceContext,
        ) -> ::tamarco::__private::Result<(), ::tamarco::__private::BoxError> {
            ::tamarco::__private::bind_output(
                &self.amqp,
                &self.prices,
                "prices",
                ::tamarco::__private::codec::Json,
            )?;
            ::tamarco::__private::bind_output(
                &self.amqp,
                &self.orders,
                "orders",
                Postcard,
            )?;
            ::tamarco::__private::Result::Ok(())
        }
    }
};
