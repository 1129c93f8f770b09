//! The `$connect` authorizer as a Lambda REQUEST authorizer: the same `processor-lambda`
//! binary, chosen by the function's `Handler: authorizer` (Lambda passes it as `_HANDLER`).
//!
//! It admits a connection with [`auth::Gate`], as `processor dev --auth` does: the token from the
//! `token` query parameter or after the `bearer` subprotocol, verified against the keys of
//! [`keys`] (an issuer's JWKS, or an HS256 secret in Secrets Manager) with the configured issuer
//! and audience. An admitted connection gets an `Allow` policy for its `$connect`, the token's
//! `sub` as `principalId` and its claims as the context, which API Gateway hands every route of
//! the connection and ingest copies into its records. A refused one gets `Unauthorized` (API
//! Gateway answers 401); the reason is logged, never the token.
//!
//! Settings: `AUTH_MODE` (`jwks` or `hs256`), `JWKS_URL` (jwks), `HS256_SECRET_ARN` (hs256),
//! `ISSUER` (required with jwks), `AUDIENCE`, `ALLOW_ANONYMOUS` (`false`), and
//! `AWS_ENDPOINT_URL` to read the secret from an emulator.

pub mod keys;

use crate::lambda::handler::now_ms;
use auth::{AuthError, ConnectRequest, Gate, Refused, Verifier};
use aws_adapters::sinks::config::{endpoint_url, flag, var};
use aws_adapters::sinks::ConfigError;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::http::header::SEC_WEBSOCKET_PROTOCOL;
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use keys::{JwksUrl, KeySource, KeysError, SecretArn};
use lambda_runtime::{service_fn, LambdaEvent};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock};

/// The `Handler` value that makes `processor-lambda` the authorizer.
pub const HANDLER: &str = "authorizer";

/// How far a token's `exp` and `nbf` may be off the Lambda's clock.
const LEEWAY_S: u64 = 30;
/// Keys are fetched again for an unknown `kid` at most this often (seconds), so that tokens
/// naming made-up keys cannot make every `$connect` call the issuer.
const REFRESH_AT_MOST_EVERY_S: u64 = 60;

/// The authorizer's response: a policy, the principal and the claims as context.
pub type Response = ApiGatewayCustomAuthorizerResponse<BTreeMap<String, String>>;

/// Where the keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysAt {
    /// `AUTH_MODE=jwks`: an issuer's JWKS at `JWKS_URL`.
    Jwks(String),
    /// `AUTH_MODE=hs256`: an HS256 secret in Secrets Manager at `HS256_SECRET_ARN`.
    Hs256(String),
}

/// The authorizer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// Where the keys are.
    pub keys: KeysAt,
    /// `ISSUER`: the `iss` tokens must have (required with a JWKS: a key set alone does not say
    /// whose tokens it signs).
    pub issuer: Option<String>,
    /// `AUDIENCE`: what `aud` must include.
    pub audience: Option<String>,
    /// `ALLOW_ANONYMOUS`: whether a `$connect` without a token may name itself by `?clientId=`.
    pub allow_anonymous: bool,
}

impl AuthorizerConfig {
    /// Reads settings through `get`.
    ///
    /// # Errors
    /// A missing or invalid setting, named.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str, why: &str| {
            var(&get, name).ok_or_else(|| ConfigError::new(name, format!("required {why}")))
        };
        let keys = match var(&get, "AUTH_MODE").as_deref() {
            Some("jwks") => KeysAt::Jwks(required("JWKS_URL", "with AUTH_MODE=jwks")?),
            Some("hs256") => KeysAt::Hs256(required("HS256_SECRET_ARN", "with AUTH_MODE=hs256")?),
            other => {
                return Err(ConfigError::new(
                    "AUTH_MODE",
                    format!("expected jwks or hs256, found {other:?}"),
                ))
            }
        };
        let issuer = match keys {
            KeysAt::Jwks(_) => Some(required("ISSUER", "with AUTH_MODE=jwks")?),
            KeysAt::Hs256(_) => var(&get, "ISSUER"),
        };
        let allow_anonymous = flag(&get, "ALLOW_ANONYMOUS")?;
        Ok(AuthorizerConfig {
            keys,
            issuer,
            audience: var(&get, "AUDIENCE"),
            allow_anonymous,
        })
    }

    /// The gate for `verifier` under these settings.
    fn gate(&self, verifier: Verifier) -> Gate {
        let verifier = verifier
            .leeway(LEEWAY_S)
            .expecting(self.issuer.as_deref(), self.audience.as_deref());
        let gate = Gate::tokens(verifier);
        if self.allow_anonymous {
            gate.allowing_anonymous()
        } else {
            gate
        }
    }
}

/// The answer that makes API Gateway refuse the connection with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized;

/// API Gateway reads the error message: exactly `Unauthorized` means 401.
impl From<Unauthorized> for lambda_runtime::Diagnostic {
    fn from(_: Unauthorized) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "Unauthorized".into(),
            error_message: "Unauthorized".into(),
        }
    }
}

