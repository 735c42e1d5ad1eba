//! The reports' contract (`crm_tests::report_contract`) on DynamoDB
//! (LocalStack, or whatever `AWS_ENDPOINT_URL` points at; fails when it is
//! not reachable): hand-computed figures, and exact counts under repeated
//! stream records, lost responses and concurrent writers.

use crm_aws::testing::{isolated_ports, teardown};
use crm_tests::contract::unique_tenant;
use crm_tests::report_contract;

#[tokio::test]
async fn dynamodb_store_keeps_the_reports_exact() {
    let ports = isolated_ports("reports").await.expect("LocalStack answers");
    report_contract::run_all_reports(ports.store.clone(), &unique_tenant("aws-reports")).await;
    teardown(&ports).await.expect("teardown");
}
