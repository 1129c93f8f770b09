//! Error classification, in one place, for every AWS adapter: what the caller does next.
//!
//! The decision is a pure function of a few facts about the failure ([`ErrorFacts`]: the kind of
//! failure, the service's error code, the HTTP status), so it is unit-tested without the SDK;
//! [`facts`] reads those facts off any SDK error. The AWS SDK has already retried transient
//! failures with its own backoff by the time we see them (unless retries are disabled), so
//! `Retryable` here means "fail the batch from this record and let Kinesis redeliver it".

use crate::quarantine_port::QuarantineError;
use crate::sink_port::{DeliveryOutcome, SinkError};
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use projections::Delivery;

/// What the caller should do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The target is gone for good (HTTP 410, API Gateway's `GoneException`).
    Gone,
    /// The payload is too large for the target (HTTP 413, `PayloadTooLargeException`): never
    /// retry, quarantine.
    TooLarge,
    /// Transient: throttling, limits, 5xx, timeouts, network.
    Retryable,
    /// Permanent: forbidden, bad request, not found, a request we could not even build.
    Fatal,
}

/// How a request failed, before looking at the service's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The service answered with an error.
    Service,
    /// The request timed out.
    Timeout,
    /// The request could not be sent (connection refused, DNS, TLS).
    Dispatch,
    /// The response could not be read or parsed.
    Response,
    /// The request could not be built (a bug or a bad setting).
    Construction,
}

/// The facts classification looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFacts<'a> {
    /// How the request failed.
    pub kind: FailureKind,
    /// The service's error code (`GoneException`, `ThrottlingException`, ...), if any.
    pub code: Option<&'a str>,
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
}

/// Error codes that mean "slow down or try later", across the services we call (API Gateway
/// management, IoT data plane, SNS, S3, Kinesis, DynamoDB).
const RETRYABLE_CODES: &[&str] = &[
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "KMSThrottlingException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalFailureException",
    "InternalServerError",
    "InternalServerErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    // DynamoDB: a transaction in flight on the same item.
    "TransactionConflictException",
];

/// Error codes that mean the payload can never fit.
const TOO_LARGE_CODES: &[&str] = &["PayloadTooLargeException", "RequestEntityTooLargeException"];

/// Classifies a failure. Codes are looked at before statuses, because some services answer a
/// throttle with a 400 and a code.
pub fn classify(facts: &ErrorFacts<'_>) -> ErrorClass {
    match facts.kind {
        FailureKind::Timeout | FailureKind::Dispatch | FailureKind::Response => {
            return ErrorClass::Retryable
        }
        FailureKind::Construction => return ErrorClass::Fatal,
        FailureKind::Service => {}
    }
    match facts.code {
        Some("GoneException") => return ErrorClass::Gone,
        Some(code) if TOO_LARGE_CODES.contains(&code) => return ErrorClass::TooLarge,
        Some(code) if RETRYABLE_CODES.contains(&code) => return ErrorClass::Retryable,
        _ => {}
    }
    match facts.status {
        Some(410) => ErrorClass::Gone,
        Some(413) => ErrorClass::TooLarge,
        Some(408 | 429) => ErrorClass::Retryable,
        Some(s) if s >= 500 => ErrorClass::Retryable,
        // ForbiddenException (403), validation errors (400), not found (404), and anything else
        // the service says about our request: retrying sends the same request again.
        _ => ErrorClass::Fatal,
    }
}

/// Reads the classification facts off an SDK error, with a message for logs.
pub fn facts<E>(err: &SdkError<E, HttpResponse>) -> (ErrorFacts<'_>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = match err {
        SdkError::ServiceError(_) => FailureKind::Service,
        SdkError::TimeoutError(_) => FailureKind::Timeout,
        SdkError::DispatchFailure(_) => FailureKind::Dispatch,
        SdkError::ResponseError(_) => FailureKind::Response,
        // `ConstructionFailure`, and any kind a later SDK adds: do not retry what we do not know.
        _ => FailureKind::Construction,
    };
    let facts = ErrorFacts {
        kind,
        code: err.code(),
        status: err.raw_response().map(|r| r.status().as_u16()),
    };
    (facts, DisplayErrorContext(err).to_string())
}

/// A delivery's result from a failure's class: `Gone` and `TooLarge` are outcomes the caller
/// acts on, not errors.
pub fn delivery_result(
    d: &Delivery,
    class: ErrorClass,
    message: String,
) -> Result<DeliveryOutcome, SinkError> {
    match class {
        ErrorClass::Gone => Ok(DeliveryOutcome::Gone),
        ErrorClass::TooLarge => Ok(DeliveryOutcome::TooLarge),
        ErrorClass::Retryable => Err(SinkError::new(d, true, message)),
        ErrorClass::Fatal => Err(SinkError::new(d, false, message)),
    }
}

