#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod assurance;
mod cidr;
mod decision;
pub mod device;
pub mod document;
pub mod enroll;
mod error;
mod evaluate;
pub mod grace;
pub mod input;
mod kinds;
pub mod lockout;
pub mod oidc;
mod policy;
mod requirement;

pub use decision::{Decision, Reason, ReasonCode};
pub use error::Error;
pub use input::Input;
pub use policy::Policy;
