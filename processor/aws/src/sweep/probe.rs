//! The probe port: asking API Gateway whether a WebSocket connection still exists
//! (`GetConnection` on the `@connections` API). [`ApiGatewayProbe`] asks the real API (or a test
//! server at an endpoint override); [`MemoryProbe`] answers from a set of gone connections.

use crate::sinks::classify::{classify, facts, ErrorClass};
use aws_config::SdkConfig;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;

/// What API Gateway says of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It exists; when it last carried a message or a ping (ms epoch), if API Gateway says.
    Alive {
        /// `lastActiveAt`.
        last_active_at: Option<u64>,
    },
    /// 410 `GoneException`: it no longer exists.
    Gone,
}

/// Asking failed (throttling, 5xx, network, forbidden): the sweep asks again next time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GetConnection {connection_id}: {message}")]
pub struct ProbeError {
    /// The connection asked about.
    pub connection_id: String,
    /// What went wrong.
    pub message: String,
}

/// Asks whether a connection still exists.
pub trait ConnectionProbe: Send + Sync {
    /// What API Gateway says of `connection_id`.
    fn probe(
        &self,
        connection_id: &str,
    ) -> impl Future<Output = Result<Liveness, ProbeError>> + Send;
}

/// `GetConnection` through the API Gateway Management API.
#[derive(Debug, Clone)]
pub struct ApiGatewayProbe {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayProbe {
    /// A probe asking the `@connections` API at `endpoint` (`https://{domain}/{stage}`, or a test
    /// server's URL).
    pub fn new(sdk: &SdkConfig, endpoint: &str) -> Self {
        ApiGatewayProbe {
            client: crate::clients::connections_client(sdk, endpoint),
        }
    }
}

impl ConnectionProbe for ApiGatewayProbe {
    async fn probe(&self, connection_id: &str) -> Result<Liveness, ProbeError> {
        match self
            .client
            .get_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(out) => Ok(Liveness::Alive {
                last_active_at: out
                    .last_active_at
                    .and_then(|t| t.to_millis().ok())
                    .and_then(|ms| u64::try_from(ms).ok()),
            }),
            Err(e) => {
                let (facts, message) = facts(&e);
                match classify(&facts) {
                    ErrorClass::Gone => Ok(Liveness::Gone),
                    _ => Err(ProbeError {
                        connection_id: connection_id.to_owned(),
                        message,
                    }),
                }
            }
        }
    }
}

/// Answers from memory, for tests: gone for the connections it is told are gone, alive (with
/// the last activity it is told, if any) for the others; records every question.
#[derive(Debug, Default)]
pub struct MemoryProbe {
    gone: Mutex<HashSet<String>>,
    active: Mutex<HashMap<String, u64>>,
    asked: Mutex<Vec<String>>,
}

impl MemoryProbe {
    /// Every connection alive, with no activity known.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on `connection_id` is gone.
    pub fn set_gone(&self, connection_id: &str) {
        if let Ok(mut gone) = self.gone.lock() {
            gone.insert(connection_id.to_owned());
        }
    }

    /// From now on `connection_id` was last active at `at`.
    pub fn set_active(&self, connection_id: &str, at: u64) {
        if let Ok(mut active) = self.active.lock() {
            active.insert(connection_id.to_owned(), at);
        }
    }

    /// Every connection asked about, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl ConnectionProbe for MemoryProbe {
    async fn probe(&self, connection_id: &str) -> Result<Liveness, ProbeError> {
        let poisoned = || ProbeError {
            connection_id: connection_id.to_owned(),
            message: "poisoned lock".into(),
        };
        self.asked
            .lock()
            .map_err(|_| poisoned())?
            .push(connection_id.to_owned());
        if self
            .gone
            .lock()
            .map_err(|_| poisoned())?
            .contains(connection_id)
        {
            return Ok(Liveness::Gone);
        }
        let last_active_at = self
            .active
            .lock()
            .map_err(|_| poisoned())?
            .get(connection_id)
            .copied();
        Ok(Liveness::Alive { last_active_at })
    }
}
