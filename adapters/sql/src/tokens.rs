//! The API's tokens (`api_tokens`).

use crate::{db_error, Db, SqlStore};
use async_trait::async_trait;
use chimera_kernel::time::Timestamp;
use chimera_ports::{ApiToken, PortError, PortResult, Role, TokenRepository};

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

const COLUMNS: &str = "id, name, role, secret_hash, created_by, created_at, expires_at, revoked_at";

fn token(row: Row) -> PortResult<ApiToken> {
    let (id, name, role, secret_hash, created_by, created_at, expires_at, revoked_at) = row;
    let Some(role) = Role::parse(&role) else {
        return Err(PortError::Codec {
            message: format!("token {id}: unknown role {role:?}"),
            bytes: role.into_bytes(),
        });
    };
    Ok(ApiToken {
        id,
        name,
        role,
        secret_hash,
        created_by,
        created_at: Timestamp(created_at),
        expires_at: expires_at.map(Timestamp),
        revoked_at: revoked_at.map(Timestamp),
    })
}

#[async_trait]
impl TokenRepository for SqlStore {
    async fn insert_token(&self, t: &ApiToken) -> PortResult<()> {
        let sql = format!(
            "INSERT INTO api_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO NOTHING"
        );
        let done = sqlx::query::<Db>(&sql)
            .bind(t.id.clone())
            .bind(t.name.clone())
            .bind(t.role.as_str())
            .bind(t.secret_hash.clone())
            .bind(t.created_by.clone())
            .bind(t.created_at.0)
            .bind(t.expires_at.map(|x| x.0))
            .bind(t.revoked_at.map(|x| x.0))
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("insert token", e))?;
        if done.rows_affected() == 0 {
            return Err(PortError::Conflict(format!("token {} exists", t.id)));
        }
        Ok(())
    }

    async fn get_token(&self, id: &str) -> PortResult<Option<ApiToken>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1");
        sqlx::query_as::<Db, Row>(&sql)
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("read token", e))?
            .map(token)
            .transpose()
    }

    async fn list_tokens(&self) -> PortResult<Vec<ApiToken>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id");
        sqlx::query_as::<Db, Row>(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error("list tokens", e))?
            .into_iter()
            .map(token)
            .collect()
    }

    async fn revoke_token(&self, id: &str, at: Timestamp) -> PortResult<bool> {
        let done = sqlx::query::<Db>(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.to_owned())
        .bind(at.0)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("revoke token", e))?;
        Ok(done.rows_affected() == 1)
    }
}
