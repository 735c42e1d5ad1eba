//! The command line: `crm-automation serve [options]`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use crm_core::retention::{
    DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, Retention,
};
use crm_http::ThrottleConfig;

use crate::clock::ClockMode;
use crate::server::{Limits, ServeConfig};

/// The CRM robots-and-triggers engine in one process: the HTTP API, the
/// workers and an embedded, durable store.
#[derive(Debug, Parser)]
#[command(name = "crm-automation", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and run robots and triggers.
    Serve(ServeArgs),
    /// Add, list and revoke API keys (stored hashed) locally or on AWS.
    Keys(crate::keys_command::KeysArgs),
    /// Operations on the AWS deployment (e.g. `aws redrive`).
    #[command(subcommand)]
    Aws(crate::redrive_command::AwsCommand),
}

/// Clock choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    /// Real time.
    System,
    /// Time stands still and moves only by `POST /v1/clock/advance`.
    Manual,
}

impl From<ClockArg> for ClockMode {
    fn from(c: ClockArg) -> Self {
        match c {
            ClockArg::System => ClockMode::System,
            ClockArg::Manual => ClockMode::Manual,
        }
    }
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Data directory: the database and the generated API key.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Clock: real time, or a manual clock moved through the API.
    #[arg(long, value_enum, default_value_t = ClockArg::System)]
    pub clock: ClockArg,
    /// Start time of the manual clock (RFC 3339; default: now).
    #[arg(long, value_parser = parse_rfc3339)]
    pub start_at: Option<DateTime<Utc>>,
    /// Load the demo pipeline and print what to try.
    #[arg(long)]
    pub demo: bool,
    /// Seconds a client has to send a request's headers; also how long an
    /// idle kept-alive connection stays open.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
    /// Seconds to wait for the next piece of a request body (then 408).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_secs: u64,
    /// Connections served at once (more are answered 503).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Requests per second each tenant may send (token bucket; over it: 429
    /// with Retry-After). 0 turns the limit off.
    #[arg(long, default_value_t = ThrottleConfig::DEFAULT.rate)]
    pub tenant_rate: u32,
    /// Requests a tenant may send at once after being idle.
    #[arg(long, default_value_t = ThrottleConfig::DEFAULT.burst)]
    pub tenant_burst: u32,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Receive incoming email by SMTP on this address, e.g.
    /// `127.0.0.1:2525` (default: `CRM_SMTP_LISTEN`; unset: off).
    #[arg(long)]
    pub smtp_listen: Option<String>,
    /// The domain of the tenants' inbound addresses, where clients' replies
    /// go (default: `CRM_INBOUND_DOMAIN`; with --smtp-listen and without
    /// it, the domain of `CRM_MAIL_FROM`).
    #[arg(long)]
    pub inbound_domain: Option<String>,
    /// Days a finished run record (done, skipped, cancelled, failed) is kept
    /// in the run log before the hourly purge deletes it (30 to 3650; the
    /// minimum outlasts every redelivery window).
    #[arg(long, default_value_t = DEFAULT_RETENTION_DAYS,
        value_parser = clap::value_parser!(i64).range(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS))]
    pub run_retention_days: i64,
    /// Days a sent or failed outbound message (email, SMS…) is kept (30 to 3650).
    #[arg(long, default_value_t = DEFAULT_RETENTION_DAYS,
        value_parser = clap::value_parser!(i64).range(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS))]
    pub message_retention_days: i64,
}

impl ServeArgs {
    /// The server configuration; `api_keys` is the value of `CRM_API_KEYS`.
    pub fn into_config(self, api_keys: Option<String>) -> ServeConfig {
        ServeConfig {
            addr: self.addr,
            data: self.data,
            clock: self.clock.into(),
            start_at: self.start_at,
            demo: self.demo,
            api_keys,
            admin_key: None,
            limits: Limits {
                header_read_timeout: Duration::from_secs(self.header_timeout_secs),
                body_timeout: Duration::from_secs(self.body_timeout_secs),
                max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            },
            throttle: ThrottleConfig {
                rate: self.tenant_rate,
                burst: self.tenant_burst,
            },
            tls: match (self.tls_cert, self.tls_key) {
                (Some(cert), Some(key)) => Some(crate::tls::TlsFiles { cert, key }),
                _ => None,
            },
            smtp_listen: self.smtp_listen.or_else(|| env_set(SMTP_LISTEN_ENV)),
            inbound_domain: self.inbound_domain.or_else(|| env_set(INBOUND_DOMAIN_ENV)),
            retention: Retention {
                runs: chrono::Duration::days(self.run_retention_days),
                messages: chrono::Duration::days(self.message_retention_days),
            },
        }
    }
}

