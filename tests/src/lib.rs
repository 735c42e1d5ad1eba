pub mod aws_rig;
pub mod bitrix_contract;
pub mod blob_contract;
pub mod contract;
pub mod key_contract;
pub mod list_contract;
pub mod report_contract;
