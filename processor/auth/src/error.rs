//! Why a token is refused: one variant per cause, each saying what a client or an operator must
//! change.

/// A token that does not prove who is connecting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not three base64url parts of JSON: not a JWT at all.
    #[error("not a JWT: {0}")]
    Malformed(String),
    /// An algorithm this verifier does not accept for its keys (`none`, or HS256 presented to
    /// an issuer's public keys, or RS256 to a shared secret).
    #[error("algorithm {0} is not accepted here")]
    Algorithm(String),
    /// The token names a key (`kid`) the issuer's key set does not have; the set may have
    /// rotated, so a verifier refreshes it before refusing for good.
    #[error("unknown signing key {0:?}")]
    UnknownKey(Option<String>),
    /// The signature does not match the token's content under the key.
    #[error("bad signature")]
    Signature,
    /// `exp` is past.
    #[error("expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`, seconds since the epoch.
        exp: u64,
        /// The time checked at.
        now: u64,
    },
    /// `nbf` is still to come.
    #[error("not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`, seconds since the epoch.
        nbf: u64,
        /// The time checked at.
        now: u64,
    },
    /// `iss` is not the issuer this verifier trusts.
    #[error("issuer {found:?} is not {expected:?}")]
    Issuer {
        /// The trusted issuer.
        expected: String,
        /// The token's, if any.
        found: Option<String>,
    },
    /// `aud` does not name this verifier's audience.
    #[error("audience {found:?} does not include {expected:?}")]
    Audience {
        /// The audience this verifier is.
        expected: String,
        /// The token's, if any.
        found: Vec<String>,
    },
    /// A token without `exp` or `sub`: it would be valid forever, or for nobody.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// The key set or secret this verifier was given is unusable.
    #[error("bad keys: {0}")]
    Keys(String),
}
