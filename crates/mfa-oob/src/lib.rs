#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bytes;
mod code;
mod destination;
mod error;
mod limits;
mod message;
mod push;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use code::{
    ChannelProperties, OobChallenge, OobConfig, OobDetails, OobFactor, OobRecord, OobState,
};
pub use destination::{
    Destination, DestinationError, EmailAddress, MASK, MAX_EMAIL_LEN, MAX_PHONE_INPUT, PhoneNumber,
};
pub use error::Error;
pub use limits::{CountryCodes, LimitError, PushCounts, PushLimits, SendCounts, SendLimits};
pub use message::{OutboxSender, OutgoingMessage, SendError, Sender, Templates};
pub use push::{
    Answer, DevicePublicKey, EncodingError, EnrollmentChallenge, EnrollmentRequest,
    MAX_NUMBER_DIGITS, PushChallenge, PushConfig, PushDetails, PushFactor, PushNotification,
    PushRecord, PushResponse, PushState, PushStatus, PushTransport, RESPONSE_DOMAIN, TransactionId,
};
