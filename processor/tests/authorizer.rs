//! The `$connect` authorizer Lambda's handler: what it answers API Gateway for a token in the
//! query or the subprotocol, none, a bad one, an anonymous connection where allowed; keys read
//! again when an issuer rotates them (at most once a minute); its settings; the JWKS read over
//! HTTP from a local server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use auth::Verifier;
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use processor::lambda::authorizer::keys::{JwksUrl, KeySource, KeysError};
use processor::lambda::authorizer::{Authorizer, AuthorizerConfig, KeysAt, Unauthorized};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://issuer.example";
const RSA_DER: &[u8] = include_bytes!("../auth/tests/keys/test-rsa.der");
const RSA_JWKS: &str = include_str!("../auth/tests/keys/test-rsa.jwks.json");
const METHOD: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/$connect";

/// The test key set with its one key named `kid`.
fn jwks(kid: &str) -> String {
    RSA_JWKS.replace("\"test-rsa\"", &format!("\"{kid}\""))
}

/// Key sets in turn: each load reads the next (the last one again once they run out).
struct Rotating {
    sets: Vec<String>,
    loads: AtomicUsize,
}

impl Rotating {
    fn new(kids: &[&str]) -> Self {
        Rotating {
            sets: kids.iter().map(|k| jwks(k)).collect(),
            loads: AtomicUsize::new(0),
        }
    }
}

impl KeySource for Rotating {
    async fn load(&self) -> Result<Verifier, KeysError> {
        let n = self.loads.fetch_add(1, Ordering::SeqCst);
        let set = &self.sets[n.min(self.sets.len() - 1)];
        Ok(Verifier::jwks(set)?)
    }

    fn rotates(&self) -> bool {
        true
    }
}

fn config(allow_anonymous: bool) -> AuthorizerConfig {
    AuthorizerConfig {
        keys: KeysAt::Jwks("https://issuer.example/jwks.json".into()),
        issuer: Some(ISSUER.into()),
        audience: Some("presence".into()),
        allow_anonymous,
    }
}

fn token(sub: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let claims = json!({"sub": sub, "iss": ISSUER, "aud": "presence", "exp": NOW + 600,
                        "rooms": ["team-7/*"], "devices": ["d1"], "broadcast": true});
    encode(&header, &claims, &EncodingKey::from_rsa_der(RSA_DER)).unwrap()
}

