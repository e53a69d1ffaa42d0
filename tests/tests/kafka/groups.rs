//! Two consumers in one group share the partitions, and the status lists the assignment.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consumers_in_one_group_split_the_partitions() {
    let broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 4);
    let a = start(OrderConsumer::default(), &broker).await;
    joined(&a.service().kafka).await;
    let b = start(OrderConsumer::default(), &broker).await;
    joined(&b.service().kafka).await;

    let (sa, sb) = (a.service().clone(), b.service().clone());
    let assigned = |s: &OrderConsumer| s.kafka.assignment(&topic).unwrap_or_default();
    wait_until(
        WAIT,
        || {
            let (pa, pb) = (assigned(&sa), assigned(&sb));
            !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == 4
        },
        || "both members hold partitions",
    )
    .await;
    let (pa, pb) = (assigned(&sa), assigned(&sb));
    let all: BTreeSet<i32> = pa.iter().chain(&pb).map(|(_, p)| *p).collect();
    assert_eq!(
        all,
        (0..4).collect(),
        "together they hold every partition: {pa:?} {pb:?}"
    );

    let producer = start(OrderProducer::default(), &broker).await;
    for id in 0..40 {
        producer
            .service()
            .orders
            .message(&order(id))
            .partition(i32::try_from(id % 4).unwrap())
            .push()
            .await
            .unwrap();
    }
    wait_until(
        WAIT,
        || sa.seen().len() + sb.seen().len() >= 40,
        || "40 orders handled between them",
    )
    .await;
    let mine = |s: &OrderConsumer, held: &[(String, i32)]| {
        s.seen()
            .iter()
            .all(|seen| held.iter().any(|(_, p)| *p == seen.partition))
    };
    assert!(
        mine(&sa, &pa) && mine(&sb, &pb),
        "each sees only its partitions"
    );
    let mut ids: Vec<u64> = sa.ids().into_iter().chain(sb.ids()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..40).collect::<Vec<_>>(), "each order handled once");

    // The status lists the input, its group and its assignment.
    let status = sa.kafka.status_fields();
    let input = &status["inputs"][0];
    assert_eq!(input["name"], json!(topic));
    assert_eq!(input["group"], json!("order_consumer"));
    assert_eq!(input["joined"], json!(true));
    assert_eq!(input["assignment"].as_array().unwrap().len(), pa.len());

    producer.stop().await.unwrap();
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
