//! librdkafka's log lines and client errors, forwarded to `tracing`. librdkafka redacts sensitive properties
//! (`sasl.password`, key passwords) in its own output, and this crate never logs a configuration.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

pub(crate) fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", facility, "{message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => tracing::info!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

pub(crate) fn error(error: &KafkaError, reason: &str) {
    // Broker connection losses are routine while a broker restarts; the caller reports their consequences.
    tracing::warn!(target: "librdkafka", error = %error, "{reason}");
}