/// A `$connect` authorizer event as API Gateway sends it.
fn event(
    query: serde_json::Value,
    protocols: Option<&str>,
) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut headers = json!({"Host": "abc123.execute-api.eu-west-1.amazonaws.com"});
    if let Some(p) = protocols {
        headers["Sec-WebSocket-Protocol"] = json!(p);
    }
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": METHOD,
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "stage": "prod",
                           "connectionId": "BxRJocWOjoECJkw=", "apiId": "abc123"}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_token_in_the_query_or_the_subprotocol_is_allowed_as_its_subject() {
    let authorizer = Authorizer::new(config(false), Rotating::new(&["k1"]), NOW)
        .await
        .unwrap();
    let alice = token("alice", "k1");
    let by_query = event(json!({"token": alice, "clientId": "bob"}), None);
    let response = authorizer.authorize(&by_query, NOW).await.unwrap();
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["principalId"], "alice", "{response}");
    assert_eq!(
        response["policyDocument"]["Statement"],
        json!([{"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [METHOD]}])
    );
    assert_eq!(
        response["context"],
        json!({"rooms": "[\"team-7/*\"]", "devices": "[\"d1\"]", "broadcast": "true"})
    );
    let by_protocol = event(json!({}), Some(&format!("bearer, {alice}")));
    let response = authorizer.authorize(&by_protocol, NOW).await.unwrap();
    assert_eq!(response.principal_id.as_deref(), Some("alice"));
}

#[tokio::test]
async fn no_token_or_a_bad_one_is_unauthorized_unless_anonymous_is_allowed() {
    let strict = Authorizer::new(config(false), Rotating::new(&["k1"]), NOW)
        .await
        .unwrap();
    let anonymous = event(json!({"clientId": "bob"}), None);
    assert_eq!(strict.authorize(&anonymous, NOW).await, Err(Unauthorized));
    let expired = event(json!({"token": token("alice", "k1")}), None);
    assert_eq!(
        strict.authorize(&expired, NOW + 3600).await,
        Err(Unauthorized)
    );
    let tampered = event(json!({"token": format!("{}A", token("alice", "k1"))}), None);
    assert_eq!(strict.authorize(&tampered, NOW).await, Err(Unauthorized));

    let open = Authorizer::new(config(true), Rotating::new(&["k1"]), NOW)
        .await
        .unwrap();
    let response = open.authorize(&anonymous, NOW).await.unwrap();
    assert_eq!(response.principal_id.as_deref(), Some("bob"));
    assert!(
        response.context.is_empty(),
        "an anonymous connection is not bounded"
    );
    // A token still decides when there is one, and a bad one is still refused.
    assert_eq!(open.authorize(&tampered, NOW).await, Err(Unauthorized));
    let diagnostic = lambda_runtime::Diagnostic::from(Unauthorized);
    assert_eq!(
        diagnostic.error_message, "Unauthorized",
        "API Gateway's 401"
    );
}

#[tokio::test]
async fn rotated_keys_are_read_again_at_most_once_a_minute() {
    // The issuer rotates from k1 to k2, then to k3; the cold start read k1.
    let authorizer = Authorizer::new(config(false), Rotating::new(&["k1", "k2", "k3"]), NOW)
        .await
        .unwrap();
    let on = |kid: &str| event(json!({"token": token("alice", kid)}), None);
    // Within a minute of the last read an unknown kid does not make it read again.
    assert_eq!(
        authorizer.authorize(&on("k2"), NOW + 30).await,
        Err(Unauthorized)
    );
    // Past it, it does, and the token on the new key is allowed.
    let response = authorizer.authorize(&on("k2"), NOW + 61).await.unwrap();
    assert_eq!(response.principal_id.as_deref(), Some("alice"));
    // k3 comes within the minute after that read: refused, without reading.
    assert_eq!(
        authorizer.authorize(&on("k3"), NOW + 62).await,
        Err(Unauthorized)
    );
    assert!(authorizer.authorize(&on("k2"), NOW + 62).await.is_ok());
}

#[test]
fn settings_are_checked_and_named() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let err = AuthorizerConfig::from_lookup(lookup(&[])).unwrap_err();
    assert_eq!(err.variable, "AUTH_MODE");
    let err = AuthorizerConfig::from_lookup(lookup(&[("AUTH_MODE", "jwks")])).unwrap_err();
    assert_eq!(err.variable, "JWKS_URL");
    let err = AuthorizerConfig::from_lookup(lookup(&[
        ("AUTH_MODE", "jwks"),
        ("JWKS_URL", "https://issuer.example/jwks.json"),
    ]))
    .unwrap_err();
    assert_eq!(
        err.variable, "ISSUER",
        "a key set alone does not say whose tokens"
    );
    let ok = AuthorizerConfig::from_lookup(lookup(&[
        ("AUTH_MODE", "hs256"),
        (
            "HS256_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt",
        ),
        ("ALLOW_ANONYMOUS", "true"),
    ]))
    .unwrap();
    assert!(ok.allow_anonymous);
    assert_eq!(ok.issuer, None);
    let err = AuthorizerConfig::from_lookup(lookup(&[
        ("AUTH_MODE", "hs256"),
        ("HS256_SECRET_ARN", "arn"),
        ("ALLOW_ANONYMOUS", "yes"),
    ]))
    .unwrap_err();
    assert_eq!(err.variable, "ALLOW_ANONYMOUS");
}

#[tokio::test]
async fn a_jwks_is_read_over_http_on_loopback_and_only_https_elsewhere() {
    assert!(JwksUrl::new("http://issuer.example/jwks.json").is_err());
    assert!(JwksUrl::new("https://issuer.example/jwks.json").is_ok());
    // A one-shot HTTP server with the key set.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = jwks("k1");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let _ = socket.read(&mut request).await.unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(body.as_bytes()).await.unwrap();
    });
    let source = JwksUrl::new(&format!("http://127.0.0.1:{port}/jwks.json")).unwrap();
    let verifier = source.load().await.unwrap();
    assert!(verifier.knows(Some("k1")));
    // Nothing listens there any more: the error names the URL.
    let err = source.load().await.unwrap_err();
    assert!(err.to_string().contains("/jwks.json"), "{err}");
}
