//! The command line: `crm-automation serve [options]`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::clock::ClockMode;
use crate::server::ServeConfig;

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
        }
    }
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
        let Command::Serve(args) = cli.command;
        let c = args.into_config(None);
        assert_eq!(c.addr, "127.0.0.1:8080");
        assert_eq!(c.data, PathBuf::from("./data"));
        assert_eq!(c.clock, ClockMode::System);
        assert!(c.start_at.is_none() && !c.demo);
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
        ])
        .unwrap();
        let Command::Serve(args) = cli.command;
        let c = args.into_config(Some("a:b".into()));
        assert_eq!(c.clock, ClockMode::Manual);
        assert_eq!(
            c.start_at.unwrap().to_rfc3339(),
            "2026-11-23T08:44:00+00:00"
        );
        assert!(c.demo);
        assert_eq!(c.api_keys.as_deref(), Some("a:b"));
    }

    #[test]
    fn rejects_bad_values() {
        for args in [
            vec!["crm-automation", "serve", "--clock", "wall"],
            vec!["crm-automation", "serve", "--start-at", "yesterday"],
            vec!["crm-automation"],
        ] {
            assert!(Cli::try_parse_from(args).is_err());
        }
    }
}
