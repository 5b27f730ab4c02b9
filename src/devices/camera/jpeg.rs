//! A structural check of a JPEG image (no decoding): start of image, well-formed marker
//! segments, a frame header with the picture's size, a scan, and the end of image. It tells a
//! truncated or garbled file from an image before anything is sent to the verification service.

/// The largest frame accepted (a 1080p MJPEG frame is a few hundred KiB).
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;

/// Why bytes are not a usable JPEG image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    #[error("empty (0 bytes)")]
    Empty,
    #[error("{0} bytes, more than the {MAX_FRAME_BYTES} a frame may have")]
    TooLarge(usize),
    #[error("not a JPEG image (it does not start with FF D8)")]
    NotJpeg,
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("a bad marker at byte {0}")]
    BadMarker(usize),
    #[error("no frame header (SOF) before the scan")]
    NoFrameHeader,
    #[error("the image has a zero width or height")]
    ZeroSize,
    #[error("no end of image (FF D9) after the scan: the image is cut short")]
    NoEnd,
}

/// One marker segment of a JPEG image.
#[derive(Debug, Clone, Copy)]
struct Segment<'a> {
    marker: u8,
    /// Where its marker starts (the first 0xFF fill byte).
    start: usize,
    /// What follows its length field (empty for a standalone marker).
    body: &'a [u8],
    /// Where the next segment starts.
    end: usize,
}

impl Segment<'_> {
    /// SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
    fn is_frame_header(&self) -> bool {
        matches!(self.marker, 0xC0..=0xCF) && !matches!(self.marker, 0xC4 | 0xC8 | 0xCC)
    }
}

/// The marker segment at `pos`: one or more 0xFF fill bytes, the marker code, and unless it is
/// standalone (TEM, RSTn) a length and a body that fit in `bytes`.
fn segment_at(bytes: &[u8], pos: usize) -> Result<Segment<'_>, JpegError> {
    let start = pos;
    let mut pos = pos;
    if pos >= bytes.len() {
        return Err(JpegError::Truncated(pos));
    }
    if bytes[pos] != 0xFF {
        return Err(JpegError::BadMarker(pos));
    }
    while pos < bytes.len() && bytes[pos] == 0xFF {
        pos += 1;
    }
    let Some(&marker) = bytes.get(pos) else {
        return Err(JpegError::Truncated(pos));
    };
    // A bad segment is said to be at its marker code's 0xFF (the last fill byte).
    let at = pos - 1;
    pos += 1;
    let standalone = |end| Segment {
        marker,
        start,
        body: &[],
        end,
    };
    match marker {
        0x01 | 0xD0..=0xD7 => return Ok(standalone(pos)),
        0x00 | 0xD8 | 0xD9 => return Err(JpegError::BadMarker(at)),
        _ => {}
    }
    let len = match bytes.get(pos..pos + 2) {
        Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
        None => return Err(JpegError::Truncated(pos)),
    };
    if len < 2 {
        return Err(JpegError::BadMarker(at));
    }
    let end = pos + len;
    if end > bytes.len() {
        return Err(JpegError::Truncated(bytes.len()));
    }
    Ok(Segment {
        body: &bytes[pos + 2..end],
        ..standalone(end)
    })
}

/// The size of a well-formed JPEG image (width, height), or why it is not one.
pub fn inspect(bytes: &[u8]) -> Result<(u16, u16), JpegError> {
    if bytes.is_empty() {
        return Err(JpegError::Empty);
    }
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(JpegError::TooLarge(bytes.len()));
    }
    if bytes.len() < 2 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return Err(JpegError::NotJpeg);
    }
    let mut pos = 2;
    let mut size = None;
    loop {
        let seg = segment_at(bytes, pos)?;
        pos = seg.end;
        if seg.is_frame_header() {
            let body = seg.body;
            if body.len() < 5 {
                return Err(JpegError::Truncated(seg.end));
            }
            let height = u16::from_be_bytes([body[1], body[2]]);
            let width = u16::from_be_bytes([body[3], body[4]]);
            if width == 0 || height == 0 {
                return Err(JpegError::ZeroSize);
            }
            size = Some((width, height));
        }
        if seg.marker == 0xDA {
            // The entropy-coded scan runs to the end of image; camera buffers may pad with zeros.
            let size = size.ok_or(JpegError::NoFrameHeader)?;
            let tail = &bytes[pos..];
            let trimmed = tail.len() - tail.iter().rev().take_while(|b| **b == 0).count();
            return if trimmed >= 2 && tail[trimmed - 2..trimmed] == [0xFF, 0xD9] {
                Ok(size)
            } else {
                Err(JpegError::NoEnd)
            };
        }
    }
}

