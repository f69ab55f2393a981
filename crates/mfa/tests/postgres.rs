//! The service on PostgreSQL with two service instances (two connection pools on one
//! schema): the 64-way races of `concurrency.rs` (TOTP, recovery code, WebAuthn, SMS,
//! push, wrong codes), and the schema `raw_tables.rs` reads back for secrets. Each test works in a schema of its own, dropped at the end.
//!
//! Needs `MFA_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! without it the tests print that they skip, and with `MFA_REQUIRE_EXTERNAL=1` they fail.

use std::sync::atomic::{AtomicU64, Ordering};

use mfa_store::{PostgresOptions, PostgresStore};
use tokio_postgres::NoTls;

use crate::common::{POLICY, RACE_POLICY, harness_pair};
use crate::concurrency::{
    Instances, one_assertion_once, one_push_once, one_recovery_code_once, one_sms_code_once,
    one_totp_code_once, wrong_codes_count_and_lock,
};

const VAR: &str = "MFA_TEST_POSTGRES_URL";

async fn admin(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// A fresh schema on the test server, dropped with this value (also when the test fails).
pub(crate) struct Schema {
    pub url: String,
    pub name: String,
}

impl Schema {
    /// `None` (after saying so) when the test skips.
    pub(crate) async fn new(test: &str) -> Option<Self> {
        let required = std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() == Ok("1");
        let url = match std::env::var(VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    !required,
                    "{test}: {VAR} is not set and MFA_REQUIRE_EXTERNAL=1"
                );
                eprintln!("{test}: skipped ({VAR} is not set)");
                return None;
            }
        };
        let client = match admin(&url).await {
            Ok(c) => c,
            Err(e) => {
                assert!(!required, "{test}: PostgreSQL unreachable: {e}");
                eprintln!("{test}: skipped (PostgreSQL unreachable: {e})");
                return None;
            }
        };
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "mfa_service_{}_{nanos}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        Some(Self { url, name })
    }

    /// A store (its own pool) on this schema, migrated.
    pub(crate) async fn store(&self) -> PostgresStore {
        PostgresStore::connect(&self.url, PostgresOptions::default().schema(&self.name))
            .await
            .unwrap()
    }

    /// Two service instances of one deployment over two pools on this schema.
    pub(crate) async fn instances(&self, policy: &str) -> Instances<PostgresStore> {
        harness_pair(self.store().await, self.store().await, policy)
    }

    /// A connection of the test's own, reading the raw tables.
    pub(crate) async fn client(&self) -> tokio_postgres::Client {
        let client = admin(&self.url).await.unwrap();
        client
            .batch_execute(&format!("SET search_path TO {}", self.name))
            .await
            .unwrap();
        client
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let done = mfa_core::testkit::on_own_thread(move || async move {
            let client = admin(&url).await.unwrap();
            let drop = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
            client.batch_execute(&drop).await.unwrap();
        });
        if !done {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_one_totp_code_once() {
    let Some(db) = Schema::new("postgres_two_instances_one_totp_code_once").await else {
        return;
    };
    one_totp_code_once(db.instances(RACE_POLICY).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_one_recovery_code_once() {
    let Some(db) = Schema::new("postgres_two_instances_one_recovery_code_once").await else {
        return;
    };
    one_recovery_code_once(db.instances(RACE_POLICY).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_one_assertion_once() {
    let Some(db) = Schema::new("postgres_two_instances_one_assertion_once").await else {
        return;
    };
    one_assertion_once(db.instances(RACE_POLICY).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_wrong_codes_count_and_lock() {
    let Some(db) = Schema::new("postgres_two_instances_wrong_codes_count_and_lock").await else {
        return;
    };
    wrong_codes_count_and_lock(db.instances(POLICY).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_one_sms_code_once() {
    let Some(db) = Schema::new("postgres_two_instances_one_sms_code_once").await else {
        return;
    };
    one_sms_code_once(db.instances(RACE_POLICY).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_one_approved_push_once() {
    let Some(db) = Schema::new("postgres_two_instances_one_approved_push_once").await else {
        return;
    };
    one_push_once(db.instances(RACE_POLICY).await).await;
}
