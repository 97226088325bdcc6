//! cityfix's library: every piece that is not an entry point (rules, use cases, ports, adapters, wire formats).

pub mod app;
#[cfg(feature = "aws")]
pub mod aws;
pub mod batch;
pub mod config;
pub mod domain;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod geocoding;
pub mod http;
pub mod ports;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
