//! Which S3 failures are worth another attempt, and how long to wait before it.

use std::io;
use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// The longest single wait between attempts.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(20);

/// A failed attempt: whether to try again, and the error to report if not.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) retryable: bool,
    pub(crate) error: io::Error,
}

impl Failure {
    /// A failure worth retrying: the connection broke or the body was cut short.
    pub(crate) fn transient(message: String) -> Self {
        Failure { retryable: true, error: io::Error::new(io::ErrorKind::ConnectionAborted, message) }
    }

    /// A failure that another attempt would not fix.
    pub(crate) fn fatal(kind: io::ErrorKind, message: String) -> Self {
        Failure { retryable: false, error: io::Error::new(kind, message) }
    }

    /// Classifies an SDK error: throttling, timeouts, 5xx and connection failures are retried; 404 becomes
    /// `NotFound` so callers can tell a missing blob from a broken store; everything else is final.
    pub(crate) fn from_sdk<E, R>(error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HasStatus,
    {
        let status = error.raw_response().map(HasStatus::status);
        let code = error.code().map(str::to_owned);
        let message = DisplayErrorContext(&error).to_string();
        match &error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
                Failure::transient(message)
            }
            SdkError::ServiceError(_) => {
                let throttled = matches!(
                    code.as_deref(),
                    Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestTimeout" | "InternalError")
                );
                match status {
                    Some(404) => Failure::fatal(io::ErrorKind::NotFound, message),
                    Some(403) => Failure::fatal(io::ErrorKind::PermissionDenied, message),
                    Some(429 | 500..=599) => Failure::transient(message),
                    _ if throttled => Failure::transient(message),
                    _ => Failure::fatal(io::ErrorKind::Other, message),
                }
            }
            _ => Failure::fatal(io::ErrorKind::Other, message),
        }
    }
}

/// The HTTP status of a raw SDK response.
pub(crate) trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}
