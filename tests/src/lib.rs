pub mod aws_rig;
pub mod contract;
pub mod key_contract;
pub mod report_contract;
