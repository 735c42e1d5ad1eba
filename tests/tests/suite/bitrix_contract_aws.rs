//! The Bitrix24 adapter's stored state (`crm_tests::bitrix_contract`) on
//! DynamoDB (LocalStack, or whatever `AWS_ENDPOINT_URL` points at; fails
//! when it is not reachable).

use crm_aws::testing::{isolated_ports, teardown};
use crm_tests::bitrix_contract;
use crm_tests::contract::unique_tenant;

#[tokio::test]
async fn dynamodb_store_keeps_bitrix_credentials_and_codes() {
    let ports = isolated_ports("bitrix").await.expect("LocalStack answers");
    bitrix_contract::run_all_bitrix(ports.store.clone(), &unique_tenant("aws-bitrix")).await;
    teardown(&ports).await.expect("teardown");
}
