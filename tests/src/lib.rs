//! Shared test code: the port contract suites every adapter must pass, and sample data.

pub mod city;
pub mod contract;
pub mod moto;
pub mod sample;
pub mod template;
