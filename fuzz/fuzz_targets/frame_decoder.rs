//! The GA 467 streaming frame decoder on arbitrary bytes, fed in arbitrary pieces.
//!
//! Checks: no panic; the decoder never holds more than it was given; the frames found do not
//! depend on how the bytes were split; every frame found re-encodes to bytes that decode to it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/devices/reader/frame.rs"]
mod frame;

fn decode(pieces: std::slice::Chunks<'_, u8>) -> (Vec<Result<Vec<u8>, frame::FrameError>>, usize) {
    let mut d = frame::Decoder::new();
    let mut out = Vec::new();
    let mut given = 0;
    for piece in pieces {
        given += piece.len();
        d.push(piece);
        while let Some(r) = d.next_body() {
            out.push(r);
        }
        assert!(d.pending() <= given);
    }
    (out, d.pending())
}

fuzz_target!(|data: &[u8]| {
    let Some((&c, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(c).max(1);
    let (pieces, pending_a) = decode(stream.chunks(chunk));
    let (whole, pending_b) = decode(stream.chunks(stream.len().max(1)));
    assert_eq!(pieces, whole);
    assert_eq!(pending_a, pending_b);
    for body in whole.into_iter().flatten() {
        let bytes = frame::encode_frame(&body);
        let mut d = frame::Decoder::new();
        d.push(&bytes);
        assert_eq!(d.next_body(), Some(Ok(body.clone())));
        assert_eq!(d.pending(), 0);
        let _ = frame::Response::from_body(&body);
    }
});