/// The address of the SMTP listener for incoming email.
pub const SMTP_LISTEN_ENV: &str = "CRM_SMTP_LISTEN";
/// The domain of the tenants' inbound addresses.
pub const INBOUND_DOMAIN_ENV: &str = "CRM_INBOUND_DOMAIN";

/// An environment variable's value, when set and not blank.
fn env_set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Parse an RFC 3339 time with an offset.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-11-23T08:44:00Z: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_serve_with_defaults() {
        let cli = Cli::try_parse_from(["crm-automation", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let c = args.into_config(None);
        assert_eq!(c.addr, "127.0.0.1:8080");
        assert_eq!(c.data, PathBuf::from("./data"));
        assert_eq!(c.clock, ClockMode::System);
        assert!(c.start_at.is_none() && !c.demo);
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.throttle, ThrottleConfig::DEFAULT);
        assert_eq!(c.retention, Retention::default());
    }

    #[test]
    fn retention_is_set_in_days_and_never_below_the_redelivery_windows() {
        let parse = |extra: &[&str]| {
            let mut all = vec!["crm-automation", "serve"];
            all.extend_from_slice(extra);
            Cli::try_parse_from(all).map(|cli| match cli.command {
                Command::Serve(args) => args.into_config(None).retention,
                other => panic!("{other:?}"),
            })
        };
        let r = parse(&[
            "--run-retention-days",
            "30",
            "--message-retention-days",
            "90",
        ])
        .unwrap();
        assert_eq!(r, Retention::days(30, 90).unwrap());
        let e = parse(&["--run-retention-days", "7"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--run-retention-days") && e.contains("30..=3650"),
            "{e}"
        );
        assert!(parse(&["--message-retention-days", "4000"]).is_err());
    }

    #[test]
    fn parses_the_key_commands() {
        use crate::keys_command::KeysAction;
        let parse = |args: &[&str]| {
            let mut all = vec!["crm-automation", "keys"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).map(|c| c.command) {
                Ok(Command::Keys(k)) => Ok(k),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e),
            }
        };
        let add = parse(&["add", "--tenant", "acme", "--label", "ci", "--data", "/d"]).unwrap();
        assert_eq!(add.store.data, Some(PathBuf::from("/d")));
        assert!(matches!(add.action, KeysAction::Add { admin: false, .. }));
        let list = parse(&["--aws", "--table", "t", "list"]).unwrap();
        assert!(list.store.aws && list.store.table.as_deref() == Some("t"));
        assert!(parse(&["revoke", "key-1"]).is_ok());
        assert!(parse(&["add", "--admin", "--label", "ops"]).is_ok());
        for bad in [
            &["add", "--label", "ci"][..],
            &["list", "--aws"],
            &["list", "--table", "t"],
            &["list", "--aws", "--table", "t", "--data", "d"],
            &["add", "--admin", "--tenant", "a", "--label", "x"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_every_option() {
        let cli = Cli::try_parse_from([
            "crm-automation",
            "serve",
            "--addr",
            "0.0.0.0:9000",
            "--data",
            "/tmp/x",
            "--clock",
            "manual",
            "--start-at",
            "2026-11-23T11:44:00+03:00",
            "--demo",
            "--header-timeout-secs",
            "5",
            "--body-timeout-secs",
            "7",
            "--max-connections",
            "10",
            "--tenant-rate",
            "0",
            "--tenant-burst",
            "7",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let c = args.into_config(Some("a:b".into()));
        assert_eq!(c.clock, ClockMode::Manual);
        assert_eq!(
            c.start_at.unwrap().to_rfc3339(),
            "2026-11-23T08:44:00+00:00"
        );
        assert!(c.demo);
        assert_eq!(c.api_keys.as_deref(), Some("a:b"));
        assert_eq!(c.limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(c.limits.body_timeout, Duration::from_secs(7));
        assert_eq!(c.limits.max_connections, 10);
        assert_eq!(c.throttle, ThrottleConfig { rate: 0, burst: 7 });
    }

    #[test]
    fn rejects_bad_values() {
        for args in [
            vec!["crm-automation", "serve", "--clock", "wall"],
            vec!["crm-automation", "serve", "--start-at", "yesterday"],
            vec!["crm-automation"],
            vec!["crm-automation", "serve", "--max-connections", "0"],
        ] {
            assert!(Cli::try_parse_from(args).is_err());
        }
    }
}
