//! [`RestClient`]: Binance's REST API for one product and host. Every request passes the
//! host's [`RateLimits`] first (waiting for a full window, refusing during a ban), signed
//! requests carry `timestamp` (local clock plus the measured server offset) and `recvWindow`,
//! and every response's headers update the limits. A `-1021` (timestamp outside the window)
//! re-measures the offset and tries once more: Binance did not execute that request.
//!
//! Parameters are sent in the query string for every method, so the signed bytes are exactly
//! the sent bytes.

use crate::error::{ApiError, BinanceError};
use crate::limits::{Admission, RateLimitSpec, RateLimits};
use crate::secret::Secret;
use crate::sign::{Params, Signer};
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The local wall clock, epoch ms.
pub fn local_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An account's credentials: the key header and how to sign.
#[derive(Debug)]
pub struct Credentials {
    /// `X-MBX-APIKEY`.
    pub api_key: Secret,
    /// The signer.
    pub signer: Signer,
}

/// Validates `config`, reads every account's keys and makes their signers: for each account,
/// the portfolios it trades for and its credentials, in config order.
///
/// # Errors
/// [`BinanceError::Unsupported`] listing the config's problems, an unreadable key, or a key
/// that does not sign.
pub fn account_credentials(
    config: &crate::config::BinanceConfig,
) -> Result<Vec<(Vec<String>, Credentials)>, BinanceError> {
    config
        .validate()
        .map_err(|e| BinanceError::Unsupported(e.to_string()))?;
    let keys = config
        .load_keys()
        .map_err(|e| BinanceError::Unsupported(e.to_string()))?;
    keys.into_iter()
        .enumerate()
        .map(|(i, k)| {
            let signer = Signer::new(k.key_type, &k.secret)
                .map_err(|e| BinanceError::Unsupported(format!("accounts[{i}]: {e}")))?;
            let creds = Credentials {
                api_key: k.api_key,
                signer,
            };
            Ok((k.portfolios, creds))
        })
        .collect()
}

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

/// How a request is authenticated.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// Public market data.
    None,
    /// The API key header only (listenKey management).
    Key(&'a Credentials),
    /// Key header, timestamp, recvWindow and signature.
    Signed(&'a Credentials),
}

/// What one request costs against the limits.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Request weight.
    pub weight: u64,
    /// Orders placed.
    pub orders: u64,
}

impl Cost {
    /// A request of `weight` that places no order.
    pub const fn weight(weight: u64) -> Self {
        Self { weight, orders: 0 }
    }

    /// An order placement of `weight`.
    pub const fn order(weight: u64) -> Self {
        Self { weight, orders: 1 }
    }
}

/// The longest a request waits for a full window before giving up as transient.
const MAX_LIMIT_WAIT_MS: i64 = 10_000;

/// A REST client for one host.
#[derive(Debug)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    time_path: &'static str,
    limits: Mutex<RateLimits>,
    offset_ms: AtomicI64,
    recv_window_ms: u64,
}

