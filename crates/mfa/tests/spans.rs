//! The tracing span of each `Service` call: its name, the user as configured (plain,
//! keyed hash, omitted), the factor, and the kind and outcome its audit events fill in.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use mfa::ops::UserField;
use mfa::{Response, Service};
use mfa_core::{Clock, UserId};
use mfa_store::MemoryStore;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

use crate::common::{code, password};

type Fields = BTreeMap<String, String>;

/// A subscriber that keeps every span's name and fields, and which span is current.
#[derive(Clone, Default)]
struct Capture(Arc<Inner>);

#[derive(Default)]
struct Inner {
    spans: Mutex<Vec<(&'static Metadata<'static>, Fields)>>,
    stack: Mutex<Vec<Id>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        let mut spans = self.0.spans.lock().unwrap();
        spans.push((attrs.metadata(), fields));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.0.spans.lock().unwrap();
        let i = usize::try_from(span.into_u64()).unwrap() - 1;
        values.record(&mut Collect(&mut spans[i].1));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, span: &Id) {
        self.0.stack.lock().unwrap().push(span.clone());
    }
    fn exit(&self, _: &Id) {
        self.0.stack.lock().unwrap().pop();
    }
    fn current_span(&self) -> Current {
        let stack = self.0.stack.lock().unwrap();
        match stack.last() {
            Some(id) => {
                let i = usize::try_from(id.into_u64()).unwrap() - 1;
                Current::new(id.clone(), self.0.spans.lock().unwrap()[i].0)
            }
            None => Current::none(),
        }
    }
}

impl Capture {
    fn span(&self, name: &str) -> Vec<Fields> {
        self.0
            .spans
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m.name() == name)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// Runs a TOTP enrollment, one wrong code and one right code under `users`.
fn traced(users: UserField) -> Capture {
    let capture = Capture::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(capture.clone(), || {
        rt.block_on(async {
            let clock = Arc::new(mfa_core::FixedClock::new(
                mfa_core::Timestamp::from_unix_secs(1_700_000_000),
            ));
            let service = Service::builder(
                MemoryStore::new(),
                mfa::Policy::default(),
                crate::common::keys("k1"),
            )
            .shared_clock(clock.clone())
            .issuer("Bank")
            .trace_users(users)
            .build()
            .unwrap();
            let alice = UserId::new("alice").unwrap();
            let now = clock.now();
            let e = service
                .start_totp_enrollment(&alice, "phone", &password(now))
                .await
                .unwrap();
            service
                .finish_enrollment(
                    &alice,
                    &e.factor_id,
                    &code(&e, now.unix_secs()),
                    &password(now),
                )
                .await
                .unwrap();
            clock.advance(std::time::Duration::from_secs(30));
            let now = clock.now();
            let session = password(now);
            assert!(
                service
                    .verify(&alice, &e.factor_id, Response::Code("000000"), &session)
                    .await
                    .is_err()
            );
            service
                .verify(
                    &alice,
                    &e.factor_id,
                    Response::Code(&code(&e, now.unix_secs())),
                    &session,
                )
                .await
                .unwrap();
        });
    });
    capture
}

#[test]
fn each_call_has_a_span_with_user_factor_kind_and_outcome() {
    let c = traced(UserField::Plain);
    let enroll = c.span("mfa.start_totp_enrollment");
    assert_eq!(enroll.len(), 1);
    assert_eq!(enroll[0]["user"], "alice");
    assert_eq!(enroll[0]["outcome"], "enrolled");
    assert_eq!(enroll[0]["kind"], "totp");
    let confirm = c.span("mfa.finish_enrollment");
    assert_eq!(confirm[0]["outcome"], "confirmed");
    let verify = c.span("mfa.verify");
    assert_eq!(verify.len(), 2);
    assert_eq!(verify[0]["outcome"], "failed");
    assert_eq!(verify[1]["outcome"], "verified");
    assert_eq!(verify[1]["kind"], "totp");
    assert!(!verify[1]["factor"].is_empty());
}

#[test]
fn user_ids_in_spans_are_hashed_or_omitted_as_configured() {
    let key = [0x42; 32];
    let hashed = traced(UserField::hashed(&key).unwrap());
    let want = UserField::hashed(&key)
        .unwrap()
        .show(&UserId::new("alice").unwrap())
        .unwrap();
    for span in hashed.span("mfa.verify") {
        assert_eq!(span["user"], want);
        assert!(!span.values().any(|v| v.contains("alice")), "{span:?}");
    }
    let omitted = traced(UserField::Omitted);
    let verify = omitted.span("mfa.verify");
    assert_eq!(verify.len(), 2);
    for span in verify {
        assert!(!span.contains_key("user"), "{span:?}");
        assert!(!span.values().any(|v| v.contains("alice")), "{span:?}");
    }
}