/// The standard Huffman tables (JPEG, ITU-T T.81 Annex K.3): (class and id, code counts per
/// length, values).
const STANDARD_TABLES: [(u8, [u8; 16], &[u8]); 4] = [
    (
        0x00,
        [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    (
        0x10,
        [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D],
        &[
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
            0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1,
            0x15, 0x52, 0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18,
            0x19, 0x1A, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
            0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57,
            0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75,
            0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92,
            0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
            0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
            0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8,
            0xD9, 0xDA, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2,
            0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
        ],
    ),
    (
        0x01,
        [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    (
        0x11,
        [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
        &[
            0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07,
            0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09,
            0x23, 0x33, 0x52, 0xF0, 0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25,
            0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38,
            0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56,
            0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74,
            0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
            0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
            0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA,
            0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6,
            0xD7, 0xD8, 0xD9, 0xDA, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2,
            0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
        ],
    ),
];

/// The DHT segment holding the four standard tables.
fn standard_dht() -> Vec<u8> {
    let body: usize = STANDARD_TABLES.iter().map(|(_, _, v)| 17 + v.len()).sum();
    let mut out = vec![0xFF, 0xC4];
    out.extend_from_slice(&u16::try_from(body + 2).unwrap_or(u16::MAX).to_be_bytes());
    for (class_id, counts, values) in STANDARD_TABLES {
        out.push(class_id);
        out.extend_from_slice(&counts);
        out.extend_from_slice(values);
    }
    out
}

/// Where the scan's marker starts when no Huffman table (DHT) comes before it; `None` when one
/// does, or when the bytes are not a well-formed JPEG head (left to [`inspect`] to name).
fn scan_without_tables(bytes: &[u8]) -> Option<usize> {
    if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    loop {
        let seg = segment_at(bytes, pos).ok()?;
        match seg.marker {
            0xC4 => return None,
            0xDA => return Some(seg.start),
            _ => pos = seg.end,
        }
    }
}

/// A webcam's MJPEG frame made a standalone JPEG: UVC cameras leave the Huffman tables out and
/// let decoders assume the standard ones (as AVI1 MJPEG does); a strict decoder refuses such a
/// frame. The standard tables are put in before the scan when no table is there; anything else
/// is returned as it is.
pub fn with_standard_huffman_tables(jpeg: Vec<u8>) -> Vec<u8> {
    match scan_without_tables(&jpeg) {
        Some(at) => {
            let dht = standard_dht();
            let mut out = Vec::with_capacity(jpeg.len() + dht.len());
            out.extend_from_slice(&jpeg[..at]);
            out.extend_from_slice(&dht);
            out.extend_from_slice(&jpeg[at..]);
            out
        }
        None => jpeg,
    }
}

/// A minimal well-formed JPEG structure of the given size, whose scan carries `payload` (for tests
/// and the simulators: the check is structural, the scan is not decoded).
pub fn synthetic(width: u16, height: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    // SOF0: precision 8, size, one component.
    out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 0x08]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x01, 0x11, 0x00]);
    // SOS: one component.
    out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    // Scan data never holds FF not followed by 00 (byte stuffing).
    for &b in payload {
        out.push(b);
        if b == 0xFF {
            out.push(0x00);
        }
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_jpeg_gives_its_size() {
        assert_eq!(inspect(&synthetic(640, 480, b"face")), Ok((640, 480)));
        // Zero padding after the end of image (camera buffers) is accepted.
        let mut padded = synthetic(320, 240, &[0xFF, 1, 2]);
        padded.extend_from_slice(&[0; 64]);
        assert_eq!(inspect(&padded), Ok((320, 240)));
    }

    #[test]
    fn garbled_jpegs_are_refused_with_a_reason() {
        let good = synthetic(640, 480, b"face");
        assert_eq!(inspect(&[]), Err(JpegError::Empty));
        assert_eq!(inspect(b"\x89PNG\r\n\x1a\n"), Err(JpegError::NotJpeg));
        assert_eq!(inspect(b"hello, world"), Err(JpegError::NotJpeg));
        assert_eq!(inspect(&good[..good.len() - 2]), Err(JpegError::NoEnd));
        assert!(matches!(inspect(&good[..8]), Err(JpegError::Truncated(_))));
        assert!(matches!(inspect(&good[..3]), Err(JpegError::Truncated(_))));
        let mut bad_marker = good.clone();
        bad_marker[2] = 0x12;
        assert_eq!(inspect(&bad_marker), Err(JpegError::BadMarker(2)));
        assert_eq!(inspect(&synthetic(0, 480, b"x")), Err(JpegError::ZeroSize));
        let no_sof = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 1, 2, 0xFF, 0xD9];
        assert_eq!(inspect(&no_sof), Err(JpegError::NoFrameHeader));
        let huge = vec![0xFF; MAX_FRAME_BYTES + 1];
        assert_eq!(
            inspect(&huge),
            Err(JpegError::TooLarge(MAX_FRAME_BYTES + 1))
        );
    }

    #[test]
    fn the_standard_huffman_tables_are_put_in_only_where_none_are() {
        // Each table's values are as many as its code counts say (T.81 K.3: 12, 162, 12, 162).
        for (class_id, counts, values) in STANDARD_TABLES {
            let n: usize = counts.iter().map(|c| usize::from(*c)).sum();
            assert_eq!(n, values.len(), "table {class_id:#04x}");
        }
        let dht = standard_dht();
        // The well-known MJPEG DHT segment: length 0x01A2.
        assert_eq!(&dht[..4], &[0xFF, 0xC4, 0x01, 0xA2]);
        assert_eq!(dht.len(), 2 + 0x01A2);

        let bare = synthetic(640, 480, b"mjpeg");
        let fixed = with_standard_huffman_tables(bare.clone());
        assert_eq!(fixed.len(), bare.len() + dht.len());
        assert_eq!(inspect(&fixed), Ok((640, 480)));
        // Before the scan, after the frame header.
        let at = fixed.windows(4).position(|w| w == &dht[..4]).unwrap();
        let sos = fixed.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        assert!(at > 2 && at < sos, "{at} {sos}");
        // Already there: unchanged. Not a JPEG: unchanged.
        assert_eq!(with_standard_huffman_tables(fixed.clone()), fixed);
        assert_eq!(with_standard_huffman_tables(b"GIF89a".to_vec()), b"GIF89a");
        assert_eq!(
            with_standard_huffman_tables(vec![0xFF, 0xD8]),
            vec![0xFF, 0xD8]
        );
    }

    proptest::proptest! {
        /// Any bytes: an answer, never a panic, and a JPEG stays one.
        #[test]
        fn adding_tables_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let before = inspect(&bytes);
            let after = inspect(&with_standard_huffman_tables(bytes.clone()));
            if let Ok(size) = before {
                proptest::prop_assert_eq!(after, Ok(size));
            }
        }

        /// Any bytes: an answer, never a panic.
        #[test]
        fn inspect_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = inspect(&bytes);
        }

        /// Any prefix of a well-formed image but the whole is refused.
        #[test]
        fn every_truncation_is_refused(cut in 0usize..30) {
            let good = synthetic(64, 48, b"0123456789");
            let cut = cut.min(good.len() - 1);
            proptest::prop_assert!(inspect(&good[..cut]).is_err());
        }
    }
}
