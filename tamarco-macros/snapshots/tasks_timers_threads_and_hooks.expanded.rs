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
                .push(::tamarco::__private::TaskSpec::<Self> {
                    name: "consume",
                    kind: ::tamarco::__private::TaskKind::Async {
                        run: |__tamarco_svc, __tamarco_cx| ::std::boxed::Box::pin(async move {
                            ::tamarco::__private::into_task_result(
                                Self::consume(&__tamarco_svc, __tamarco_cx).await,
                            )
                        }),
                        cooperative: true,
                    },
                    singleton: false,
                });
            __tamarco_tasks
                .push(::tamarco::__private::TaskSpec::<Self> {
                    name: "tick",
                    kind: ::tamarco::__private::TaskKind::Timer {
                        run: |__tamarco_svc, _| ::std::boxed::Box::pin(async move {
                            ::tamarco::__private::into_task_result(
                                Self::tick(&__tamarco_svc).await,
                            )
                        }),
                        interval: ::tamarco::__private::Duration::from_millis(2000),
                        one_shot: false,
                        autostart: true,
                    },
                    singleton: true,
                });
            #[cfg(unix)]
            __tamarco_tasks
                .push(::tamarco::__private::TaskSpec::<Self> {
                    name: "worker",
                    kind: ::tamarco::__private::TaskKind::Thread {
                        run: |__tamarco_svc, __tamarco_cx| ::tamarco::__private::into_task_result(
                            Self::blocking(&__tamarco_svc, __tamarco_cx),
                        ),
                    },
                    singleton: false,
                });
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
