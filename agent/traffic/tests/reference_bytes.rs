//! Records as the Migration Assistant's Java writer serialises them (protobuf-java writes fields in field-number
//! order): every field of `TrafficCaptureStream.proto`, including `partition` (8) and the observation fields
//! `manifestCycle` (17) and `connectionObservationSequence` (18) of newer writers, decodes losslessly and
//! re-encodes to the same bytes.

use ferry_traffic::{Capture, EndOfMessage, Index, Read, Timestamp, TrafficObservation, TrafficStream};

/// A length-delimited field.
fn field(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, u8::try_from(body.len()).expect("short test field")];
    out.extend_from_slice(body);
    out
}

fn reference_record() -> Vec<u8> {
    let ts = [0x08, 0x96, 0x01, 0x10, 0x2a]; // seconds 150, nanos 42
    let read = field(0x0a, b"GET / HTTP/1.1\r\n\r\n");
    let first = [
        field(0x0a, &ts),       // ts = 1
        field(0x22, &read),     // read = 4
        vec![0x88, 0x01, 0x07], // manifestCycle = 17, varint 7
        vec![0x90, 0x01, 0x01], // connectionObservationSequence = 18, varint 1
    ]
    .concat();
    let eom = [0x08, 0x10, 0x10, 0x12]; // firstLineByteLength 16, headersByteLength 18
    let second = [field(0x0a, &ts), field(0x7a, &eom), vec![0x88, 0x01, 0x07], vec![0x90, 0x01, 0x02]].concat();
    [
        field(0x0a, b"conn-1"), // connectionId = 1
        field(0x12, &first),    // subStream = 2
        field(0x12, &second),
        vec![0x18, 0x05],       // number = 3
        field(0x2a, b"node-a"), // nodeId = 5
        vec![0x30, 0x02],       // priorRequestsReceived = 6
        vec![0x38, 0x00],       // lastObservationWasUnterminatedRead = 7 (explicitly false)
        vec![0x40, 0x03],       // partition = 8
    ]
    .concat()
}

#[test]
fn a_reference_record_with_every_field_decodes_losslessly() {
    let bytes = reference_record();
    let record = TrafficStream::decode(&bytes).expect("decodes");
    let ts = Some(Timestamp { seconds: 150, nanos: 42 });
    let expected = TrafficStream {
        connection_id: "conn-1".into(),
        sub_stream: vec![
            TrafficObservation {
                ts,
                manifest_cycle: Some(7),
                connection_observation_sequence: Some(1),
                capture: Some(Capture::Read(Read { data: b"GET / HTTP/1.1\r\n\r\n".to_vec() })),
            },
            TrafficObservation {
                ts,
                manifest_cycle: Some(7),
                connection_observation_sequence: Some(2),
                capture: Some(Capture::EndOfMessageIndicator(EndOfMessage {
                    first_line_byte_length: Some(16),
                    headers_byte_length: Some(18),
                })),
            },
        ],
        node_id: "node-a".into(),
        prior_requests_received: Some(2),
        last_observation_was_unterminated_read: Some(false),
        partition: Some(3),
        index: Some(Index::Number(5)),
    };
    assert_eq!(record, expected);
    assert_eq!(record.encode_to_vec(), bytes, "re-encoding gives the reference writer's bytes");
}

#[test]
fn the_last_chunk_index_and_absent_optionals_round_trip() {
    // numberOfThisLastChunk = 4, and no optional field at all (an older writer).
    let bytes = [field(0x0a, b"c"), vec![0x20, 0x09]].concat();
    let record = TrafficStream::decode(&bytes).expect("decodes");
    assert!(record.is_last());
    assert_eq!(record.sequence(), Some(9));
    assert_eq!((record.partition, record.prior_requests_received), (None, None));
    assert_eq!(record.encode_to_vec(), bytes);
}

#[test]
fn truncated_and_corrupt_reference_bytes_are_errors_not_panics() {
    let bytes = reference_record();
    for len in 0..bytes.len() {
        // Every prefix either decodes (it ends on a field boundary) or is a decode error.
        let _ = TrafficStream::decode(&bytes[..len]);
    }
    let mut wrong_type = bytes.clone();
    // partition's tag with wire type 2 (length-delimited) and a length past the end.
    let at = wrong_type.len() - 2;
    wrong_type[at] = 0x42;
    wrong_type[at + 1] = 0x7f;
    assert!(TrafficStream::decode(&wrong_type).is_err());
}
