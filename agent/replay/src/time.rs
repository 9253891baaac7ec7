//! Capture timestamps as RFC 3339 text and as offsets, without a date-time dependency.

use ferry_traffic::Timestamp;

/// `ts` as RFC 3339 UTC with microseconds, e.g. `2026-11-21T14:35:01.123456Z`.
pub(crate) fn rfc3339(ts: &Timestamp) -> String {
    let days = ts.seconds.div_euclid(86_400);
    let secs = ts.seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let micros = ts.nanos.clamp(0, 999_999_999) / 1000;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar. Timestamps come from captures, so the year range of `i64` seconds is far beyond anything seen;
/// the arithmetic is done in `i64` on values bounded by `i64::MAX / 86400`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe.saturating_add(era.saturating_mul(400)).saturating_add(i64::from(month <= 2));
    (year, month, day)
}

/// Milliseconds from `from` to `to`, when both are known and in order.
pub(crate) fn millis_between(from: Option<&Timestamp>, to: Option<&Timestamp>) -> Option<f64> {
    let (from, to) = (from?, to?);
    let nanos = to.as_nanos().checked_sub(from.as_nanos())?;
    (nanos >= 0).then(|| nanos as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339() {
        let at = |seconds, nanos| rfc3339(&Timestamp { seconds, nanos });
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 5_000), "2000-02-29T00:00:00.000005Z");
        assert_eq!(at(1_795_271_701, 123_456_789), "2026-11-21T14:35:01.123456Z");
        assert_eq!(at(-1, 0), "1969-12-31T23:59:59.000000Z");
        // Hostile values do not panic.
        let _ = at(i64::MAX, i32::MAX);
        let _ = at(i64::MIN, -5);
    }

    #[test]
    fn latencies_need_both_ends_in_order() {
        let t = |seconds, nanos| Timestamp { seconds, nanos };
        assert_eq!(millis_between(Some(&t(1, 0)), Some(&t(1, 2_500_000))), Some(2.5));
        assert_eq!(millis_between(Some(&t(2, 0)), Some(&t(1, 0))), None);
        assert_eq!(millis_between(None, Some(&t(1, 0))), None);
    }
}
