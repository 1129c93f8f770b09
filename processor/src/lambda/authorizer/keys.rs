//! Where the authorizer's keys come from: an issuer's JWKS over HTTPS (Cognito user pools, any
//! OIDC issuer), or an HS256 secret in Secrets Manager. Read at cold start; a JWKS is read again
//! when a token names a key it does not have (the issuer rotated its keys).

use auth::{AuthError, Verifier};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::time::Duration;

/// A key set bigger than this is not a key set.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long a key fetch may take: the authorizer answers `$connect`, which a client waits on.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Reading the keys failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// The key set could not be fetched.
    #[error("fetching the JWKS at {url}: {message}")]
    Fetch {
        /// The key set's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The secret could not be read.
    #[error("reading the HS256 secret {arn}: {message}")]
    Secret {
        /// The secret's ARN.
        arn: String,
        /// What went wrong.
        message: String,
    },
    /// What was read does not make keys.
    #[error("{0}")]
    Keys(#[from] AuthError),
}

/// A source of a [`Verifier`]'s keys: the port the authorizer reads them through.
pub trait KeySource: Send + Sync {
    /// The verifier for the keys as they are now (issuer and audience not yet set).
    fn load(&self) -> impl Future<Output = Result<Verifier, KeysError>> + Send;
    /// Whether reading again may find keys this source did not have (a JWKS may have rotated;
    /// a secret is the secret).
    fn rotates(&self) -> bool;
}

/// An issuer's JWKS at a URL: `https://`, or `http://` on loopback only (tests, a local issuer).
#[derive(Debug, Clone)]
pub struct JwksUrl {
    url: aws_lambda_events::http::Uri,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<bytes::Bytes>>,
}

impl JwksUrl {
    /// A source reading `url`.
    ///
    /// # Errors
    /// A URL that is not `https://` (nor `http://` on loopback), or no root certificates.
    pub fn new(url: &str) -> Result<Self, KeysError> {
        let fail = |message: String| KeysError::Fetch {
            url: url.to_owned(),
            message,
        };
        let uri: aws_lambda_events::http::Uri =
            url.parse().map_err(|e| fail(format!("not a URL: {e}")))?;
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => return Err(fail("keys are fetched over https only".into())),
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| fail(format!("no root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(JwksUrl {
            url: uri,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    async fn fetch(&self) -> Result<String, String> {
        let response = self
            .client
            .get(self.url.clone())
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| "not UTF-8".to_owned())
    }
}

impl KeySource for JwksUrl {
    async fn load(&self) -> Result<Verifier, KeysError> {
        let text = tokio::time::timeout(FETCH_TIMEOUT, self.fetch())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {FETCH_TIMEOUT:?}")))
            .map_err(|message| KeysError::Fetch {
                url: self.url.to_string(),
                message,
            })?;
        Ok(Verifier::jwks(&text)?)
    }

    fn rotates(&self) -> bool {
        true
    }
}

/// An HS256 secret in Secrets Manager (its `SecretString`, at least 32 bytes).
#[derive(Debug, Clone)]
pub struct SecretArn {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SecretArn {
    /// A source reading the secret `arn` with `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: &str) -> Self {
        SecretArn {
            client,
            arn: arn.to_owned(),
        }
    }
}

impl KeySource for SecretArn {
    async fn load(&self) -> Result<Verifier, KeysError> {
        let fail = |message: String| KeysError::Secret {
            arn: self.arn.clone(),
            message,
        };
        let secret = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| fail(aws_adapters::sinks::classify::facts(&e).1))?;
        let text = secret
            .secret_string()
            .ok_or_else(|| fail("no SecretString (a binary secret?)".into()))?;
        Ok(Verifier::hs256(text.as_bytes())?)
    }

    fn rotates(&self) -> bool {
        false
    }
}
