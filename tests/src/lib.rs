pub mod audience_contract;
pub mod aws_rig;
pub mod blob_contract;
pub mod contract;
pub mod key_contract;
pub mod list_contract;
pub mod report_contract;
pub mod user_work_contract;
