//! [`Verifier`]: a token's signature under the verifier's keys, then its claims.

use crate::AuthError;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// What verifies tokens: its keys, and the issuer and audience it trusts.
#[derive(Clone)]
pub struct Verifier {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_s: u64,
}

/// Names the keys' kind, never a secret.
impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            Keys::Secret(_) => "HS256 secret".to_owned(),
            Keys::Public(keys) => format!("{} public keys", keys.len()),
        };
        f.debug_struct("Verifier")
            .field("keys", &keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_s", &self.leeway_s)
            .finish()
    }
}

#[derive(Clone)]
enum Keys {
    /// A shared secret: HS256 only.
    Secret(DecodingKey),
    /// An issuer's public keys by `kid`, each with the one algorithm its type allows.
    Public(Vec<(Option<String>, Algorithm, DecodingKey)>),
}

/// Who a verified token says is connecting, and what it lets them do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    /// `sub`: the client id the connection is attributed to.
    #[serde(rename = "sub")]
    pub subject: String,
    /// `rooms`: the rooms it may join and send to (ids, or prefixes ending in `*`).
    #[serde(default)]
    pub rooms: Vec<String>,
    /// `devices`: the devices it may watch.
    #[serde(default)]
    pub devices: Vec<String>,
    /// `broadcast`: whether it may send a message without a room, to everyone.
    #[serde(default)]
    pub broadcast: bool,
}

/// The registered claims checked here; `aud` is a string or a list of them.
#[derive(Deserialize)]
struct Registered {
    exp: Option<u64>,
    nbf: Option<u64>,
    iss: Option<String>,
    #[serde(default)]
    aud: Audience,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn list(self) -> Vec<String> {
        match self {
            Audience::None => Vec::new(),
            Audience::One(a) => vec![a],
            Audience::Many(a) => a,
        }
    }
}

impl Verifier {
    /// A verifier of HS256 tokens signed with `secret`.
    ///
    /// # Errors
    /// [`AuthError::Keys`] for a secret shorter than 32 bytes (HS256's key is as strong as it).
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthError> {
        if secret.len() < 32 {
            return Err(AuthError::Keys(format!(
                "an HS256 secret needs at least 32 bytes, this one has {}",
                secret.len()
            )));
        }
        Ok(Verifier::with(Keys::Secret(DecodingKey::from_secret(
            secret,
        ))))
    }

