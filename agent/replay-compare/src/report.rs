//! The summary of a results file (`ferry replay report`): verdict counts per endpoint and per index, latency
//! distributions of source and target side by side, and the most frequent differences with an example each.
//!
//! Memory stays bounded whatever the file's size: latencies go into logarithmic histograms (buckets 1% wide, so
//! a percentile is within 1% of the exact value; the maximum is exact), and the number of distinct endpoints,
//! indices and difference groups kept is capped, the excess counted under [`OTHER`].

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde::Serialize;
use serde_json::Value;

use crate::compare::DifferenceKind;
use crate::result::{ResultLine, VerdictKind};
use crate::Result;

/// The name under which endpoints, indices or difference groups beyond the caps are counted.
pub const OTHER: &str = "(other)";
/// Lines longer than this are not parsed (counted as invalid): a results line is a few kilobytes at most.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
const MAX_ENDPOINTS: usize = 1_000;
const MAX_INDICES: usize = 10_000;
const MAX_GROUPS: usize = 10_000;
/// How many difference groups the report lists.
pub const TOP_DIFFERENCES: usize = 25;
/// Histogram bucket growth: each bucket is 1% wider than the one before.
const GROWTH: f64 = 1.01;

/// A summarised results file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Counts over the whole file.
    pub totals: Totals,
    /// Latencies over all transactions.
    pub latency: LatencyPair,
    /// Per endpoint, most requests first.
    pub endpoints: Vec<EndpointStats>,
    /// Per index named by requests, most requests first (a request naming several counts for each).
    pub indices: Vec<IndexStats>,
    /// The most frequent differences, grouped by endpoint, path (array positions as `*`) and kind.
    pub differences: Vec<DifferenceGroup>,
    /// How many distinct difference groups there were (only the first [`TOP_DIFFERENCES`] are listed).
    pub difference_groups: u64,
}

/// Counts over the whole file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Transactions read.
    pub transactions: u64,
    /// Verdict `match`.
    pub matched: u64,
    /// Verdict `mismatch`.
    pub mismatched: u64,
    /// Verdict `error`.
    pub errors: u64,
    /// Transactions sent again after a restart.
    pub replayed_twice: u64,
    /// Complete lines that are not results (corruption, another file): skipped.
    pub invalid_lines: u64,
    /// An unterminated, unparsable last line: the replayer was killed mid-write. 0 or 1.
    pub torn_lines: u64,
}

/// Verdict counts for one endpoint or index.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Transactions.
    pub requests: u64,
    /// Verdict `match`.
    pub matched: u64,
    /// Verdict `mismatch`.
    pub mismatched: u64,
    /// Verdict `error`.
    pub errors: u64,
}

/// One endpoint's counts and latencies.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointStats {
    /// The endpoint name.
    pub endpoint: String,
    /// Its verdicts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Its latencies.
    pub latency: LatencyPair,
}

/// One index's counts.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStats {
    /// The index name as the request named it (after any renames).
    pub index: String,
    /// Its verdicts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// Source and target latency distributions of the same transactions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencyPair {
    /// The source's, from the capture.
    pub source: Latency,
    /// The target's, measured by the replayer.
    pub target: Latency,
}

/// A latency distribution in milliseconds (percentiles within 1%; absent when there were no samples).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Maximum (exact).
    pub max_ms: Option<f64>,
}

/// Differences sharing endpoint, path and kind.
#[derive(Debug, Clone, Serialize)]
pub struct DifferenceGroup {
    /// The endpoint.
    pub endpoint: String,
    /// The JSON pointer with array positions replaced by `*`.
    pub path: String,
    /// The kind.
    pub kind: DifferenceKind,
    /// How many times it occurred.
    pub count: u64,
    /// The first occurrence.
    pub example: Example,
}

