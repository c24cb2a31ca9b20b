//! `cms-admin`: the operator's CLI. It talks to the same table the functions
//! use (`--table` or `TABLE_NAME`), through the usual AWS credential chain;
//! `AWS_ENDPOINT_URL` points it at the local emulator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::admin;
use common::store::{DynamoStore, StoreError, TenantStore, schema};
use common::tenant::{DEFAULT_BURST, DEFAULT_RATE_PER_SECOND, IssuedToken, Tenant, TenantId};

#[derive(Parser)]
#[command(name = "cms-admin", version, about = "Coupon service operator CLI")]
struct Cli {
    /// The service's DynamoDB table.
    #[arg(long, env = "TABLE_NAME", global = true, default_value = "")]
    table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table (and optionally the export bucket) if missing: for local stacks.
    Setup {
        #[arg(long, env = "EXPORT_BUCKET")]
        bucket: Option<String>,
    },
    #[command(subcommand)]
    Tenant(TenantCommand),
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant and its first token; the token is the last line printed.
    Create {
        name: String,
        /// Tenant id (a-z, 0-9, '-'); random if not given.
        #[arg(long)]
        id: Option<String>,
        /// Requests per second the tenant's token bucket refills.
        #[arg(long, default_value_t = DEFAULT_RATE_PER_SECOND)]
        rate: u32,
        /// Bucket size: the burst allowed above the rate.
        #[arg(long, default_value_t = DEFAULT_BURST)]
        burst: u32,
        /// Use this secret as the token instead of a random one (local demo only).
        #[arg(long, env = "CMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Keep an existing tenant of that id instead of failing.
        #[arg(long)]
        exist_ok: bool,
    },
    /// Change a tenant's rate limit; warm functions apply it within 60 seconds.
    Update {
        id: String,
        /// Requests per second the tenant's token bucket refills.
        #[arg(long)]
        rate: u32,
        /// Bucket size: the burst allowed above the rate.
        #[arg(long)]
        burst: u32,
    },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue another token for a tenant; the token is the last line printed.
    Create { tenant: String },
    /// List a tenant's tokens (ids only: secrets are never stored).
    List { tenant: String },
    /// Revoke a token; warm functions stop accepting it within 60 seconds.
    Revoke { tenant: String, token_id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cms-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if cli.table.is_empty() {
        return Err("set --table or TABLE_NAME".into());
    }
    // The system's roots: an operator's machine may sit behind a
    // TLS-inspecting proxy, and the CLI's start-up time does not matter.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(common::app::https_client(common::app::TlsRoots::System))
        .load()
        .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &cli.table);
    match cli.command {
        Command::Setup { bucket } => {
            schema::create_table(store.client(), store.table())
                .await
                .map_err(|e| e.to_string())?;
            println!("table {} ready", store.table());
            if let Some(bucket) = bucket {
                create_bucket(&sdk, &bucket).await?;
                println!("bucket {bucket} ready");
            }
        }
        Command::Tenant(TenantCommand::Create {
            name,
            id,
            rate,
            burst,
            token,
            exist_ok,
        }) => {
            let id = id
                .map(|id| TenantId::parse(&id))
                .transpose()
                .map_err(|e| e.to_string())?;
            let tenant = Tenant {
                id: id.unwrap_or_else(TenantId::generate),
                name,
                rate_per_second: rate.max(1),
                burst: burst.max(1),
                created_at: common::dates::now(),
            };
            let tenant = admin::create_tenant(&store, tenant, exist_ok)
                .await
                .map_err(|e| e.to_string())?;
            let token = match token {
                Some(secret) => IssuedToken::with_secret(&secret).map_err(|e| e.to_string())?,
                None => IssuedToken::generate(),
            };
            let token = admin::issue_token(&store, &tenant.id, token)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "tenant {} ({}) rate {}/s burst {}",
                tenant.id, tenant.name, tenant.rate_per_second, tenant.burst
            );
            println!(
                "token id {} (the secret below is shown once)",
                token.token_id
            );
            println!("{}", token.secret);
        }
        Command::Tenant(TenantCommand::Update { id, rate, burst }) => {
            let id = TenantId::parse(&id).map_err(|e| e.to_string())?;
            if rate == 0 || burst == 0 {
                return Err("--rate and --burst must be at least 1".into());
            }
            let tenant =
                store
                    .update_tenant_limits(&id, rate, burst)
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound(_) => format!("no tenant {id}"),
                        e => e.to_string(),
                    })?;
            println!(
                "tenant {} rate {}/s burst {}",
                tenant.id, tenant.rate_per_second, tenant.burst
            );
        }
        Command::Tenant(TenantCommand::List) => {
            for t in store.list_tenants().await.map_err(|e| e.to_string())? {
                println!(
                    "{}\t{}\trate {}/s\tburst {}\tcreated {}",
                    t.id,
                    t.name,
                    t.rate_per_second,
                    t.burst,
                    t.created_at.to_rfc3339()
                );
            }
        }
        Command::Token(TokenCommand::Create { tenant }) => {
            let tenant = TenantId::parse(&tenant).map_err(|e| e.to_string())?;
            let token = admin::issue_token(&store, &tenant, IssuedToken::generate())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "token id {} (the secret below is shown once)",
                token.token_id
            );
            println!("{}", token.secret);
        }
        Command::Token(TokenCommand::List { tenant }) => {
            let tenant = TenantId::parse(&tenant).map_err(|e| e.to_string())?;
            for t in store
                .list_tokens(&tenant)
                .await
                .map_err(|e| e.to_string())?
            {
                let state = t.revoked_at.map_or("active".to_owned(), |at| {
                    format!("revoked {}", at.to_rfc3339())
                });
                println!(
                    "{}\tcreated {}\t{state}",
                    t.token_id,
                    t.created_at.to_rfc3339()
                );
            }
        }
        Command::Token(TokenCommand::Revoke { tenant, token_id }) => {
            let tenant = TenantId::parse(&tenant).map_err(|e| e.to_string())?;
            store
                .revoke_token(&tenant, &token_id, common::dates::now())
                .await
                .map_err(|e| e.to_string())?;
            println!("token {token_id} revoked");
        }
    }
    Ok(())
}

/// Creates the export bucket if missing. Path-style addressing, because the
/// local emulator serves buckets on one loopback port.
async fn create_bucket(sdk: &aws_config::SdkConfig, bucket: &str) -> Result<(), String> {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_sdk_s3::error::DisplayErrorContext(e).to_string()),
    }
}
