//! What the Redis adapter's tests share: a config for the real Redis the test command starts.

use chimera_redis::{RedisConfig, StreamRoute};

/// A config on `CHIMERA_REDIS_URL` with a key prefix of this test's own (`test` and the
/// process and time, so runs never meet); `None`, saying so, when the variable is unset.
pub(crate) fn config(test: &str) -> Option<RedisConfig> {
    let Ok(url) = std::env::var("CHIMERA_REDIS_URL") else {
        println!("skipped: CHIMERA_REDIS_URL is not set (run scripts/test.sh)");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Some(RedisConfig {
        url,
        key_prefix: format!("test:{test}:{}:{nanos}:", std::process::id()),
        stream_max_len: None,
        streams: Vec::new(),
    })
}

/// [`config`], with `topic` spread over one stream per key (`stream`, with `<key>`).
#[allow(
    dead_code,
    reason = "each test binary compiles this module; not all of them route"
)]
pub(crate) fn config_routed(test: &str, topic: &str, stream: &str) -> Option<RedisConfig> {
    let mut config = config(test)?;
    config.streams = vec![StreamRoute {
        topic: topic.into(),
        key: None,
        stream: stream.into(),
    }];
    Some(config)
}
