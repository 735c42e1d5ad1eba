//! `aws redrive` against LocalStack (`AWS_ENDPOINT_URL`, default
//! `http://127.0.0.1:4566`): every test makes its own uniquely named queues.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};

use super::*;

async fn client() -> Client {
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    Client::new(&sdk)
}

async fn queue(sqs: &Client, name: &str) -> String {
    let unique = format!(
        "{name}-{}-{:x}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    sqs.create_queue()
        .queue_name(unique)
        .send()
        .await
        .expect("CreateQueue (is LocalStack running? infra/localstack.sh start)")
        .queue_url
        .expect("queue url")
}

async fn send(sqs: &Client, url: &str, body: &str) {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .message_attributes(
            "origin",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(format!("attr-{body}"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Every message in the queue (body → its `origin` attribute), deleting them.
async fn drain(sqs: &Client, url: &str) -> Vec<(String, Option<String>)> {
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            return all;
        }
        for m in batch {
            let attr = m
                .message_attributes()
                .and_then(|a| a.get("origin"))
                .and_then(|v| v.string_value().map(str::to_owned));
            all.push((m.body().unwrap_or_default().to_owned(), attr));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

async fn depth(sqs: &Client, url: &str) -> u64 {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap_or_default();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|k| {
        attrs
            .get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    })
    .sum()
}

fn args(from: &str, to: &str, max: Option<u64>) -> RedriveArgs {
    RedriveArgs {
        from: from.to_owned(),
        to: to.to_owned(),
        max,
    }
}

#[tokio::test]
async fn moves_every_message_once_with_its_attributes_and_honours_max() {
    let sqs = client().await;
    let dlq = queue(&sqs, "redrive-dlq").await;
    let target = queue(&sqs, "redrive-target").await;
    let bodies: Vec<String> = (0..23).map(|i| format!(r#"{{"job":{i}}}"#)).collect();
    for b in &bodies {
        send(&sqs, &dlq, b).await;
    }

    let first = redrive(&sqs, &args(&dlq, &target, Some(4))).await.unwrap();
    assert_eq!(
        first,
        RedriveReport {
            moved: 4,
            not_deleted: 0
        }
    );
    assert_eq!(depth(&sqs, &dlq).await, 19, "--max 4 leaves the rest");

    let rest = redrive(&sqs, &args(&dlq, &target, None)).await.unwrap();
    assert_eq!(
        rest,
        RedriveReport {
            moved: 19,
            not_deleted: 0
        }
    );
    assert_eq!(depth(&sqs, &dlq).await, 0, "the DLQ is empty");

    let moved = drain(&sqs, &target).await;
    assert_eq!(moved.len(), bodies.len(), "none lost, none duplicated");
    let got: BTreeMap<_, _> = moved.into_iter().collect();
    let want: BTreeMap<_, _> = bodies
        .iter()
        .map(|b| (b.clone(), Some(format!("attr-{b}"))))
        .collect();
    assert_eq!(got, want);

    let again = redrive(&sqs, &args(&dlq, &target, None)).await.unwrap();
    assert_eq!(again.moved, 0, "an empty DLQ moves nothing");
}

#[tokio::test]
async fn refuses_a_queue_of_stream_batch_pointers_and_leaves_it_untouched() {
    let sqs = client().await;
    let dlq = queue(&sqs, "redrive-odd-name").await;
    let target = queue(&sqs, "redrive-target").await;
    let pointer = r#"{"requestContext":{"condition":"RetryAttemptsExhausted"},"DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"1","batchSize":1,"streamArn":"arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x"}}"#;
    send(&sqs, &dlq, pointer).await;

    let err = redrive(&sqs, &args(&dlq, &target, None)).await.unwrap_err();
    assert!(
        matches!(err, RedriveError::StreamDlq { moved: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("sweeper"), "{err}");
    assert_eq!(depth(&sqs, &target).await, 0, "nothing sent");
    let left = drain(&sqs, &dlq).await;
    assert_eq!(left.len(), 1, "the pointer is visible again in its queue");
}

#[tokio::test]
async fn refuses_the_stream_dlq_by_name_and_the_same_queue() {
    let sqs = client().await;
    let err = redrive(
        &sqs,
        &args(
            "http://127.0.0.1:4566/000000000000/crm-StreamDeadLetterQueue-1A2B",
            "http://127.0.0.1:4566/000000000000/crm-robot-actions",
            None,
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RedriveError::StreamDlq { .. }), "{err}");
    let err = redrive(&sqs, &args("http://h/1/q", "http://h/1/q/", None))
        .await
        .unwrap_err();
    assert!(matches!(err, RedriveError::SameQueue(_)), "{err}");
    assert!(!is_stream_dlq_name(
        "https://sqs.us-east-1.amazonaws.com/1/crm-RobotDeadLetterQueue-X"
    ));
    assert!(is_stream_dlq_name(
        "https://sqs.us-east-1.amazonaws.com/1/app-stream-dlq"
    ));
}
