//! `crm-automation keys add|list|revoke`: the operator's API key commands,
//! against the local server's store (`--data DIR`, the SQLite database) or
//! the AWS one (`--aws --table NAME`, DynamoDB; region, endpoint and
//! credentials from the standard AWS environment).
//!
//! `add` prints the new key alone on stdout (so `KEY=$(crm-automation keys
//! add …)` works) and is the only time it is shown; the store keeps its
//! SHA-256 hash. `list` prints ids, tenants, labels and times, never a key
//! or a hash. A revoked key stops working within the servers' key cache TTL
//! (30 s).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use clap::{Args, Subcommand};
use crm_aws::DynamoApiKeys;
use crm_core::api_keys::{
    ADMIN_TENANT, ApiKeyRecord, ApiKeyStore, KeyFilter, KeyStoreError, NewKey, Role,
    validate_label, validate_tenant,
};
use crm_embedded::{DB_FILE, Db, EmbeddedError};

/// `keys` and its subcommands.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Which key store: the local data directory (default `./data`) or DynamoDB.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Data directory of the local server (its database holds the keys).
    #[arg(long, global = true, conflicts_with = "aws")]
    pub data: Option<PathBuf>,
    /// Use the keys table on AWS instead (needs `--table`).
    #[arg(long, global = true, requires = "table")]
    pub aws: bool,
    /// DynamoDB keys table (the stack's `KeysTableName` output).
    #[arg(long, global = true, requires = "aws")]
    pub table: Option<String>,
}

/// The key commands.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Make a key for a tenant and print it (once).
    Add {
        /// The tenant the key authenticates as.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        tenant: Option<String>,
        /// What the key is for (shown by `list`).
        #[arg(long)]
        label: String,
        /// An admin key (moves the local server's manual clock) instead.
        #[arg(long)]
        admin: bool,
        /// What the tenant key may do: `admin` (everything, the default) or
        /// `member` (items, tasks and events; no automation or directory
        /// changes).
        #[arg(long, default_value = "admin", value_parser = parse_role, conflicts_with = "admin")]
        role: Role,
    },
    /// List keys: id, tenant, label, role, created, revoked (never a key).
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
        /// Only keys with this label.
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke a key by id.
    Revoke {
        /// The key's id (from `add` or `list`).
        id: String,
    },
}

/// Failures of a key command.
#[derive(Debug, thiserror::Error)]
pub enum KeysCommandError {
    /// A bad tenant or label.
    #[error("{0}")]
    Invalid(String),
    /// The data directory has no database.
    #[error("no database in {path} (start the server once, or pass --data)", path = .0.display())]
    NoDatabase(PathBuf),
    /// The local database could not be opened.
    #[error(transparent)]
    Open(#[from] EmbeddedError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    /// Writing the output failed.
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

/// Run the command: results on `out`, notes for the operator on `note`.
pub async fn run(
    args: KeysArgs,
    out: &mut dyn Write,
    note: &mut dyn Write,
) -> Result<(), KeysCommandError> {
    let creates = matches!(args.action, KeysAction::Add { .. });
    let store = open(&args.store, creates).await?;
    match args.action {
        KeysAction::Add {
            tenant,
            label,
            admin,
            role,
        } => {
            let tenant = if admin {
                ADMIN_TENANT.to_string()
            } else {
                let tenant = tenant.unwrap_or_default();
                validate_tenant(&tenant).map_err(KeysCommandError::Invalid)?;
                tenant
            };
            validate_label(&label).map_err(KeysCommandError::Invalid)?;
            let key = NewKey::generate(&tenant, &label, Utc::now())
                .map_err(KeysCommandError::Invalid)?
                .with_role(role);
            store.add(&key.record).await?;
            writeln!(out, "{}", key.secret)?;
            let role = if admin {
                String::new()
            } else {
                format!(", role {role}")
            };
            writeln!(
                note,
                "added key {} for {} (label '{label}'{role}); this is the only time it is shown",
                key.record.id,
                who(&tenant)
            )?;
        }
        KeysAction::List { tenant, label } => {
            let keys = store.list(&KeyFilter { tenant, label }).await?;
            write_list(out, &keys)?;
        }
        KeysAction::Revoke { id } => {
            let record = store.revoke(&id, Utc::now()).await?;
            writeln!(
                out,
                "revoked {} ({}, label '{}') at {}",
                record.id,
                who(&record.tenant),
                record.label,
                time(record.revoked_at)
            )?;
            writeln!(
                note,
                "running servers stop accepting it within their key cache TTL (30 s)"
            )?;
        }
    }
    Ok(())
}

/// The store the arguments name. `creates`: a missing data directory is
/// created (for `add`); otherwise it is an error.
async fn open(args: &StoreArgs, creates: bool) -> Result<Arc<dyn ApiKeyStore>, KeysCommandError> {
    if args.aws {
        let table = args.table.clone().unwrap_or_default();
        let client = DynamoApiKeys::client_from_env().await;
        return Ok(Arc::new(DynamoApiKeys::new(client, table)));
    }
    let dir = args.data.clone().unwrap_or_else(|| PathBuf::from("./data"));
    if !creates && !dir.join(DB_FILE).exists() {
        return Err(KeysCommandError::NoDatabase(dir));
    }
    Ok(Arc::new(Db::open(&dir)?.api_keys()?))
}

/// `--role`: `admin` or `member`.
fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role '{s}' (admin or member)"))
}

fn who(tenant: &str) -> String {
    if tenant == ADMIN_TENANT {
        "the admin".to_string()
    } else {
        format!("tenant '{tenant}'")
    }
}

fn time(t: Option<chrono::DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// One line per key, columns aligned; no key and no hash.
fn write_list(out: &mut dyn Write, keys: &[ApiKeyRecord]) -> std::io::Result<()> {
    let rows: Vec<[String; 6]> = keys
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                k.tenant.clone(),
                k.label.clone(),
                if k.tenant == ADMIN_TENANT {
                    "operator".to_string()
                } else {
                    k.role.to_string()
                },
                time(Some(k.created_at)),
                time(k.revoked_at),
            ]
        })
        .collect();
    let header = ["ID", "TENANT", "LABEL", "ROLE", "CREATED", "REVOKED"].map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}
