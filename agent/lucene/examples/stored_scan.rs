//! Times a full stored-fields pass over one segment, the backfill's hot loop.
//!
//! Usage: `cargo run --release -p ferry-lucene --example stored_scan -- <dir> <segment> <segment-id-hex> <max-doc> [rounds]`
//! with the segment's `.fdt`/`.fdx`/`.fdm` in `<dir>` (not compound). Prints docs/s and MB/s of field values.

use std::path::Path;
use std::time::Instant;

use ferry_lucene::stored::{StoredFieldVisitor, StoredFieldsReader, StoredValue};
use ferry_lucene::{map_file, FileBytes, Result};

/// Touches every value the way a sink would: counts documents and value bytes.
#[derive(Default)]
struct Totals {
    docs: u64,
    value_bytes: u64,
}

impl StoredFieldVisitor for Totals {
    fn start_document(&mut self, _doc: u32) -> Result<()> {
        self.docs += 1;
        Ok(())
    }
    fn field(&mut self, _field_number: u32, value: StoredValue<'_>) -> Result<()> {
        self.value_bytes += match value {
            StoredValue::Str(s) => s.len() as u64,
            StoredValue::Bytes(b) => b.len() as u64,
            _ => 8,
        };
        Ok(())
    }
    fn end_document(&mut self, _doc: u32) -> Result<()> {
        Ok(())
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, segment, id_hex, max_doc, rest @ ..] = args.as_slice() else {
        eprintln!("usage: stored_scan <dir> <segment> <segment-id-hex> <max-doc> [rounds]");
        std::process::exit(2);
    };
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = id_hex.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
    }
    let max_doc: u32 = max_doc.parse().unwrap_or(0);
    let rounds: u32 = rest.first().and_then(|r| r.parse().ok()).unwrap_or(3);
    let open = |ext: &str| -> Result<Option<FileBytes>> {
        let name = format!("{segment}.{ext}");
        let path = Path::new(dir).join(&name);
        if path.exists() {
            map_file(&path, &name).map(Some)
        } else {
            Ok(None)
        }
    };
    let fdt = open("fdt")?.unwrap_or_else(|| FileBytes::from_vec("missing.fdt", Vec::new()));
    let started = Instant::now();
    let reader = StoredFieldsReader::open(fdt, open("fdx")?, open("fdm")?, &id, "", max_doc)?;
    println!("open (incl. checksums): {:.3} s", started.elapsed().as_secs_f64());
    for round in 0..rounds {
        let mut totals = Totals::default();
        let started = Instant::now();
        reader.visit_live(&|_| true, &mut totals)?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "rust round {round}: {} docs, {} value bytes, {secs:.3} s, {:.0} docs/s, {:.1} MB/s",
            totals.docs,
            totals.value_bytes,
            totals.docs as f64 / secs,
            totals.value_bytes as f64 / secs / 1e6
        );
    }
    Ok(())
}
