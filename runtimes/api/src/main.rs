//! `chimera-api`: serves the HTTP API (`[api]` of the configuration), or makes a token:
//! `chimera-api -c live.toml token create --role admin --name ops` prints a new token once.

use chimera_ports::Role;
use chimera_runtime::runtime::{shutdown_pair, wall_clock};
use chimera_runtime::{connect, connect_bus};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "chimera-api", about = "Chimera's HTTP API")]
struct Args {
    /// Configuration files (later ones override earlier ones; CHIMERA__* variables override all).
    #[arg(long = "config", short = 'c', required = true)]
    config: Vec<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Manage tokens directly in the database (for the first admin token).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Make a token and print it once.
    Create {
        /// viewer, trader or admin.
        #[arg(long)]
        role: String,
        /// A name for people.
        #[arg(long, default_value = "bootstrap")]
        name: String,
        /// Expire after this many days (default: never).
        #[arg(long)]
        ttl_days: Option<u64>,
    },
}

fn main() -> anyhow::Result<()> {
    chimera_runtime::memory::cap_malloc_arenas();
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = chimera_runtime::config::load(&args.config, std::env::vars(), None)?;
    match args.command {
        None | Some(Command::Serve) => chimera_api::run_api_process(&config).await,
        Some(Command::Token {
            action:
                TokenAction::Create {
                    role,
                    name,
                    ttl_days,
                },
        }) => {
            let Some(role) = Role::parse(&role) else {
                anyhow::bail!("role {role:?}: expected viewer, trader or admin");
            };
            let id = format!("api-token-{}", wall_clock().0);
            let (_trigger, shutdown) = shutdown_pair();
            let bus = connect_bus(&config, &id, false).await?;
            let rt = connect(&config, bus, &id, shutdown).await?;
            let ttl = ttl_days.map(|d| Duration::from_secs(d.saturating_mul(86_400)));
            let (bearer, record) = chimera_api::create_token(&rt, &name, role, ttl).await?;
            println!("{bearer}");
            eprintln!(
                "token {} ({}, {}) made; it is shown once: store it now",
                record.id,
                record.name,
                record.role.as_str()
            );
            Ok(())
        }
    }
}
