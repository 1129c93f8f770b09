//! Who is connecting: the JWT a client connects with (the `token` query parameter, or the
//! `Sec-WebSocket-Protocol` header, since a browser cannot set `Authorization` on a WebSocket),
//! verified, gives the identity the fold attributes the connection to and the claims it
//! authorizes rooms and devices with.
//!
//! A [`Verifier`] holds either a shared secret (HS256, for simple setups) or an issuer's public
//! keys (a JWKS: RS256 and ES256, as Cognito user pools and OIDC issuers publish them), and the
//! issuer and audience it trusts. It accepts only the algorithms of its own keys, so `alg: none`
//! and a token signed with HS256 over a public key are refused, and it checks `exp`, `nbf`, `iss`
//! and `aud` against the time it is given, so that tests and replays decide as the authorizer did.

//!
//! A [`Gate`] admits a `$connect` ([`ConnectRequest`]): its token from the `token` query
//! parameter or after the `bearer` subprotocol, verified, makes the connection its `sub` with its
//! claims as the authorizer context; without one, only a gate that allows anonymous connections
//! takes the `clientId` query parameter.

mod connect;
mod error;
mod verify;

pub use connect::{
    Admitted, ConnectRequest, Gate, Refused, BEARER_PROTOCOL, CLIENT_ID_PARAM, TOKEN_PARAM,
};
pub use error::AuthError;
pub use verify::{Identity, Verifier};
