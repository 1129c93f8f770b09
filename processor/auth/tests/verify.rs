//! The token checks: a good token of each kind gives its identity and claims; an expired one,
//! one not valid yet, a wrong issuer or audience, a wrong key, a tampered payload, `alg: none`,
//! RS/HS confusion and an unknown key are each refused with their own reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use auth::{AuthError, Verifier};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::{json, Value};

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const NOW: u64 = 1_800_000_000;
/// A test-only RSA key (PKCS#1 DER), whose public half is `keys/test-rsa.jwks.json`.
const RSA_DER: &[u8] = include_bytes!("keys/test-rsa.der");
const RSA_JWKS: &str = include_str!("keys/test-rsa.jwks.json");

fn claims() -> Value {
    json!({"sub":"alice","iss":"https://issuer.example","aud":"presence","exp":NOW + 600,
           "nbf":NOW - 60,"rooms":["42","team-7/*"],"devices":["thermostat-1"]})
}

fn hs256(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn rs256(claims: &Value, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &EncodingKey::from_rsa_der(RSA_DER)).unwrap()
}

fn secret_verifier() -> Verifier {
    Verifier::hs256(SECRET)
        .unwrap()
        .issuer("https://issuer.example")
        .audience("presence")
}

fn rsa_verifier() -> Verifier {
    Verifier::jwks(RSA_JWKS)
        .unwrap()
        .issuer("https://issuer.example")
        .audience("presence")
}

/// An ES256 key pair: the signing key and its JWKS.
fn es256_keys() -> (EncodingKey, String) {
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // An uncompressed point: 0x04, then x and y.
    let point = pair.public_key().as_ref();
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let jwks = json!({"keys":[{"kty":"EC","crv":"P-256","kid":"test-ec","alg":"ES256",
        "x":b64(&point[1..33]),"y":b64(&point[33..65])}]});
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwks.to_string())
}

#[test]
fn good_tokens_give_the_subject_and_its_claims() {
    let alice = secret_verifier().verify(&hs256(&claims()), NOW).unwrap();
    assert_eq!(alice.subject, "alice");
    assert_eq!(alice.rooms, ["42", "team-7/*"]);
    assert_eq!(alice.devices, ["thermostat-1"]);
    assert!(!alice.broadcast);
    let by_rsa = rsa_verifier()
        .verify(&rs256(&claims(), "test-rsa"), NOW)
        .unwrap();
    assert_eq!(by_rsa, alice);
    let (key, jwks) = es256_keys();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("test-ec".into());
    let token = encode(&header, &claims(), &key).unwrap();
    let by_ec = Verifier::jwks(&jwks).unwrap().verify(&token, NOW).unwrap();
    assert_eq!(by_ec, alice);
    // An audience given as a list that names ours.
    let mut listed = claims();
    listed["aud"] = json!(["other", "presence"]);
    assert!(secret_verifier().verify(&hs256(&listed), NOW).is_ok());
}

#[test]
fn times_issuer_and_audience_are_checked_at_the_time_given() {
    let v = secret_verifier();
    let token = hs256(&claims());
    assert_eq!(
        v.verify(&token, NOW + 600),
        Err(AuthError::Expired {
            exp: NOW + 600,
            now: NOW + 600
        })
    );
    assert_eq!(
        v.verify(&token, NOW - 61),
        Err(AuthError::NotYetValid {
            nbf: NOW - 60,
            now: NOW - 61
        })
    );
    assert!(v.clone().leeway(5).verify(&token, NOW + 604).is_ok());
    let mut other = claims();
    other["iss"] = json!("https://evil.example");
    assert!(matches!(
        v.verify(&hs256(&other), NOW),
        Err(AuthError::Issuer { .. })
    ));
    let mut other = claims();
    other["aud"] = json!("someone-else");
    assert!(matches!(
        v.verify(&hs256(&other), NOW),
        Err(AuthError::Audience { .. })
    ));
    for missing in ["exp", "sub"] {
        let mut other = claims();
        other.as_object_mut().unwrap().remove(missing);
        assert_eq!(
            v.verify(&hs256(&other), NOW),
            Err(AuthError::MissingClaim(missing))
        );
    }
}

#[test]
fn a_wrong_key_a_tampered_payload_and_alg_none_are_refused() {
    let v = secret_verifier();
    let other_secret = EncodingKey::from_secret(b"another secret of thirty-two bytes or more");
    let forged = encode(&Header::new(Algorithm::HS256), &claims(), &other_secret).unwrap();
    assert_eq!(v.verify(&forged, NOW), Err(AuthError::Signature));
    // bob's payload under alice's signature.
    let token = hs256(&claims());
    let mut bob = claims();
    bob["sub"] = json!("bob");
    let bob_token = hs256(&bob);
    let parts: Vec<&str> = token.split('.').collect();
    let bob_payload = bob_token.split('.').nth(1).unwrap();
    let tampered = format!("{}.{}.{}", parts[0], bob_payload, parts[2]);
    assert_eq!(v.verify(&tampered, NOW), Err(AuthError::Signature));
    // `alg: none`, no signature.
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg":"none","typ":"JWT"})),
        b64(&claims())
    );
    assert_eq!(
        v.verify(&none, NOW),
        Err(AuthError::Algorithm("none".into()))
    );
    assert_eq!(
        rsa_verifier().verify(&none, NOW),
        Err(AuthError::Algorithm("none".into()))
    );
    assert!(matches!(
        v.verify("not a token", NOW),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn algorithm_confusion_and_unknown_keys_are_refused() {
    // HS256 signed with the issuer's public key as the secret, presented to its key set.
    let public_as_secret = EncodingKey::from_secret(RSA_JWKS.as_bytes());
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("test-rsa".into());
    let confused = encode(&header, &claims(), &public_as_secret).unwrap();
    assert_eq!(
        rsa_verifier().verify(&confused, NOW),
        Err(AuthError::Algorithm("HS256".into()))
    );
    // RS256 presented to a shared-secret verifier.
    assert_eq!(
        secret_verifier().verify(&rs256(&claims(), "test-rsa"), NOW),
        Err(AuthError::Algorithm("RS256".into()))
    );
    // A key the set does not have (rotated): the caller refreshes the set.
    let v = rsa_verifier();
    assert!(!v.knows(Some("next-key")));
    assert_eq!(
        v.verify(&rs256(&claims(), "next-key"), NOW),
        Err(AuthError::UnknownKey(Some("next-key".into())))
    );
}

#[test]
fn unusable_keys_are_refused_when_the_verifier_is_made() {
    assert!(matches!(Verifier::hs256(b"short"), Err(AuthError::Keys(_))));
    assert!(matches!(Verifier::jwks("{}"), Err(AuthError::Keys(_))));
    assert!(matches!(
        Verifier::jwks(r#"{"keys":[]}"#),
        Err(AuthError::Keys(_))
    ));
}

proptest! {
    /// Any change to a good token's bytes (header, payload or signature) makes it refused; none
    /// makes it someone else.
    #[test]
    fn no_change_to_a_token_passes(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let token = hs256(&claims());
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let Ok(changed) = String::from_utf8(bytes) else { return Ok(()) };
        match secret_verifier().verify(&changed, NOW) {
            Err(_) => {}
            // base64url's last character may carry bits a decoder ignores.
            Ok(identity) => prop_assert_eq!(identity.subject, "alice"),
        }
    }
}
