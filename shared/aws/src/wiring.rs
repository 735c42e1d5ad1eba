//! Cold-start wiring of the Lambda functions: the engine on the AWS adapters,
//! with the system clock, random ids and the logging delivery adapter, and
//! JSON logs for CloudWatch.
//!
//! `main.rs` of each function calls [`init_tracing`] and [`engine_from_env`]
//! once per cold start; integration tests call [`engine_on`] with ports built
//! for LocalStack to get exactly the engine the functions run in production.

use std::sync::Arc;

use crm_core::ports::{Delivery, Ports};
use crm_core::system::{LogDelivery, SystemClock, TimeOrderedIds};
use crm_core::{Engine, EngineConfig};
use tracing_subscriber::EnvFilter;

use crate::{AwsError, AwsPorts};

/// Engine settings for AWS: outbox records reach the stage-change function
/// through the table's stream, so they are not also listed under one shared
/// partition key (which would cap the whole system's write rate). Runs are
/// not claimed before they are performed (issue #11: the claim was a
/// transaction rewriting the run record, 8 of a run's write units): the
/// commit, guarded by the run record's version and the item's visit, is what
/// makes the effect single; two concurrent deliveries of one job at worst
/// compute it twice, and one commit loses.
pub fn aws_engine_config() -> EngineConfig {
    EngineConfig {
        list_outbox: false,
        claim_runs: false,
        ..EngineConfig::default()
    }
}

/// The engine on `aws`'s store, queues and scheduler (messages to the log).
pub fn engine_on(aws: &AwsPorts) -> Engine {
    engine_with_delivery(aws, Arc::new(LogDelivery))
}

/// The engine on `aws`'s ports, handing messages to `delivery` (SES/SNS:
/// [`crate::senders::from_lookup`]).
pub fn engine_with_delivery(aws: &AwsPorts, delivery: Arc<dyn Delivery>) -> Engine {
    let ports = Ports {
        store: aws.store.clone(),
        jobs: aws.jobs.clone(),
        scheduler: aws.scheduler.clone(),
        events: aws.events.clone(),
        delivery,
        clock: Arc::new(SystemClock),
        ids: Arc::new(TimeOrderedIds),
        blobs: aws.blobs.clone(),
        http: Arc::new(crate::http_caller::ReqwestCaller::new()),
    };
    let config = EngineConfig {
        retention: aws.config.retention,
        ..aws_engine_config()
    };
    Engine::new(ports, config)
}

/// Build the engine from the environment ([`crate::Config::from_env`]:
/// `CRM_TABLE`, `CRM_ROBOT_QUEUE_URL`, …, `AWS_ENDPOINT_URL` for LocalStack).
pub async fn engine_from_env() -> Result<Engine, AwsError> {
    let aws = AwsPorts::from_env().await?;
    crate::http_caller::install_allow_list_from_env();
    tracing::info!(
        table = %aws.config.table,
        endpoint = aws.config.endpoint_url.as_deref().unwrap_or("aws"),
        "engine on AWS ports"
    );
    let sdk = aws.config.sdk_config().await;
    let delivery = crate::senders::from_lookup(&sdk, |k| std::env::var(k).ok());
    let engine = engine_with_delivery(&aws, Arc::new(delivery));
    // Tracked emails link to the API (issue #15): `CRM_PUBLIC_URL` is the
    // HTTP API's URL (infra/template.yaml) or the operator's domain.
    match std::env::var("CRM_PUBLIC_URL") {
        Ok(url) if !url.trim().is_empty() => engine.set_public_url(&url),
        _ => tracing::warn!("CRM_PUBLIC_URL is not set: emails are not tracked"),
    }
    set_inbound_domain_from_env(&engine);
    Ok(engine)
}

/// Incoming email (issue #15): `CRM_INBOUND_DOMAIN` (the template's
/// `InboundEmailDomain`; empty: off) is the domain of the tenants' inbound
/// addresses, which robots' emails to clients name as `Reply-To`.
pub fn set_inbound_domain_from_env(engine: &Engine) {
    if let Ok(domain) = std::env::var(INBOUND_DOMAIN_ENV)
        && !domain.trim().is_empty()
    {
        engine.set_inbound_domain(&domain);
    }
}

/// The environment variable of the inbound email domain.
pub const INBOUND_DOMAIN_ENV: &str = "CRM_INBOUND_DOMAIN";

/// The S3 client of the environment's configuration (path-style against an
/// emulator): what the trigger-eval function reads incoming mail with.
pub async fn s3_from_env() -> Result<aws_sdk_s3::Client, AwsError> {
    let config = crate::Config::from_env()?;
    let sdk = config.sdk_config().await;
    Ok(crate::blobs::S3Blobs::client(&sdk, &config))
}

/// JSON logs on stdout (one object per line, as CloudWatch expects), filtered
/// by `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`. Does nothing if a
/// subscriber is already installed.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .ok()
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .and_then(|level| EnvFilter::try_new(level.to_lowercase()).ok())
        })
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Lambda adds the timestamp to every line; ANSI colours would garble JSON.
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .with_env_filter(filter)
        .try_init();
}