/// Where to find one occurrence of a difference, and what it was.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    /// The connection.
    pub connection: String,
    /// The request's sequence number in it.
    pub sequence: u64,
    /// The exact path.
    pub path: String,
    /// The source's value excerpt.
    pub source: Option<Value>,
    /// The target's value excerpt.
    pub target: Option<Value>,
}

impl Report {
    /// Reads a results file, one [`ResultLine`] per line. Unparsable lines are counted, not fatal; only I/O
    /// errors fail.
    pub fn from_reader(mut reader: impl BufRead) -> Result<Report> {
        let mut builder = Builder::default();
        let mut line = Vec::new();
        while let Some(read) = next_line(&mut reader, &mut line)? {
            if !read.overlong && line.trim_ascii().is_empty() {
                continue;
            }
            match serde_json::from_slice::<ResultLine>(&line).ok().filter(|_| !read.overlong) {
                Some(result) => builder.add(&result),
                None if !read.terminated => builder.totals.torn_lines += 1,
                None => builder.totals.invalid_lines += 1,
            }
        }
        Ok(builder.finish())
    }

    /// The report as a plain-text table for a terminal.
    pub fn render_text(&self) -> String {
        let t = &self.totals;
        let mut out = format!(
            "Replay report: {} transactions: {} matched, {} mismatched, {} errors ({} replayed twice)\n",
            t.transactions, t.matched, t.mismatched, t.errors, t.replayed_twice
        );
        if t.invalid_lines > 0 || t.torn_lines > 0 {
            out.push_str(&format!(
                "Skipped: {} unreadable lines, {} torn last line (replayer stopped mid-write)\n",
                t.invalid_lines, t.torn_lines
            ));
        }
        out.push_str("\nLatency (ms)  source p50 / p90 / p99 / max  vs  target p50 / p90 / p99 / max\n");
        let mut rows = vec![header(&["endpoint", "requests", "match", "mismatch", "error", "source", "target"])];
        let all = Counts { requests: t.transactions, matched: t.matched, mismatched: t.mismatched, errors: t.errors };
        rows.push(latency_row("(all)", &all, &self.latency));
        rows.extend(self.endpoints.iter().map(|e| latency_row(&e.endpoint, &e.counts, &e.latency)));
        out.push_str(&table(&rows));
        if !self.indices.is_empty() {
            let mut rows = vec![header(&["index", "requests", "match", "mismatch", "error"])];
            rows.extend(self.indices.iter().map(|i| {
                let mut row = vec![i.index.clone()];
                row.extend(count_cells(&i.counts));
                row
            }));
            out.push('\n');
            out.push_str(&table(&rows));
        }
        if !self.differences.is_empty() {
            out.push_str(&format!(
                "\nTop differences ({} of {} groups)\n",
                self.differences.len(),
                self.difference_groups
            ));
            for group in &self.differences {
                let e = &group.example;
                let show = |v: &Option<Value>| v.as_ref().map_or_else(|| "-".to_string(), Value::to_string);
                out.push_str(&format!(
                    "{:>8}  {}  {}  {}\n          e.g. connection {} request {} at {}: source {} / target {}\n",
                    group.count,
                    group.endpoint,
                    kind_name(group.kind),
                    if group.path.is_empty() { "(whole)" } else { &group.path },
                    e.connection,
                    e.sequence,
                    if e.path.is_empty() { "(whole)" } else { &e.path },
                    show(&e.source),
                    show(&e.target),
                ));
            }
        }
        out
    }

    /// The same data as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn kind_name(kind: DifferenceKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn header(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn count_cells(counts: &Counts) -> Vec<String> {
    [counts.requests, counts.matched, counts.mismatched, counts.errors].iter().map(u64::to_string).collect()
}

fn latency_row(name: &str, counts: &Counts, latency: &LatencyPair) -> Vec<String> {
    let mut row = vec![name.to_string()];
    row.extend(count_cells(counts));
    row.push(latency_cell(&latency.source));
    row.push(latency_cell(&latency.target));
    row
}

