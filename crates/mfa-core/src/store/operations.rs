//! Every store operation, listed once, for code that implements all of them alike.

/// Calls the macro `$m` with every operation of the store traits (but the journal's), grouped by trait:
/// `$m! { [ARGS] FactorStore { insert_factor(record: FactorRecord) -> Version; … } … }`,
/// where `ARGS` are the tokens given after `$m!` and each operation's result is the `T`
/// of its `Result<T, StoreError>`.
///
/// For wrappers that forward every operation (`mfa_store::AnyStore`, `mfa_store::Split`,
/// `mfa_core::testkit::Faulty`), so the operations are written once, here, rather than
/// once more in each wrapper. The trait and type names are resolved where `$m` expands:
/// that module imports them (it calls the trait methods anyway).
#[doc(hidden)]
#[macro_export]
macro_rules! store_operations {
    ($m:ident! $($args:tt)*) => {
        $m! { [$($args)*]
            FactorStore {
                insert_factor(record: FactorRecord) -> Version;
                factor(user: &UserId, id: &FactorId) -> Option<Versioned<FactorRecord>>;
                factor_by_lookup_key(key: &LookupKey, user: Option<&UserId>) -> Option<Versioned<FactorRecord>>;
                list_factors(user: &UserId) -> Vec<Versioned<FactorRecord>>;
                update_factor_if_version(record: FactorRecord, expected: Version) -> Version;
                remove_factor(user: &UserId, id: &FactorId) -> bool;
            }
            ChallengeStore {
                put_challenge(challenge: PendingChallenge) -> Version;
                challenge(id: &ChallengeId, owner: &ChallengeOwner, now: Timestamp) -> Option<Versioned<PendingChallenge>>;
                update_challenge_if_version(challenge: PendingChallenge, expected: Version, now: Timestamp) -> Version;
                take_challenge(id: &ChallengeId, owner: &ChallengeOwner, now: Timestamp) -> Option<PendingChallenge>;
                purge_expired_challenges(now: Timestamp) -> usize;
            }
            FailureStore {
                record_failure(key: &FailureKey, now: Timestamp, window: Duration) -> Failures;
                failures(key: &FailureKey, now: Timestamp, window: Duration) -> Option<Failures>;
                clear_failures(key: &FailureKey) -> ();
                purge_failures(now: Timestamp) -> usize;
            }
            DeviceStore {
                remember_device(device: RememberedDevice) -> ();
                remembered_device(user: &UserId, device_id: &str, now: Timestamp) -> Option<RememberedDevice>;
                list_devices(user: &UserId, now: Timestamp) -> Vec<RememberedDevice>;
                forget_device(user: &UserId, device_id: &str) -> bool;
            }
            UserStore {
                user_state(user: &UserId) -> UserState;
                bump_generation(user: &UserId) -> Generation;
                reset_user(user: &UserId) -> ResetSummary;
            }
            AttemptStore {
                count_attempt(request: &AttemptRequest<'_>) -> AttemptCount;
                settle_attempt(user: &UserId, factor: &FactorId, take: Option<&ChallengeId>, now: Timestamp) -> ();
            }
            VerificationStore {
                begin_verification(request: &AttemptRequest<'_>) -> Begun;
                commit_verification(success: Success<'_>) -> Option<Version>;
            }
        }
    };
}
