//! `fingertip token …` and `fingertip keys …`.

use anyhow::{Result, bail};
use clap::Subcommand;
use fingertip_anonymize::KeyStore;
use fingertip_model::DataDir;
use fingertip_registry::{AppRegistry, Role, TokenStore};

use crate::DataArgs;
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token; it is printed once, as the last line of stdout, and only its hash is kept.
    Create {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The app an app token sends events for.
        #[arg(long)]
        app_id: Option<String>,
        /// A note for people (who holds the token).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Revoke a token by id; a running server stops accepting it within a second.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        id: String,
    },
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum RoleArg {
    App,
    Researcher,
    Oversight,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List key epochs and their state.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Destroy one epoch's key now, or every key past its grace period.
    Destroy {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, conflicts_with = "expired")]
        epoch: Option<String>,
        #[arg(long)]
        expired: bool,
    },
}

pub fn token(cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create {
            data,
            role,
            app_id,
            label,
        } => {
            let role = match role {
                RoleArg::App => Role::App,
                RoleArg::Researcher => Role::Researcher,
                RoleArg::Oversight => Role::Oversight,
            };
            if let (Role::App, Some(app)) = (role, &app_id) {
                AppRegistry::open(&DataDir::new(&data.data)).admits(app)?;
            }
            let (record, token) =
                TokenStore::open(&data.data)?.create(role, app_id.as_deref(), &label)?;
            println!(
                "created {} token {}{}",
                role.as_str(),
                record.id,
                record
                    .app_id
                    .map(|a| format!(" for app {a}"))
                    .unwrap_or_default()
            );
            println!("store it now: it is not shown again");
            println!("{token}");
        }
        TokenCommand::List { data, format } => {
            let tokens = TokenStore::open(&data.data)?.list()?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&tokens)?),
                ListFormat::Table => {
                    println!(
                        "{:<10} {:<11} {:<20} {:<22} state",
                        "id", "role", "app_id", "created_at"
                    );
                    for t in tokens {
                        let state = t
                            .revoked_at
                            .map(|r| format!("revoked {r}"))
                            .unwrap_or_else(|| "active".into());
                        println!(
                            "{:<10} {:<11} {:<20} {:<22} {state}",
                            t.id,
                            t.role.as_str(),
                            t.app_id.unwrap_or_default(),
                            t.created_at
                        );
                    }
                }
            }
        }
        TokenCommand::Revoke { data, id } => {
            let record = TokenStore::open(&data.data)?.revoke(&id)?;
            println!("revoked token {} ({})", record.id, record.role.as_str());
        }
    }
    Ok(())
}

pub fn keys(cmd: KeysCommand) -> Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    match cmd {
        KeysCommand::List { data, format } => {
            let config = Config::load(&data.data, data.config.as_deref())?;
            let keys = KeyStore::open(&data.data, config.keys)?.list(now)?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&keys)?),
                ListFormat::Table => {
                    println!("{:<10} {:<10} destroy_after", "epoch", "state");
                    for k in keys {
                        println!(
                            "{:<10} {:<10} {}",
                            k.epoch,
                            format!("{:?}", k.state).to_lowercase(),
                            fingertip_model::format_rfc3339_ms(k.destroy_after_ms)
                        );
                    }
                }
            }
        }
        KeysCommand::Destroy {
            data,
            epoch,
            expired,
        } => {
            let config = Config::load(&data.data, data.config.as_deref())?;
            let store = KeyStore::open(&data.data, config.keys)?;
            match (epoch, expired) {
                (Some(e), _) => {
                    store.destroy(&e)?;
                    println!("destroyed the key of epoch {e}");
                }
                (None, true) => println!("destroyed: {:?}", store.destroy_expired(now)?),
                (None, false) => bail!("say which key: --epoch EPOCH or --expired"),
            }
        }
    }
    Ok(())
}
