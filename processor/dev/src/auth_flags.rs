//! `processor dev --auth` / `--jwks`: how the local gateway admits connections, with the same
//! [`auth::Gate`] as the `$connect` authorizer on AWS.

use anyhow::{bail, Context, Result};
use auth::{Gate, Verifier};
use clap::Args;
use std::path::PathBuf;

/// How the local gateway admits WebSocket connections.
#[derive(Debug, Clone, Default, Args)]
pub struct AuthFlags {
    /// Require a JWT signed with this HS256 secret (at least 32 bytes), as the stack's
    /// authorizer does: `hs256:SECRET`. Without `--auth` or `--jwks`, any `?clientId=` is
    /// accepted as who it says it is.
    #[arg(
        long,
        value_name = "hs256:SECRET",
        env = "PRESENCE_AUTH",
        conflicts_with = "jwks",
        hide_env_values = true
    )]
    pub auth: Option<String>,

    /// Require a JWT signed by a key of this JSON Web Key Set (RS256, ES256), as an OIDC issuer
    /// or a Cognito user pool publishes it.
    #[arg(long, value_name = "FILE", env = "PRESENCE_JWKS")]
    pub jwks: Option<PathBuf>,

    /// Accept only tokens whose `iss` is this (with `--auth` or `--jwks`).
    #[arg(long, value_name = "ISSUER", env = "PRESENCE_ISSUER")]
    pub issuer: Option<String>,

    /// Accept only tokens whose `aud` includes this (with `--auth` or `--jwks`).
    #[arg(long, value_name = "AUDIENCE", env = "PRESENCE_AUDIENCE")]
    pub audience: Option<String>,
}

impl AuthFlags {
    /// The gate these flags describe.
    ///
    /// # Errors
    /// A `--auth` value that is not `hs256:SECRET` or a short secret, an unreadable or invalid
    /// key set, `--issuer` or `--audience` without a key.
    pub fn gate(&self) -> Result<Gate> {
        let verifier = match (&self.auth, &self.jwks) {
            (Some(auth), _) => {
                let Some(secret) = auth.strip_prefix("hs256:") else {
                    bail!("--auth: expected hs256:SECRET, found {:?}", scheme(auth));
                };
                Verifier::hs256(secret.as_bytes()).context("--auth")?
            }
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("--jwks: reading {}", path.display()))?;
                Verifier::jwks(&text).with_context(|| format!("--jwks {}", path.display()))?
            }
            (None, None) => {
                if self.issuer.is_some() || self.audience.is_some() {
                    bail!("--issuer and --audience check tokens: give --auth or --jwks too");
                }
                return Ok(Gate::anonymous());
            }
        };
        Ok(Gate::tokens(verifier.expecting(
            self.issuer.as_deref(),
            self.audience.as_deref(),
        )))
    }

    /// What the gateway admits, in a line for the operator.
    pub fn describe(&self) -> String {
        match (&self.auth, &self.jwks) {
            (Some(_), _) => "auth: tokens signed with the HS256 secret (--auth)".into(),
            (None, Some(path)) => format!("auth: tokens signed by a key of {}", path.display()),
            (None, None) => "auth: none, any ?clientId= connects as who it says \
                             (--auth hs256:SECRET or --jwks FILE to require tokens)"
                .into(),
        }
    }
}

/// The part of a `--auth` value before its secret, so that an error never echoes a secret.
fn scheme(value: &str) -> &str {
    value.split_once(':').map_or("(no scheme)", |(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_auth_value_is_named_without_its_secret() {
        let flags = AuthFlags {
            auth: Some("hs512:topsecret".into()),
            ..AuthFlags::default()
        };
        let error = format!("{:#}", flags.gate().unwrap_err());
        assert!(error.contains("hs512"), "{error}");
        assert!(!error.contains("topsecret"), "{error}");
        let short = AuthFlags {
            auth: Some("hs256:short".into()),
            ..AuthFlags::default()
        };
        assert!(format!("{:#}", short.gate().unwrap_err()).contains("32 bytes"));
    }

    #[test]
    fn no_flags_admit_anonymous_clients_and_a_secret_only_tokens() {
        assert!(AuthFlags::default().gate().unwrap().allows_anonymous());
        let flags = AuthFlags {
            auth: Some(format!("hs256:{}", "k".repeat(32))),
            ..AuthFlags::default()
        };
        assert!(!flags.gate().unwrap().allows_anonymous());
        let stray = AuthFlags {
            issuer: Some("https://issuer".into()),
            ..AuthFlags::default()
        };
        assert!(stray.gate().is_err());
    }
}
