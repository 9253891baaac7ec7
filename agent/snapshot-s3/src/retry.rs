//! Which S3 failures are worth another attempt, and how long to wait before it.

use std::hash::{BuildHasher as _, Hasher as _};
use std::io;
use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// The longest single wait between attempts.
const MAX_DELAY: Duration = Duration::from_secs(20);

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

/// The wait before retry number `retry` (0 for the first retry): exponential from `base`, capped, with full
/// jitter so many readers throttled at once do not retry in lockstep.
pub(crate) fn backoff(base: Duration, retry: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX)).min(MAX_DELAY);
    // A randomly keyed hasher is a sufficient, dependency-free source of jitter.
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(random % millis.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        for retry in 0..40 {
            let ceiling = base.saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX)).min(MAX_DELAY);
            assert!(backoff(base, retry) <= ceiling, "retry {retry}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(Duration::from_secs(10), 3)).collect();
        assert!(spread.len() > 1, "jitter varies the delay");
    }
}
