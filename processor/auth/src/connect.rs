//! Admitting a WebSocket `$connect`: where its token is, who it makes the connection, and what
//! the connection's records carry for the fold to authorize with. The authorizer Lambda and
//! `processor dev --auth` both decide here, so a local try behaves as the deployed stack.

use crate::{AuthError, Identity, Verifier};
use schemas::Claims;
use std::collections::BTreeMap;

/// The subprotocol a browser offers beside its token, since it cannot set `Authorization` on a
/// WebSocket: `new WebSocket(url, ["bearer", token])`. The server answers with it.
pub const BEARER_PROTOCOL: &str = "bearer";

/// The query parameter a token may come in: `?token=...`.
pub const TOKEN_PARAM: &str = "token";

/// The query parameter an anonymous client names itself with: `?clientId=...`.
pub const CLIENT_ID_PARAM: &str = "clientId";

/// The `$connect` request, as far as admission reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectRequest<'a> {
    /// The `token` query parameter.
    pub token_param: Option<&'a str>,
    /// The `Sec-WebSocket-Protocol` header: offered subprotocols, comma-separated.
    pub protocols: Option<&'a str>,
    /// The `clientId` query parameter (honoured only for anonymous connections).
    pub client_id_param: Option<&'a str>,
}

impl<'a> ConnectRequest<'a> {
    /// The token: the `token` query parameter, else the subprotocol offered after `bearer`.
    pub fn token(&self) -> Option<&'a str> {
        if let Some(token) = self.token_param.filter(|t| !t.is_empty()) {
            return Some(token);
        }
        let mut offered = self.protocols?.split(',').map(str::trim);
        offered.find(|p| p.eq_ignore_ascii_case(BEARER_PROTOCOL))?;
        offered.next().filter(|t| !t.is_empty())
    }

    /// Whether the client offered the `bearer` subprotocol, which the answer must then select.
    pub fn offers_bearer(&self) -> bool {
        self.protocols.is_some_and(|p| {
            p.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case(BEARER_PROTOCOL))
        })
    }
}

/// Who a `$connect` is, and what its records carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The client id the connection is attributed to: the token's `sub`, or (anonymous) the
    /// `clientId` query parameter.
    pub principal: String,
    /// The authorizer context: the token's claims ([`schemas::Claims::to_context`]), or nothing
    /// for an anonymous connection (the fold does not bound it).
    pub context: BTreeMap<String, String>,
}

/// Why a `$connect` is refused (401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No token, and anonymous connections are not allowed.
    #[error("no token: connect with ?token=JWT or the subprotocols [\"bearer\", JWT]")]
    NoToken,
    /// The token does not verify.
    #[error("the token is refused: {0}")]
    Token(#[from] AuthError),
    /// Anonymous, without a client id to attribute the connection to.
    #[error("no client id: connect with ?clientId=... (anonymous) or a token")]
    NoClientId,
}

/// How connections are admitted: with tokens checked by a [`Verifier`], anonymous ones with a
/// `clientId`, or both.
#[derive(Debug, Clone)]
pub struct Gate {
    verifier: Option<Verifier>,
    allow_anonymous: bool,
}

impl Gate {
    /// Tokens only: every connection proves who it is.
    pub fn tokens(verifier: Verifier) -> Self {
        Gate {
            verifier: Some(verifier),
            allow_anonymous: false,
        }
    }

    /// Anyone may connect as any `?clientId=`: for local development only.
    pub fn anonymous() -> Self {
        Gate {
            verifier: None,
            allow_anonymous: true,
        }
    }

    /// Tokens checked when given; without one, connect anonymously by `?clientId=` too.
    pub fn allowing_anonymous(mut self) -> Self {
        self.allow_anonymous = true;
        self
    }

    /// Whether connections without a token are admitted.
    pub fn allows_anonymous(&self) -> bool {
        self.allow_anonymous
    }

    /// Admits or refuses `request` at `now_s` (seconds since the epoch). A token, when this gate
    /// checks tokens, decides alone: a `clientId` beside it changes nothing.
    ///
    /// # Errors
    /// [`Refused`]: why the connection is refused.
    pub fn admit(&self, request: &ConnectRequest<'_>, now_s: u64) -> Result<Admitted, Refused> {
        match (&self.verifier, request.token()) {
            (Some(verifier), Some(token)) => {
                let identity = verifier.verify(token, now_s)?;
                Ok(admitted(identity))
            }
            (_, _) if self.allow_anonymous => {
                let client = request
                    .client_id_param
                    .filter(|c| !c.is_empty())
                    .ok_or(Refused::NoClientId)?;
                Ok(Admitted {
                    principal: client.to_owned(),
                    context: BTreeMap::new(),
                })
            }
            (_, _) => Err(Refused::NoToken),
        }
    }
}

fn admitted(identity: Identity) -> Admitted {
    let claims = Claims {
        rooms: identity.rooms,
        devices: identity.devices,
        broadcast: identity.broadcast,
    };
    Admitted {
        principal: identity.subject,
        context: claims.to_context(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        token: Option<&'a str>,
        protocols: Option<&'a str>,
        client: Option<&'a str>,
    ) -> ConnectRequest<'a> {
        ConnectRequest {
            token_param: token,
            protocols,
            client_id_param: client,
        }
    }

    #[test]
    fn the_token_comes_from_the_query_or_after_bearer() {
        assert_eq!(request(Some("a.b.c"), None, None).token(), Some("a.b.c"));
        assert_eq!(
            request(None, Some("bearer, x.y.z"), None).token(),
            Some("x.y.z")
        );
        assert_eq!(
            request(Some("q.q.q"), Some("bearer,x.y.z"), None).token(),
            Some("q.q.q")
        );
        assert_eq!(request(None, Some("x.y.z"), None).token(), None);
        assert_eq!(request(None, Some("bearer"), None).token(), None);
        assert!(request(None, Some("chat, Bearer, t"), None).offers_bearer());
        assert!(!request(None, Some("chat"), None).offers_bearer());
    }

    #[test]
    fn anonymous_needs_a_client_id_and_tokens_only_needs_a_token() {
        let anonymous = Gate::anonymous();
        assert_eq!(
            anonymous.admit(&request(None, None, Some("bob")), 0),
            Ok(Admitted {
                principal: "bob".into(),
                context: BTreeMap::new()
            })
        );
        assert_eq!(
            anonymous.admit(&request(None, None, Some("")), 0),
            Err(Refused::NoClientId)
        );
        let secret = [7u8; 32];
        let tokens = Gate::tokens(Verifier::hs256(&secret).unwrap());
        assert_eq!(
            tokens.admit(&request(None, None, Some("bob")), 0),
            Err(Refused::NoToken)
        );
        assert!(matches!(
            tokens.admit(&request(Some("not-a-jwt"), None, Some("bob")), 0),
            Err(Refused::Token(AuthError::Malformed(_)))
        ));
    }
}
