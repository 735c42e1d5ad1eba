//! `crm-automation serve`: the local one-process server; `crm-automation aws
//! redrive`: a dead-letter queue moved back to its queue.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use crm_automation::cli::{Cli, Command};
use crm_automation::keys::{ADMIN_KEY_ENV, API_KEYS_ENV, KeySource};
use crm_automation::redrive_command::AwsCommand;
use crm_automation::{ClockMode, ServeConfig, Server, demo};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Aws(AwsCommand::Redrive(args)) => {
            return run_async(crm_automation::redrive_command::run(args));
        }
    };
    let mut config = args.into_config(std::env::var(API_KEYS_ENV).ok());
    config.admin_key = std::env::var(ADMIN_KEY_ENV).ok();
    if config.start_at.is_some() && config.clock == ClockMode::System {
        tracing::warn!("--start-at only applies to --clock manual; ignored");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "crm-automation failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run a one-shot subcommand on a fresh async runtime; its error is printed.
fn run_async<T, E: std::fmt::Display>(
    work: impl std::future::Future<Output = Result<T, E>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Start, print the banner, serve until SIGTERM or Ctrl-C, shut down.
async fn serve(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(config).await?;
    print_banner(&server);
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(())
}

fn print_banner(server: &Server) {
    let c = &server.config;
    println!("crm-automation listening on {}", server.base_url());
    println!("  data:  {}", c.data.display());
    match c.clock {
        ClockMode::System => println!("  clock: system"),
        ClockMode::Manual => println!(
            "  clock: manual, now {} (POST /v1/clock/advance with the admin key moves it)",
            server.runtime.now().to_rfc3339()
        ),
    }
    match &server.keys.source {
        KeySource::Env => println!("  API keys: {} from {API_KEYS_ENV}", server.keys.keys.len()),
        KeySource::Generated(path) => println!(
            "  API key (tenant '{}'): {}  (generated, saved in {})",
            server.keys.tenant,
            server.keys.key,
            path.display()
        ),
        KeySource::Stored(path) => println!(
            "  API key (tenant '{}'): in {}",
            server.keys.tenant,
            path.display()
        ),
    }
    // Keys go to stdout for the user, never to the log.
    match &server.admin.source {
        KeySource::Env => println!("  admin key: from {ADMIN_KEY_ENV}"),
        KeySource::Generated(path) => println!(
            "  admin key (moves the manual clock): {}  (generated, saved in {})",
            server.admin.key,
            path.display()
        ),
        KeySource::Stored(path) => println!("  admin key: in {}", path.display()),
    }
    if let Some(d) = &server.demo {
        println!(
            "  demo: {} robots and {} trigger(s) on pipeline '{}'{}",
            d.robots,
            d.triggers,
            demo::PIPELINE,
            if d.automation_created {
                ""
            } else {
                " (already loaded)"
            }
        );
        // A generated key is printed once, when it is generated; later the
        // hints read it from its file.
        let key = shown(&server.keys.source, &server.keys.key);
        let admin = shown(&server.admin.source, &server.admin.key);
        println!(
            "{}",
            demo::what_to_try(
                &server.base_url(),
                &key,
                (c.clock == ClockMode::Manual).then_some(admin.as_str())
            )
        );
    }
}

/// How the walk-through names a key: itself when it was just generated (or
/// given in the environment), `$(cat <file>)` when it was stored earlier.
fn shown(source: &KeySource, key: &str) -> String {
    match source {
        KeySource::Env | KeySource::Generated(_) => key.to_string(),
        KeySource::Stored(path) => format!("$(cat '{}')", path.display()),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