impl RestClient {
    /// A client for `base` (e.g. `https://fapi.binance.com`) whose server-time endpoint is
    /// `time_path` (`/api/v3/time`, `/fapi/v1/time`).
    ///
    /// # Errors
    /// [`BinanceError::Unsupported`] when the HTTP client cannot be built (TLS roots).
    pub fn new(
        base: &str,
        time_path: &'static str,
        recv_window_ms: u64,
        timeout: Duration,
    ) -> Result<Self, BinanceError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| BinanceError::Unsupported(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            time_path,
            limits: Mutex::new(RateLimits::default()),
            offset_ms: AtomicI64::new(0),
            recv_window_ms,
        })
    }

    /// Binance's clock as we estimate it, epoch ms.
    pub fn server_now(&self) -> i64 {
        local_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// The signed requests' `recvWindow`, ms.
    pub fn recv_window_ms(&self) -> u64 {
        self.recv_window_ms
    }

    /// Sets the limits from exchangeInfo's `rateLimits`.
    pub fn set_limits(&self, specs: &[RateLimitSpec]) {
        self.lock_limits().update_specs(specs);
    }

    /// The ban in force, if any: `(until epoch ms, status)`.
    pub fn banned(&self) -> Option<(i64, u16)> {
        self.lock_limits().banned(local_ms())
    }

    /// Window usage `(kind, interval, used, limit)`.
    pub fn usage(&self) -> Vec<(crate::limits::LimitKind, String, u64, u64)> {
        self.lock_limits().usage()
    }

    fn lock_limits(&self) -> std::sync::MutexGuard<'_, RateLimits> {
        self.limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Measures the server-time offset (half the round trip assumed each way).
    ///
    /// # Errors
    /// The time request failed.
    pub async fn sync_time(&self) -> Result<i64, BinanceError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Time {
            server_time: i64,
        }
        let before = local_ms();
        let body = self
            .send(
                Method::Get,
                self.time_path,
                &Params::new(),
                Auth::None,
                Cost::weight(1),
            )
            .await?;
        let time: Time = serde_json::from_slice(&body).map_err(|e| BinanceError::Decode {
            operation: self.time_path.to_owned(),
            message: e.to_string(),
            body,
        })?;
        let after = local_ms();
        let offset = time.server_time - i64::midpoint(before, after);
        self.offset_ms.store(offset, Ordering::Relaxed);
        Ok(offset)
    }

    /// Calls `path` and decodes the JSON answer.
    ///
    /// # Errors
    /// See [`BinanceError`]; [`BinanceError::outcome_unknown`] tells whether a state-changing
    /// call may have taken effect.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: Params,
        auth: Auth<'_>,
        cost: Cost,
    ) -> Result<T, BinanceError> {
        let body = match self.send(method, path, &params, auth, cost).await {
            Err(e) if e.code() == Some(-1021) && matches!(auth, Auth::Signed(_)) => {
                // Timestamp outside recvWindow: not executed. Re-measure and try once more.
                self.sync_time().await?;
                self.send(method, path, &params, auth, cost).await?
            }
            other => other?,
        };
        serde_json::from_slice(&body).map_err(|e| BinanceError::Decode {
            operation: path.to_owned(),
            message: e.to_string(),
            body,
        })
    }

    async fn admit(&self, path: &str, cost: Cost) -> Result<(), BinanceError> {
        loop {
            let now = local_ms();
            let admission = self.lock_limits().admit(cost.weight, cost.orders, now);
            match admission {
                Admission::Go => return Ok(()),
                Admission::Banned { until_ms, status } => {
                    return Err(BinanceError::RateLimited {
                        operation: path.to_owned(),
                        status,
                        until_ms,
                    })
                }
                Admission::WaitUntil(until) if until - now <= MAX_LIMIT_WAIT_MS => {
                    tracing::debug!(
                        path,
                        wait_ms = until - now,
                        "rate-limit window full: waiting"
                    );
                    tokio::time::sleep(Duration::from_millis(
                        u64::try_from(until - now).unwrap_or(0) + 1,
                    ))
                    .await;
                }
                Admission::WaitUntil(until) => {
                    return Err(BinanceError::RateLimited {
                        operation: path.to_owned(),
                        status: 0,
                        until_ms: until,
                    })
                }
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        params: &Params,
        auth: Auth<'_>,
        cost: Cost,
    ) -> Result<Vec<u8>, BinanceError> {
        self.admit(path, cost).await?;
        let query = match auth {
            Auth::Signed(creds) => {
                let params = params
                    .clone()
                    .with("recvWindow", self.recv_window_ms)
                    .with("timestamp", self.server_now());
                creds.signer.signed_query(&params.query())
            }
            Auth::None | Auth::Key(_) => params.query(),
        };
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let request = match method {
            Method::Get => self.http.get(url),
            Method::Post => self.http.post(url),
            Method::Put => self.http.put(url),
            Method::Delete => self.http.delete(url),
        };
        let request = match auth {
            Auth::Key(c) | Auth::Signed(c) => request.header("X-MBX-APIKEY", c.api_key.expose()),
            Auth::None => request,
        };
        let response = request.send().await.map_err(|source| BinanceError::Http {
            operation: path.to_owned(),
            // A request that failed to connect never reached Binance.
            maybe_sent: !source.is_connect() && method != Method::Get,
            source,
        })?;
        let status = response.status().as_u16();
        let now = local_ms();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        {
            let headers: Vec<(&str, &str)> = response
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
                .collect();
            self.lock_limits().observe_headers(headers, now);
        }
        if status == 429 || status == 418 {
            let until_ms = self
                .lock_limits()
                .throttled(status, retry_after.as_deref(), now);
            tracing::error!(
                path,
                status,
                until_ms,
                "Binance rate limit hit: no requests to this host until the ban ends"
            );
            return Err(BinanceError::RateLimited {
                operation: path.to_owned(),
                status,
                until_ms,
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|source| BinanceError::Http {
                operation: path.to_owned(),
                maybe_sent: method != Method::Get,
                source,
            })?;
        if (200..300).contains(&status) {
            return Ok(body.to_vec());
        }
        match serde_json::from_slice::<ApiError>(&body) {
            Ok(error) => Err(BinanceError::Api {
                operation: path.to_owned(),
                status,
                error,
            }),
            Err(_) => Err(BinanceError::Status {
                operation: path.to_owned(),
                status,
                body: body.to_vec(),
            }),
        }
    }
}
