//! AWS Signature Version 4 for Amazon OpenSearch Service (`es`) and OpenSearch Serverless (`aoss`).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tokio::sync::{Mutex, OnceCell};

use crate::{Error, Result, SigV4Service};

/// Credentials are refreshed this long before they expire, so a long `_bulk` never goes out with a stale key.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Signs requests with credentials from the standard AWS chain, loaded on first use and cached until near expiry.
pub(crate) struct Signer {
    region: String,
    service: SigV4Service,
    provider: OnceCell<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
}

impl Signer {
    pub(crate) fn new(region: String, service: SigV4Service) -> Signer {
        Signer { region, service, provider: OnceCell::new(), cached: Mutex::new(None) }
    }

    async fn credentials(&self) -> Result<Credentials> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref() {
            let fresh = match credentials.expiry() {
                None => true,
                Some(expiry) => SystemTime::now().checked_add(REFRESH_MARGIN).is_some_and(|t| t < expiry),
            };
            if fresh {
                return Ok(credentials.clone());
            }
        }
        let provider = self
            .provider
            .get_or_init(|| async {
                let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .region(aws_config::Region::new(self.region.clone()))
                    .build()
                    .await;
                SharedCredentialsProvider::new(chain)
            })
            .await;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Aws(format!("no credentials from the AWS credential chain: {e}")))?;
        tracing::debug!(expiry = ?credentials.expiry(), "loaded AWS credentials");
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    /// Adds `Authorization`, `X-Amz-Date`, `X-Amz-Content-Sha256` (and `X-Amz-Security-Token` for temporary
    /// credentials) to `request`, whose headers must already include `host`. `body` is the exact bytes sent.
    pub(crate) async fn sign(&self, request: &mut http::Request<()>, body: &[u8]) -> Result<()> {
        let credentials = self.credentials().await?;
        sign_request(request, body, &credentials, &self.region, self.service.name(), SystemTime::now())
    }
}

/// Signs `request` at `time`. The payload hash is always sent as `x-amz-content-sha256`: Serverless requires
/// the header, and signing the real payload (never `UNSIGNED-PAYLOAD`) is what the `es` service expects.
pub(crate) fn sign_request(
    request: &mut http::Request<()>,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<()> {
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| Error::Aws(format!("signing parameters: {e}")))?
        .into();
    let mut headers = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let value =
            value.to_str().map_err(|_| Error::Aws(format!("header {name} is not text and cannot be signed")))?;
        headers.push((name.as_str(), value));
    }
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(request.method().as_str(), uri, headers.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| Error::Aws(format!("cannot sign {}: {e}", request.uri())))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| Error::Aws(format!("cannot sign {}: {e}", request.uri())))?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(body: &[u8], session_token: Option<&str>, service: &str) -> http::Request<()> {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("https://search-d.eu-west-1.es.amazonaws.com/_bulk?refresh=false")
            .header("host", "search-d.eu-west-1.es.amazonaws.com")
            .header("content-type", "application/x-ndjson")
            .body(())
            .unwrap();
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token.map(str::to_string),
            None,
            "test",
        );
        // 2015-08-30T12:36:00Z, the AWS test-suite timestamp.
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        sign_request(&mut request, body, &credentials, "eu-west-1", service, time).unwrap();
        request
    }

    fn header<'a>(request: &'a http::Request<()>, name: &str) -> &'a str {
        request.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn signature_shape_and_payload_hash() {
        let request = signed(b"", None, "es");
        assert_eq!(header(&request, "x-amz-date"), "20150830T123600Z");
        // SHA-256 of the empty body: the real payload hash, never UNSIGNED-PAYLOAD.
        assert_eq!(
            header(&request, "x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let authorization = header(&request, "authorization");
        let prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/es/aws4_request, \
                      SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=";
        let signature = authorization.strip_prefix(prefix).unwrap_or_else(|| panic!("{authorization}"));
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(request.headers().get("x-amz-security-token").is_none());

        // Deterministic for fixed inputs; any change of body, service or token changes it.
        assert_eq!(header(&signed(b"", None, "es"), "authorization"), authorization);
        assert_ne!(header(&signed(b"{}\n", None, "es"), "authorization"), authorization);
        let aoss = signed(b"", None, "aoss");
        assert!(header(&aoss, "authorization").contains("/eu-west-1/aoss/aws4_request"));
    }

    #[test]
    fn temporary_credentials_send_their_token() {
        let request = signed(b"{}", Some("session-token"), "es");
        assert_eq!(header(&request, "x-amz-security-token"), "session-token");
        assert!(header(&request, "authorization").contains("x-amz-security-token"));
    }
}