/// Classifies an SDK error from a delivery call.
pub fn delivery_error<E>(
    d: &Delivery,
    what: &str,
    err: &SdkError<E, HttpResponse>,
) -> Result<DeliveryOutcome, SinkError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (facts, message) = facts(err);
    delivery_result(d, classify(&facts), format!("{what}: {message}"))
}

/// Classifies an SDK error from a quarantine write: only transient failures are retryable.
pub fn quarantine_error<E>(what: &str, err: &SdkError<E, HttpResponse>) -> QuarantineError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (facts, message) = facts(err);
    QuarantineError {
        retryable: classify(&facts) == ErrorClass::Retryable,
        message: format!("{what}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: Option<&str>, status: u16) -> ErrorClass {
        classify(&ErrorFacts {
            kind: FailureKind::Service,
            code,
            status: Some(status),
        })
    }

    fn delivery() -> Delivery {
        let channel = projections::Channel::Push {
            client_id: "c".into(),
        };
        Delivery::new(schemas::EventId(7), channel, None, serde_json::json!({}))
    }

    /// A delivery result, comparable: outcomes as they are, errors by retryability and message.
    fn result(class: ErrorClass, message: &str) -> Result<DeliveryOutcome, (bool, String)> {
        delivery_result(&delivery(), class, message.to_owned())
            .map_err(|e| (e.retryable, e.message))
    }

    #[test]
    fn gone_is_an_outcome_not_an_error() {
        assert_eq!(service(Some("GoneException"), 410), ErrorClass::Gone);
        assert_eq!(service(None, 410), ErrorClass::Gone);
        assert_eq!(result(ErrorClass::Gone, ""), Ok(DeliveryOutcome::Gone));
    }

    #[test]
    fn payload_too_large_is_never_retried() {
        assert_eq!(
            service(Some("PayloadTooLargeException"), 413),
            ErrorClass::TooLarge
        );
        assert_eq!(
            service(Some("RequestEntityTooLargeException"), 413),
            ErrorClass::TooLarge
        );
        assert_eq!(service(None, 413), ErrorClass::TooLarge);
        assert_eq!(
            result(ErrorClass::TooLarge, ""),
            Ok(DeliveryOutcome::TooLarge)
        );
    }

    #[test]
    fn throttling_limits_and_5xx_are_retryable() {
        assert_eq!(
            service(Some("LimitExceededException"), 429),
            ErrorClass::Retryable
        );
        // Some services throttle with a 400 and a code: the code decides.
        assert_eq!(service(Some("Throttling"), 400), ErrorClass::Retryable);
        assert_eq!(
            service(Some("ProvisionedThroughputExceededException"), 400),
            ErrorClass::Retryable
        );
        assert_eq!(service(None, 429), ErrorClass::Retryable);
        assert_eq!(service(None, 500), ErrorClass::Retryable);
        assert_eq!(service(Some("SomethingNew"), 503), ErrorClass::Retryable);
        assert_eq!(
            result(ErrorClass::Retryable, "x"),
            Err((true, "x".to_owned()))
        );
    }

    #[test]
    fn forbidden_and_bad_requests_are_fatal() {
        assert_eq!(service(Some("ForbiddenException"), 403), ErrorClass::Fatal);
        assert_eq!(service(Some("AuthorizationError"), 403), ErrorClass::Fatal);
        assert_eq!(service(Some("InvalidParameter"), 400), ErrorClass::Fatal);
        assert_eq!(service(Some("NoSuchBucket"), 404), ErrorClass::Fatal);
        assert_eq!(result(ErrorClass::Fatal, "x"), Err((false, "x".to_owned())));
    }

    #[test]
    fn dynamodb_capacity_and_conflicts_are_retryable_a_failed_condition_is_not() {
        for code in [
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "ThrottlingException",
            "TransactionConflictException",
        ] {
            assert_eq!(service(Some(code), 400), ErrorClass::Retryable, "{code}");
        }
        assert_eq!(
            service(Some("InternalServerError"), 500),
            ErrorClass::Retryable
        );
        // The store maps a failed revision check to a conflict before classifying; anything
        // else about the request itself is not worth retrying.
        assert_eq!(
            service(Some("ConditionalCheckFailedException"), 400),
            ErrorClass::Fatal
        );
        assert_eq!(service(Some("ValidationException"), 400), ErrorClass::Fatal);
        assert_eq!(
            service(Some("ResourceNotFoundException"), 400),
            ErrorClass::Fatal
        );
    }

    #[test]
    fn transport_failures_are_retryable_construction_is_not() {
        for kind in [
            FailureKind::Timeout,
            FailureKind::Dispatch,
            FailureKind::Response,
        ] {
            let facts = ErrorFacts {
                kind,
                code: None,
                status: None,
            };
            assert_eq!(classify(&facts), ErrorClass::Retryable, "{kind:?}");
        }
        let facts = ErrorFacts {
            kind: FailureKind::Construction,
            code: None,
            status: None,
        };
        assert_eq!(classify(&facts), ErrorClass::Fatal);
    }
}
