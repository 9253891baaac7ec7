//! `TrafficStream::decode` and the exchange assembler over arbitrary records: the input is a sequence of
//! `[u16 LE length][record bytes]`. Records that decode are pushed into one assembler per connection id, as a
//! replayer would; nothing may panic, and the assembler's output must only hold bytes the records carried.
#![no_main]

use std::collections::HashMap;

use ferry_traffic::exchange::Assembler;
use ferry_traffic::TrafficStream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut assemblers: HashMap<String, Assembler> = HashMap::new();
    let mut carried = 0usize;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        let Ok(record) = TrafficStream::decode(bytes) else { continue };
        carried += bytes.len();
        let _ = record.encode_to_vec();
        let assembler =
            assemblers.entry(record.connection_id.clone()).or_insert_with(|| Assembler::new(&record.connection_id));
        assembler.push(&record);
        for exchange in assembler.take_exchanges() {
            assert!(exchange.request.len() + exchange.response.len() <= carried);
        }
        let _ = assembler.buffered_bytes();
    }
    for (_, assembler) in assemblers {
        let connection = assembler.finish();
        for exchange in &connection.exchanges {
            assert!(exchange.request.len() + exchange.response.len() <= carried);
        }
    }
});
