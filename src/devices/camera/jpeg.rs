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
        // A marker: one or more 0xFF fill bytes, then the marker code.
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
        let at = pos - 1;
        pos += 1;
        match marker {
            // Standalone markers: TEM and RSTn.
            0x01 | 0xD0..=0xD7 => continue,
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
        let body = &bytes[pos + 2..end];
        // SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            if body.len() < 5 {
                return Err(JpegError::Truncated(end));
            }
            let height = u16::from_be_bytes([body[1], body[2]]);
            let width = u16::from_be_bytes([body[3], body[4]]);
            if width == 0 || height == 0 {
                return Err(JpegError::ZeroSize);
            }
            size = Some((width, height));
        }
        pos = end;
        if marker == 0xDA {
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

    proptest::proptest! {
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
