//! placeholder
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audience;
pub mod channel;
pub mod incident;
pub mod render;
