
pub mod contract;
