//! Removing what a test or a bench run left in Redis: every key under its prefix. Shared by
//! the end-to-end tests (`support`) and the `live_pipeline` bench (`#[path]`).

/// Unlinks every key starting with `prefix`, found with `SCAN` rather than `KEYS` so the server
/// stays responsive whatever else it holds.
///
/// # Errors
/// The server could not be reached or refused a command.
pub(crate) async fn remove_keys(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut redis = client.get_multiplexed_async_connection().await?;
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0_u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1_000)
            .query_async(&mut redis)
            .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    for chunk in keys.chunks(500) {
        redis::cmd("UNLINK")
            .arg(chunk)
            .query_async::<()>(&mut redis)
            .await?;
    }
    Ok(())
}
