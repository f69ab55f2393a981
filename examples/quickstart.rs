//! The quickstart: a user's MFA state through the facade, on an in-memory store and a
//! clock that moves only when told.
//!
//! Run with `cargo run --example quickstart`. It prints each step and exits non-zero if
//! any step does not behave as documented.
//!
//! Shortcuts acceptable only because this is an example: the memory store forgets
//! everything on exit, the clock is fixed, and the factor's record is a placeholder
//! until each factor crate adds its own step here.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeStore, DeviceStore, FactorRecord, FactorStore, FailureKey, FailureStore,
    PendingChallenge, RememberedDevice, StoreError,
};
use mfa_core::{AuthMethod, Clock, FactorId, FactorKind, FixedClock, OsRandom, Timestamp, UserId};
use mfa_store::MemoryStore;

type Step = Result<(), Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => {
            println!("quickstart: every step behaved as documented");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quickstart FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(ok: bool, what: &str) -> Step {
    if ok {
        println!("  ok: {what}");
        Ok(())
    } else {
        Err(format!("not as documented: {what}").into())
    }
}

async fn run() -> Step {
    let clock = FixedClock::new(Timestamp::from_unix_secs(1_700_000_000));
    let store = Arc::new(MemoryStore::new());
    let user = UserId::new("alice@example.com")?;
    let mut rng = OsRandom;

    println!("1. Enroll a factor for {user} at {}", clock.now());
    let factor_id = FactorId::generate(&mut rng)?;
    let record = FactorRecord {
        id: factor_id.clone(),
        user: user.clone(),
        kind: FactorKind::Totp,
        label: "Authenticator app".into(),
        confirmed: true,
        created_at: clock.now(),
        last_used_at: None,
        data: br#"{"placeholder":"the factor crate's record"}"#.to_vec(),
    };
    let v1 = store.insert_factor(record.clone()).await?;
    let methods: Vec<_> = record
        .kind
        .typical_methods()
        .iter()
        .map(|m| m.as_str())
        .collect();
    println!(
        "   {} ({}) stored at version {}; proves amr {:?}",
        record.label,
        record.kind,
        v1.get(),
        methods
    );

    println!("2. Two requests verify the same code; the store accepts the update once");
    clock.advance(Duration::from_secs(30));
    let mut used = record.clone();
    used.last_used_at = Some(clock.now());
    let first = store.update_factor_if_version(used.clone(), v1).await;
    let second = store.update_factor_if_version(used, v1).await;
    check(first.is_ok(), "the first compare-and-swap wins")?;
    check(
        matches!(second, Err(StoreError::Conflict)),
        "the second is a replay (Conflict)",
    )?;

    println!("3. A pending challenge lives 120 s and is taken once");
    let id = ChallengeId::generate(&mut rng)?;
    store
        .put_challenge(PendingChallenge {
            id: id.clone(),
            user: user.clone(),
            factor: Some(factor_id.clone()),
            data: vec![],
            expires_at: clock.now().saturating_add(Duration::from_secs(120)),
        })
        .await?;
    check(
        store.take_challenge(&id, clock.now()).await?.is_some(),
        "taken once",
    )?;
    check(
        store.take_challenge(&id, clock.now()).await?.is_none(),
        "not twice",
    )?;

    println!("4. Failures count towards a lockout");
    let key = FailureKey {
        user: user.clone(),
        factor: Some(factor_id.clone()),
    };
    let window = Duration::from_secs(15 * 60);
    for _ in 0..3 {
        store.record_failure(&key, clock.now(), window).await?;
    }
    let seen = store
        .failures(&key, clock.now(), window)
        .await?
        .map(|f| f.count);
    check(seen == Some(3), "three failures counted")?;
    clock.advance(Duration::from_secs(16 * 60));
    check(
        store.failures(&key, clock.now(), window).await?.is_none(),
        "forgotten after the window",
    )?;

    println!("5. Remember this device for 30 days");
    let thirty_days = Duration::from_secs(30 * 24 * 3600);
    store
        .remember_device(RememberedDevice {
            user: user.clone(),
            device_id: "device-1".into(),
            label: "Firefox on Linux".into(),
            created_at: clock.now(),
            expires_at: clock.now().saturating_add(thirty_days),
        })
        .await?;
    check(
        store
            .remembered_device(&user, "device-1", clock.now())
            .await?
            .is_some(),
        "remembered today",
    )?;
    clock.advance(thirty_days + Duration::from_secs(1));
    check(
        store
            .remembered_device(&user, "device-1", clock.now())
            .await?
            .is_none(),
        "expired after 30 days",
    )?;

    println!("6. An admin resets the user's MFA");
    let removed = store.remove_all_factors(&user).await?;
    check(removed == 1, "one factor removed")?;
    check(
        store.list_factors(&user).await?.is_empty(),
        "no factors left",
    )?;
    check(
        AuthMethod::Otp.category().is_some(),
        "otp proves a factor category",
    )?;
    Ok(())
}
