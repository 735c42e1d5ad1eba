pub mod aws_rig;
pub mod contract;
