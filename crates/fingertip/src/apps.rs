//! `fingertip apps …`: the app registry (approved apps and the units that issued them).

use anyhow::Result;
use clap::Subcommand;
use fingertip_model::DataDir;
use fingertip_registry::{AppChanges, AppRecord, AppRegistry, IssuerLevel, TokenStore};

use crate::DataArgs;
use crate::admin::ListFormat;

#[derive(Subcommand, Debug)]
pub enum AppsCommand {
    /// Register an app and the unit that issued it; from the first registration on, only
    /// registered apps get app tokens.
    Register {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        app_id: String,
        /// The unit that issued the app and demands its use.
        #[arg(long)]
        issuer: String,
        #[arg(long, value_enum)]
        issuer_level: Option<LevelArg>,
        /// The name people know the app by (default: the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List registered apps, retired ones too.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Change an app's name, issuer or issuer level.
    Update {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        app_id: String,
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long, value_enum)]
        issuer_level: Option<LevelArg>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Retire an app (an empty shell, or shut down): its tokens are revoked and no new ones are
    /// made; its record and events stay.
    Retire {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        app_id: String,
    },
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum LevelArg {
    National,
    Province,
    City,
    County,
    Township,
}

impl From<LevelArg> for IssuerLevel {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::National => Self::National,
            LevelArg::Province => Self::Province,
            LevelArg::City => Self::City,
            LevelArg::County => Self::County,
            LevelArg::Township => Self::Township,
        }
    }
}

pub fn run(cmd: AppsCommand) -> Result<()> {
    let actor = actor();
    match cmd {
        AppsCommand::Register {
            data,
            app_id,
            issuer,
            issuer_level,
            name,
        } => {
            let level = issuer_level.map(IssuerLevel::from);
            let app = registry(&data).register(&app_id, &issuer, level, name.as_deref(), &actor)?;
            println!("registered {}", describe(&app));
        }
        AppsCommand::List { data, format } => {
            let apps = registry(&data).list()?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&apps)?),
                ListFormat::Table => print_table(&apps),
            }
        }
        AppsCommand::Update {
            data,
            app_id,
            issuer,
            issuer_level,
            name,
        } => {
            let changes = AppChanges {
                name,
                issuer,
                issuer_level: issuer_level.map(IssuerLevel::from),
            };
            let app = registry(&data).update(&app_id, changes, &actor)?;
            println!("updated {}", describe(&app));
        }
        AppsCommand::Retire { data, app_id } => {
            let app = registry(&data).retire(&app_id, &actor)?;
            println!("retired {}", describe(&app));
            let tokens = TokenStore::open(&data.data)?;
            for t in tokens.list()? {
                if t.app_id.as_deref() == Some(app_id.as_str()) && t.revoked_at.is_none() {
                    tokens.revoke(&t.id)?;
                    println!("revoked its token {}", t.id);
                }
            }
        }
    }
    Ok(())
}

fn registry(data: &DataArgs) -> AppRegistry {
    AppRegistry::open(&DataDir::new(&data.data))
}

/// Who the audit log names: `cli:$USER`.
fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

fn describe(app: &AppRecord) -> String {
    let level = app
        .issuer_level
        .map(|l| format!(", {}", l.as_str()))
        .unwrap_or_default();
    format!(
        "{} ({}), issued by {}{level}",
        app.app_id, app.name, app.issuer
    )
}

fn print_table(apps: &[AppRecord]) {
    println!(
        "{:<20} {:<24} {:<32} {:<10} state",
        "app_id", "name", "issuer", "level"
    );
    for a in apps {
        let level = a.issuer_level.map(|l| l.as_str()).unwrap_or("");
        let state = a
            .retired_at
            .as_ref()
            .map(|r| format!("retired {r}"))
            .unwrap_or_else(|| "active".into());
        println!(
            "{:<20} {:<24} {:<32} {level:<10} {state}",
            a.app_id, a.name, a.issuer
        );
    }
}
