//! The HTTP/1.1 framer on literal messages, fed whole and one byte at a time (a client may split anywhere).

use ferry_traffic::http1::{BodyKind, Event, Framer, Side};

/// Feeds `input` in pieces of `piece` bytes and returns the messages as (head method or status, bytes).
fn frame(side: Side, input: &[u8], piece: usize) -> Result<Vec<Vec<u8>>, String> {
    let mut framer = Framer::new(side);
    let mut messages = Vec::new();
    let mut current = Vec::new();
    for mut chunk in input.chunks(piece) {
        while !chunk.is_empty() {
            let step = framer.next(chunk).map_err(|e| e.to_string())?;
            let (part, rest) = chunk.split_at(step.consumed);
            current.extend_from_slice(part);
            chunk = rest;
            let done = match step.event {
                Some(Event::Head(head)) => !head.is_interim() && framer.message_done(),
                Some(Event::End) => true,
                None => false,
            };
            if done {
                messages.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        messages.push(current);
    }
    Ok(messages)
}

#[test]
fn pipelined_requests_with_length_chunked_and_no_body_are_cut_exactly() {
    let a = &b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"[..];
    let b = &b"POST /b HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc"[..];
    let c = &b"PUT /c HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nt: 1\r\n\r\n"[..];
    let all = [a, b, c].concat();
    for piece in [1, 2, 7, all.len()] {
        assert_eq!(
            frame(Side::Request, &all, piece).unwrap(),
            vec![a.to_vec(), b.to_vec(), c.to_vec()],
            "piece {piece}"
        );
    }
}

#[test]
fn interim_and_bodiless_responses() {
    let r = &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"[..];
    assert_eq!(frame(Side::Response, r, 3).unwrap(), vec![r.to_vec()]);
    let until_close = &b"HTTP/1.0 200 OK\r\n\r\nbody until close"[..];
    let mut framer = Framer::new(Side::Response);
    let step = framer.next(until_close).unwrap();
    match step.event {
        Some(Event::Head(head)) => assert_eq!(head.body, BodyKind::UntilClose),
        other => panic!("{other:?}"),
    }
    assert!(framer.until_close());
}

#[test]
fn head_responses_have_no_body_whatever_the_length_says() {
    let mut framer = Framer::new(Side::Response);
    framer.expect_head_response(true);
    let step = framer.next(b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\nNEXT").unwrap();
    assert_eq!(step.consumed, 39);
    assert!(framer.message_done());
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    for bad in [
        &b"NOT HTTP\r\n\r\n"[..],
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    ] {
        assert!(frame(Side::Request, bad, 1).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    let huge = [&b"GET / HTTP/1.1\r\nx: "[..], &vec![b'a'; 70_000]].concat();
    assert!(frame(Side::Request, &huge, 4096).is_err());
}

#[test]
fn tunnels_are_flagged() {
    let mut framer = Framer::new(Side::Request);
    match framer.next(b"GET /ws HTTP/1.1\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n").unwrap().event {
        Some(Event::Head(head)) => assert!(head.wants_tunnel),
        other => panic!("{other:?}"),
    }
}
