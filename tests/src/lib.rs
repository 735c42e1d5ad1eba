pub mod aws_rig;
pub mod contract;
pub mod key_contract;
pub mod list_contract;