fn latency_cell(latency: &Latency) -> String {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    match latency.count {
        0 => "-".to_string(),
        _ => {
            format!("{} / {} / {} / {}", ms(latency.p50_ms), ms(latency.p90_ms), ms(latency.p99_ms), ms(latency.max_ms))
        }
    }
}

/// Aligns rows in columns: the first left-aligned, the others right-aligned.
fn table(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| if i == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// What [`next_line`] read.
struct LineRead {
    /// The line ended with a newline (false: end of input).
    terminated: bool,
    /// The line exceeded [`MAX_LINE_BYTES`]; only its start is in the buffer.
    overlong: bool,
}

/// Reads the next line into `line` (without its newline), keeping at most [`MAX_LINE_BYTES`] of it.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<LineRead>> {
    line.clear();
    let mut overlong = false;
    let mut any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(LineRead { terminated: false, overlong }));
        }
        any = true;
        let newline = chunk.iter().position(|&b| b == b'\n');
        let data = chunk.get(..newline.unwrap_or(chunk.len())).unwrap_or_default();
        if line.len().saturating_add(data.len()) <= MAX_LINE_BYTES {
            line.extend_from_slice(data);
        } else {
            overlong = true;
        }
        let consumed = newline.map_or(chunk.len(), |n| n.saturating_add(1));
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(Some(LineRead { terminated: true, overlong }));
        }
    }
}

/// A latency histogram with buckets [`GROWTH`] wide, over microseconds.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: BTreeMap<u32, u64>,
    count: u64,
    max_ms: f64,
}

impl Histogram {
    fn record(&mut self, ms: Option<f64>) {
        let Some(ms) = ms.filter(|ms| ms.is_finite() && *ms >= 0.0) else {
            return;
        };
        let micros = ms * 1000.0;
        // `as` saturates: absurd latencies land in the last bucket instead of wrapping.
        let bucket = if micros < 1.0 { 0 } else { ((micros.ln() / GROWTH.ln()).floor() as u32).saturating_add(1) };
        *self.buckets.entry(bucket).or_default() += 1;
        self.count += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    /// The upper bound of the bucket holding the `q` quantile, capped at the exact maximum.
    fn quantile(&self, q: f64) -> Option<f64> {
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count.max(1));
        let mut seen = 0u64;
        for (&bucket, &n) in &self.buckets {
            seen = seen.saturating_add(n);
            if seen >= rank {
                let upper_ms = GROWTH.powf(f64::from(bucket)) / 1000.0;
                return Some(upper_ms.min(self.max_ms));
            }
        }
        None
    }