/// The authorizer: its settings, its key source and the gate over the keys last read.
pub struct Authorizer<S> {
    config: AuthorizerConfig,
    source: S,
    gate: RwLock<Gate>,
    /// When the keys were last read, seconds since the epoch.
    read_at: Mutex<u64>,
}

impl<S: KeySource> Authorizer<S> {
    /// Reads the keys at `now_s` and makes the gate.
    ///
    /// # Errors
    /// The keys cannot be read or are unusable: the cold start fails, naming why.
    pub async fn new(config: AuthorizerConfig, source: S, now_s: u64) -> Result<Self, KeysError> {
        let gate = config.gate(source.load().await?);
        Ok(Authorizer {
            config,
            source,
            gate: RwLock::new(gate),
            read_at: Mutex::new(now_s),
        })
    }

    /// Admits or refuses one `$connect` at `now_s` (seconds since the epoch).
    ///
    /// # Errors
    /// [`Unauthorized`], after logging why.
    pub async fn authorize(
        &self,
        request: &ApiGatewayCustomAuthorizerRequestTypeRequest,
        now_s: u64,
    ) -> Result<Response, Unauthorized> {
        let query = &request.query_string_parameters;
        let connect = ConnectRequest {
            token_param: query.first(auth::TOKEN_PARAM),
            protocols: request
                .headers
                .get(SEC_WEBSOCKET_PROTOCOL)
                .and_then(|v| v.to_str().ok()),
            client_id_param: query.first(auth::CLIENT_ID_PARAM),
        };
        let mut outcome = self.gate.read().await.admit(&connect, now_s);
        let unknown_key = matches!(outcome, Err(Refused::Token(AuthError::UnknownKey(_))));
        if unknown_key && self.refresh(now_s).await {
            outcome = self.gate.read().await.admit(&connect, now_s);
        }
        match outcome {
            Ok(admitted) => {
                tracing::info!(principal = %admitted.principal, anonymous = admitted.context.is_empty(), "connect admitted");
                let method = request.method_arn.clone().unwrap_or_default();
                Ok(allow(admitted.principal, &method, admitted.context))
            }
            Err(refused) => {
                tracing::info!(reason = %refused, "connect refused");
                Err(Unauthorized)
            }
        }
    }

    /// Reads the keys again at `now_s`, if they may have rotated and were not read within the
    /// last [`REFRESH_AT_MOST_EVERY_S`]; whether the gate changed.
    async fn refresh(&self, now_s: u64) -> bool {
        if !self.source.rotates() {
            return false;
        }
        let mut read_at = self.read_at.lock().await;
        if now_s < read_at.saturating_add(REFRESH_AT_MOST_EVERY_S) {
            return false;
        }
        *read_at = now_s;
        match self.source.load().await {
            Ok(verifier) => {
                *self.gate.write().await = self.config.gate(verifier);
                tracing::info!("keys read again for an unknown kid");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "keys could not be read again; keeping the old ones");
                false
            }
        }
    }
}

/// An `Allow` policy for the `$connect` being authorized, with the principal and its context.
fn allow(principal: String, method_arn: &str, context: BTreeMap<String, String>) -> Response {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![method_arn.to_owned()];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = Response::default();
    response.principal_id = Some(principal);
    response.policy_document = policy;
    response.context = context;
    response
}

/// Runs the authorizer: settings and keys at cold start, then one answer per `$connect`.
///
/// # Errors
/// Bad settings (naming the variable), keys that cannot be read, or the runtime API failing.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let config = AuthorizerConfig::from_lookup(|k| std::env::var(k).ok())?;
    match config.keys.clone() {
        KeysAt::Jwks(url) => serve(config, JwksUrl::new(&url)?).await,
        KeysAt::Hs256(arn) => {
            // `AWS_ENDPOINT_URL` points every client at an emulator, as for the processor.
            let get = |k: &str| std::env::var(k).ok();
            let endpoint = var(&get, "AWS_ENDPOINT_URL")
                .map(|url| endpoint_url("AWS_ENDPOINT_URL", &url))
                .transpose()?;
            let sdk = aws_adapters::clients::sdk_config(endpoint.as_deref()).await;
            let client = aws_sdk_secretsmanager::Client::new(&sdk);
            serve(config, SecretArn::new(client, &arn)).await
        }
    }
}

async fn serve<S: KeySource + 'static>(
    config: AuthorizerConfig,
    source: S,
) -> Result<(), lambda_runtime::Error> {
    let authorizer = Arc::new(Authorizer::new(config, source, now_ms() / 1000).await?);
    tracing::info!(
        anonymous = authorizer.config.allow_anonymous,
        "authorizer cold start"
    );
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
            let authorizer = Arc::clone(&authorizer);
            async move {
                let now_s = now_ms() / 1000;
                authorizer.authorize(&event.payload, now_s).await
            }
        },
    ))
    .await
}
