//! `crm-automation serve`: the local one-process server; `crm-automation aws
//! redrive`: a dead-letter queue moved back to its queue.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use crm_automation::cli::{Cli, Command};
use crm_automation::keys::{ADMIN_KEY_ENV, API_KEYS_ENV, KeySource};
use crm_automation::keys_command;
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
        Command::Keys(args) => {
            return run_async(async {
                let (mut out, mut note) = (std::io::stdout(), std::io::stderr());
                keys_command::run(args, &mut out, &mut note).await
            });
        }
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
    println!("  email: {}", server.senders.email);
    println!("  sms:   {}", server.senders.sms);
    if let Some(smtp) = &server.smtp {
        println!("  incoming email: SMTP on {}", smtp.addr);
    }
    match c.clock {
        ClockMode::System => println!("  clock: system"),
        ClockMode::Manual => println!(
            "  clock: manual, now {} (POST /v1/clock/advance with the admin key moves it)",
            server.runtime.now().to_rfc3339()
        ),
    }
    // Keys go to stdout for the user, never to the log.
    match (&server.keys.source, &server.keys.key) {
        (KeySource::Env, _) => println!(
            "  API keys: {} from {API_KEYS_ENV} (and any in the key store)",
            server.keys.keys.len()
        ),
        (_, Some(key)) => println!(
            "  API key (tenant '{}'): {key}  ({}; stored hashed, shown only now)",
            server.keys.tenant,
            origin(&server.keys.source)
        ),
        (_, None) => println!(
            "  API keys: stored hashed in {} (shown once, when made; `crm-automation keys add` makes another)",
            c.data.join(crm_embedded::DB_FILE).display()
        ),
    }
    match (&server.admin.source, &server.admin.key) {
        (KeySource::Env, _) => println!("  admin key: from {ADMIN_KEY_ENV}"),
        (_, Some(key)) => println!(
            "  admin key (moves the manual clock): {key}  ({}; stored hashed, shown only now)",
            origin(&server.admin.source)
        ),
        (_, None) => {
            println!("  admin key: stored hashed (`crm-automation keys add --admin` makes another)")
        }
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
        // A key is printed once, when it is made; later the walk-through
        // makes a new one with `keys add`.
        let key = shown(
            server.keys.key.as_deref(),
            &c.data,
            &format!("--tenant '{}'", server.keys.tenant),
        );
        let admin = shown(server.admin.key.as_deref(), &c.data, "--admin");
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

/// How the banner says where a key shown now came from.
fn origin(source: &KeySource) -> String {
    match source {
        KeySource::Migrated(path) => format!("moved from {} (deleted)", path.display()),
        _ => "generated".to_string(),
    }
}

/// How the walk-through names a key: itself when it is known now, otherwise
/// a command that makes a new one (`keys add` prints only the key).
fn shown(key: Option<&str>, data: &std::path::Path, whose: &str) -> String {
    match key {
        Some(key) => key.to_string(),
        None => {
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "crm-automation".into());
            format!(
                "$('{exe}' keys add --data '{}' {whose} --label walkthrough)",
                data.display()
            )
        }
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