    fn summary(&self) -> Latency {
        if self.count == 0 {
            return Latency::default();
        }
        Latency {
            count: self.count,
            p50_ms: self.quantile(0.50),
            p90_ms: self.quantile(0.90),
            p99_ms: self.quantile(0.99),
            max_ms: Some(self.max_ms),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Latencies {
    source: Histogram,
    target: Histogram,
}

impl Latencies {
    fn record(&mut self, line: &ResultLine) {
        self.source.record(line.source.latency_ms);
        self.target.record(line.target.latency_ms);
    }

    fn summary(&self) -> LatencyPair {
        LatencyPair { source: self.source.summary(), target: self.target.summary() }
    }
}

impl Counts {
    fn add(&mut self, verdict: VerdictKind) {
        self.requests += 1;
        match verdict {
            VerdictKind::Match => self.matched += 1,
            VerdictKind::Mismatch => self.mismatched += 1,
            VerdictKind::Error => self.errors += 1,
        }
    }
}

#[derive(Default)]
struct Builder {
    totals: Totals,
    latency: Latencies,
    endpoints: HashMap<String, (Counts, Latencies)>,
    indices: HashMap<String, Counts>,
    groups: HashMap<(String, String, DifferenceKind), DifferenceGroup>,
}

impl Builder {
    fn add(&mut self, line: &ResultLine) {
        let t = &mut self.totals;
        t.transactions += 1;
        match line.verdict {
            VerdictKind::Match => t.matched += 1,
            VerdictKind::Mismatch => t.mismatched += 1,
            VerdictKind::Error => t.errors += 1,
        }
        t.replayed_twice += u64::from(line.replayed_twice);
        self.latency.record(line);
        let endpoint = capped_key(&self.endpoints, &line.request.endpoint, MAX_ENDPOINTS);
        let (counts, latency) = self.endpoints.entry(endpoint.clone()).or_default();
        counts.add(line.verdict);
        latency.record(line);
        for index in &line.request.indices {
            let index = capped_key(&self.indices, index, MAX_INDICES);
            self.indices.entry(index).or_default().add(line.verdict);
        }
        for difference in &line.differences {
            let mut key = (endpoint.clone(), group_path(&difference.path), difference.kind);
            if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
                key = (OTHER.to_string(), OTHER.to_string(), difference.kind);
            }
            let group = self.groups.entry(key).or_insert_with_key(|(endpoint, path, kind)| DifferenceGroup {
                endpoint: endpoint.clone(),
                path: path.clone(),
                kind: *kind,
                count: 0,
                example: Example {
                    connection: line.connection.clone(),
                    sequence: line.sequence,
                    path: difference.path.clone(),
                    source: difference.source.clone(),
                    target: difference.target.clone(),
                },
            });
            group.count += 1;
        }
    }

    fn finish(self) -> Report {
        let mut endpoints: Vec<EndpointStats> = self
            .endpoints
            .into_iter()
            .map(|(endpoint, (counts, latency))| EndpointStats { endpoint, counts, latency: latency.summary() })
            .collect();
        endpoints.sort_by(|a, b| b.counts.requests.cmp(&a.counts.requests).then_with(|| a.endpoint.cmp(&b.endpoint)));
        let mut indices: Vec<IndexStats> =
            self.indices.into_iter().map(|(index, counts)| IndexStats { index, counts }).collect();
        indices.sort_by(|a, b| b.counts.requests.cmp(&a.counts.requests).then_with(|| a.index.cmp(&b.index)));
        let difference_groups = self.groups.len() as u64;
        let mut differences: Vec<DifferenceGroup> = self.groups.into_values().collect();
        differences.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| (&a.endpoint, &a.path, a.kind).cmp(&(&b.endpoint, &b.path, b.kind)))
        });
        differences.truncate(TOP_DIFFERENCES);
        Report {
            totals: self.totals,
            latency: self.latency.summary(),
            endpoints,
            indices,
            differences,
            difference_groups,
        }
    }
}

/// `name`, or [`OTHER`] once `map` holds `cap` other names.
fn capped_key<V>(map: &HashMap<String, V>, name: &str, cap: usize) -> String {
    if map.contains_key(name) || map.len() < cap {
        name.to_string()
    } else {
        OTHER.to_string()
    }
}

/// A pointer with array positions replaced by `*`, so `/items/3/index/status` and `/items/7/index/status`
/// group together.
fn group_path(path: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, s)| if i > 0 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { "*" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_stay_within_one_percent() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.record(Some(f64::from(i) / 10.0));
        }
        for (q, exact) in [(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)] {
            let got = h.quantile(q).unwrap();
            assert!((got - exact).abs() <= exact * 0.011, "p{q}: {got} vs {exact}");
        }
        assert_eq!(h.summary().max_ms, Some(100.0));
        h.record(Some(f64::NAN));
        h.record(Some(-1.0));
        h.record(Some(f64::MAX));
        h.record(Some(0.0));
        assert_eq!(h.count, 1002);
        assert_eq!(Histogram::default().summary().p50_ms, None);
    }

    #[test]
    fn array_positions_group() {
        assert_eq!(group_path("/items/3/index/status"), "/items/*/index/status");
        assert_eq!(group_path(""), "");
        assert_eq!(group_path("/hits/hits/12/_source/a1"), "/hits/hits/*/_source/a1");
    }
}
