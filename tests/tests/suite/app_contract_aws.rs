//! Custom robot types of applications (`crm_tests::app_contract`) on
//! DynamoDB (LocalStack, or whatever `AWS_ENDPOINT_URL` points at; fails
//! when it is not reachable).

use crm_aws::testing::{isolated_ports, teardown};
use crm_tests::app_contract;
use crm_tests::contract::unique_tenant;

#[tokio::test]
async fn dynamodb_store_keeps_app_robot_types_and_waits() {
    let ports = isolated_ports("apps").await.expect("LocalStack answers");
    app_contract::run_all_apps(ports.store.clone(), &unique_tenant("aws-apps")).await;
    teardown(&ports).await.expect("teardown");
}
