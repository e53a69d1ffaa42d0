impl Hello {
    async fn consume(&self, cx: TaskContext) -> Result<(), BoxError> {
        Ok(())
    }
    async fn tick(&self) {}
    #[cfg(unix)]
    fn blocking(&self, stop: ShutdownHandle) {}
    async fn start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        stage.run().await?;
        Ok(())
    }
    fn helper(&self) -> u8 {
        1
    }
}
const _: () = {
    #[automatically_derived]
    impl ::tamarco::__private::TaskSet for Hello {
        fn tasks() -> ::tamarco::__private::Vec<::tamarco::__private::TaskSpec<Self>> {
            #[allow(unused_mut)]
            let mut __tamarco_tasks = ::tamarco::__private::Vec::new();
            __tamarco_tasks
                .push(
                    ::tamarco::__private::task::<
                        Self,
                    >(
                        "consume",
                        true,
                        |__tamarco_svc, __tamarco_cx| ::std::boxed::Box::pin(async move {
                            ::tamarco::__private::into_task_result(
                                Self::consume(&__tamarco_svc, __tamarco_cx).await,
                            )
                        }),
                    ),
                );
            __tamarco_tasks
                .push(
                    ::tamarco::__private::timer::<
                        Self,
                    >(
                        "tick",
                        2000,
                        false,
                        true,
                        |__tamarco_svc, _| ::std::boxed::Box::pin(async move {
                            ::tamarco::__private::into_task_result(
                                Self::tick(&__tamarco_svc).await,
                            )
                        }),
                    ),
                );
            #[cfg(unix)]
            __tamarco_tasks
                .push(
                    ::tamarco::__private::thread::<
                        Self,
                    >(
                        "worker",
                        |__tamarco_svc, __tamarco_cx| ::tamarco::__private::into_task_result(
                            Self::blocking(&__tamarco_svc, __tamarco_cx),
                        ),
                    ),
                );
            __tamarco_tasks
        }
        fn hooks() -> ::tamarco::__private::Hooks<Self> {
            let mut __tamarco_hooks = ::tamarco::__private::Hooks::<Self>::default();
            {
                __tamarco_hooks.start = ::std::option::Option::Some(|
                    __tamarco_svc,
                    __tamarco_stage|
                {
                    ::std::boxed::Box::pin(async move {
                        ::tamarco::__private::into_task_result(
                            Self::start(__tamarco_svc, __tamarco_stage).await,
                        )
                    })
                });
            }
            __tamarco_hooks
        }
    }
};
