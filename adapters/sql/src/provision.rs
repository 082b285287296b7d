//! Creating databases: one per test, per environment or per tenant.

use crate::SqlAdapterError;
use sqlx::Connection;

/// Drops (if present) and creates PostgreSQL database `name` on the server `admin_url` points
/// at, and returns the URL of the new database. Tests use it to get a database of their own.
///
/// # Errors
/// [`SqlAdapterError::Connect`] when the server cannot be reached or refuses, and
/// [`SqlAdapterError::Config`] when `name` is not a plain identifier (`[a-z0-9_]`, ≤ 63 bytes)
/// or `admin_url` is not a PostgreSQL URL.
pub async fn recreate_postgres_database(
    admin_url: &str,
    name: &str,
) -> Result<String, SqlAdapterError> {
    let mut problems = Vec::new();
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        problems.push(format!("database name {name:?}: use 1 to 63 of [a-z0-9_]"));
    }
    let Some((server, _db)) = admin_url
        .strip_prefix("postgres://")
        .or_else(|| admin_url.strip_prefix("postgresql://"))
        .map(|rest| rest.rsplit_once('/').unwrap_or((rest, "")))
    else {
        problems.push(format!("admin url {admin_url:?}: not a postgres:// URL"));
        return Err(crate::SqlConfigError { problems }.into());
    };
    if !problems.is_empty() {
        return Err(crate::SqlConfigError { problems }.into());
    }
    let redacted = crate::SqlConfig::new(admin_url).redacted_url();
    let connect_error = |source| SqlAdapterError::Connect {
        url: redacted.clone(),
        source,
    };
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(connect_error)?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .map_err(connect_error)?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(connect_error)?;
    admin.close().await.map_err(connect_error)?;
    Ok(format!("postgres://{server}/{name}"))
}