    /// A verifier of RS256 and ES256 tokens signed with the keys of `jwks`, a JSON Web Key Set
    /// as an issuer publishes it (`{"keys":[...]}`). Keys of other types are left out.
    ///
    /// # Errors
    /// [`AuthError::Keys`]: not a key set, a key that does not decode, or no RSA or P-256 key.
    pub fn jwks(jwks: &str) -> Result<Self, AuthError> {
        let set: JwkSet = serde_json::from_str(jwks)
            .map_err(|e| AuthError::Keys(format!("not a JSON Web Key Set: {e}")))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => continue,
            };
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| AuthError::Keys(format!("key {:?}: {e}", jwk.common.key_id)))?;
            keys.push((jwk.common.key_id.clone(), alg, key));
        }
        if keys.is_empty() {
            return Err(AuthError::Keys("no RSA or P-256 key in the set".into()));
        }
        Ok(Verifier::with(Keys::Public(keys)))
    }

    fn with(keys: Keys) -> Self {
        Verifier {
            keys,
            issuer: None,
            audience: None,
            leeway_s: 0,
        }
    }

    /// Trusts only tokens whose `iss` is `issuer`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// Accepts only tokens whose `aud` names `audience`.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }

    /// Checks `iss` and `aud` where a setting names them (a command-line flag, a Lambda setting),
    /// as [`Verifier::issuer`] and [`Verifier::audience`] do.
    pub fn expecting(self, issuer: Option<&str>, audience: Option<&str>) -> Self {
        let this = match issuer {
            Some(issuer) => self.issuer(issuer),
            None => self,
        };
        match audience {
            Some(audience) => this.audience(audience),
            None => this,
        }
    }

    /// Allows clocks to differ by `seconds` when checking `exp` and `nbf`.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway_s = seconds;
        self
    }

    /// Whether the key set has a key `kid` (a verifier of a shared secret has every one): a
    /// caller refreshes the set from the issuer when a token names one it lacks.
    pub fn knows(&self, kid: Option<&str>) -> bool {
        match &self.keys {
            Keys::Secret(_) => true,
            Keys::Public(keys) => keys.iter().any(|(k, _, _)| k.as_deref() == kid),
        }
    }

    /// The identity `token` proves at `now` (seconds since the epoch).
    ///
    /// # Errors
    /// [`AuthError`]: why the token proves nothing.
    pub fn verify(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        let (alg, key) = self.key_for(token)?;
        let mut validation = Validation::new(alg);
        // The claims are checked below, against the time given, not the machine's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::Signature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                    AuthError::Algorithm(format!("{alg:?}"))
                }
                _ => AuthError::Malformed(e.to_string()),
            },
        )?;
        let registered: Registered = serde_json::from_value(data.claims.clone())
            .map_err(|e| AuthError::Malformed(format!("claims: {e}")))?;
        self.check(registered, now)?;
        if data
            .claims
            .get("sub")
            .and_then(|s| s.as_str())
            .is_none_or(str::is_empty)
        {
            return Err(AuthError::MissingClaim("sub"));
        }
        serde_json::from_value(data.claims)
            .map_err(|e| AuthError::Malformed(format!("claims: {e}")))
    }

    /// The algorithm and key `token`'s header asks for, if this verifier has them.
    fn key_for(&self, token: &str) -> Result<(Algorithm, &DecodingKey), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            // `alg: none` and other algorithms the library does not know fail here.
            let text = e.to_string();
            match alg_of(token) {
                Some(alg) => AuthError::Algorithm(alg),
                None => AuthError::Malformed(text),
            }
        })?;
        match &self.keys {
            Keys::Secret(key) if header.alg == Algorithm::HS256 => Ok((Algorithm::HS256, key)),
            Keys::Secret(_) => Err(AuthError::Algorithm(format!("{:?}", header.alg))),
            Keys::Public(keys) => {
                let kid = header.kid.as_deref();
                let mut named = keys
                    .iter()
                    .filter(|(k, _, _)| kid.is_none() || k.as_deref() == kid);
                match named.find(|(_, alg, _)| *alg == header.alg) {
                    Some((_, alg, key)) => Ok((*alg, key)),
                    None if self.knows(kid) || kid.is_none() => {
                        Err(AuthError::Algorithm(format!("{:?}", header.alg)))
                    }
                    None => Err(AuthError::UnknownKey(header.kid.clone())),
                }
            }
        }
    }

    /// `exp`, `nbf`, `iss` and `aud` at `now`.
    fn check(&self, claims: Registered, now: u64) -> Result<(), AuthError> {
        let exp = claims.exp.ok_or(AuthError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway_s) {
            return Err(AuthError::Expired { exp, now });
        }
        if let Some(nbf) = claims
            .nbf
            .filter(|nbf| now.saturating_add(self.leeway_s) < *nbf)
        {
            return Err(AuthError::NotYetValid { nbf, now });
        }
        if let Some(expected) = &self.issuer {
            if claims.iss.as_ref() != Some(expected) {
                return Err(AuthError::Issuer {
                    expected: expected.clone(),
                    found: claims.iss,
                });
            }
        }
        if let Some(expected) = &self.audience {
            let found = claims.aud.list();
            if !found.contains(expected) {
                return Err(AuthError::Audience {
                    expected: expected.clone(),
                    found,
                });
            }
        }
        Ok(())
    }
}

/// The `alg` a token's header names, read without the library (which refuses to parse one it
/// does not know, such as `none`).
fn alg_of(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_owned)
}
