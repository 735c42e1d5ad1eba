//! The public sources' stored state (`crm_tests::public_contract`) on
//! DynamoDB (LocalStack, or whatever `AWS_ENDPOINT_URL` points at; fails
//! when it is not reachable).

use crm_aws::testing::{isolated_ports, teardown};
use crm_tests::contract::unique_tenant;
use crm_tests::public_contract;

#[tokio::test]
async fn dynamodb_store_keeps_forms_visitors_and_payment_endpoints() {
    let ports = isolated_ports("public").await.expect("LocalStack answers");
    public_contract::run_all_public(ports.store.clone(), &unique_tenant("aws-public")).await;
    teardown(&ports).await.expect("teardown");
}
