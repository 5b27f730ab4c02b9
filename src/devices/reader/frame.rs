//! GA 467 framing: preamble `AA AA AA 96 69`, `LEN` (2 bytes BE, the number of bytes after it),
//! body, `CHK` (XOR of the `LEN` bytes and every body byte).

/// The five bytes every frame starts with.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];

/// The longest `LEN` a reader sends (text + photo + fingerprint is 2,321 bytes); anything longer
/// is noise that happened to look like a preamble.
pub const MAX_LEN: usize = 4096;

/// Commands (`CMD PARA`) the kiosk sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// 寻找证/卡 `20 01`.
    FindCard,
    /// 选取证/卡 `20 02`.
    SelectCard,
    /// 读基本信息（文字和照片） `30 01`.
    ReadTextAndPhoto,
    /// 读文字、照片和指纹 `30 10`.
    ReadTextPhotoFingerprint,
    /// 读 SAM 编号 `12 FF`.
    ReadSamId,
    /// 复位 SAM `10 FF`.
    ResetSam,
}

impl Command {
    pub fn code(self) -> [u8; 2] {
        match self {
            Command::FindCard => [0x20, 0x01],
            Command::SelectCard => [0x20, 0x02],
            Command::ReadTextAndPhoto => [0x30, 0x01],
            Command::ReadTextPhotoFingerprint => [0x30, 0x10],
            Command::ReadSamId => [0x12, 0xFF],
            Command::ResetSam => [0x10, 0xFF],
        }
    }

    pub fn from_code(code: [u8; 2]) -> Option<Self> {
        [
            Command::FindCard,
            Command::SelectCard,
            Command::ReadTextAndPhoto,
            Command::ReadTextPhotoFingerprint,
            Command::ReadSamId,
            Command::ResetSam,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }

    /// The complete frame for this command.
    pub fn encode(self) -> Vec<u8> {
        encode_frame(&self.code())
    }
}

/// XOR of `LEN` and the body.
pub fn checksum(len: [u8; 2], body: &[u8]) -> u8 {
    body.iter().fold(len[0] ^ len[1], |acc, b| acc ^ b)
}

/// Frame `body` (a command's `CMD PARA` or a response's `SW1 SW2 SW3 data`).
///
/// # Panics
/// If `body` is 65,535 bytes or longer (no GA 467 frame is; callers frame their own bodies).
pub fn encode_frame(body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 1)
        .expect("a GA 467 body is shorter than 64 KiB")
        .to_be_bytes();
    let mut out = Vec::with_capacity(PREAMBLE.len() + 2 + body.len() + 1);
    out.extend_from_slice(&PREAMBLE);
    out.extend_from_slice(&len);
    out.extend_from_slice(body);
    out.push(checksum(len, body));
    out
}

/// The three status bytes `SW1 SW2 SW3` of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `00 00 90` 操作成功.
    Success,
    /// `00 00 9F` 寻找证/卡成功.
    FindSuccess,
    /// `00 00 80` 寻找证/卡失败 (no card on the reader).
    NoCard,
    /// `00 00 81` 选取证/卡失败.
    SelectFailed,
    /// `00 00 41` 读证/卡操作失败.
    ReadFailed,
    /// `00 00 10` the reader received a frame with a bad checksum.
    ChecksumRejected,
    /// `00 00 21` the reader does not know the command.
    UnknownCommand,
    /// Any other status, with its three bytes.
    Other([u8; 3]),
}

impl Status {
    pub fn from_bytes(sw: [u8; 3]) -> Self {
        match sw {
            [0, 0, 0x90] => Status::Success,
            [0, 0, 0x9F] => Status::FindSuccess,
            [0, 0, 0x80] => Status::NoCard,
            [0, 0, 0x81] => Status::SelectFailed,
            [0, 0, 0x41] => Status::ReadFailed,
            [0, 0, 0x10] => Status::ChecksumRejected,
            [0, 0, 0x21] => Status::UnknownCommand,
            other => Status::Other(other),
        }
    }

    pub fn to_bytes(self) -> [u8; 3] {
        match self {
            Status::Success => [0, 0, 0x90],
            Status::FindSuccess => [0, 0, 0x9F],
            Status::NoCard => [0, 0, 0x80],
            Status::SelectFailed => [0, 0, 0x81],
            Status::ReadFailed => [0, 0, 0x41],
            Status::ChecksumRejected => [0, 0, 0x10],
            Status::UnknownCommand => [0, 0, 0x21],
            Status::Other(b) => b,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = self.to_bytes();
        let what = match self {
            Status::Success => "success",
            Status::FindSuccess => "card found",
            Status::NoCard => "no card",
            Status::SelectFailed => "select failed",
            Status::ReadFailed => "read failed",
            Status::ChecksumRejected => "the reader rejected our checksum",
            Status::UnknownCommand => "unknown command",
            Status::Other(_) => "error",
        };
        write!(f, "{what} ({a:02X} {b:02X} {c:02X})")
    }
}

/// A decoded response: its status and the data after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub data: Vec<u8>,
}

impl Response {
    /// A response body (`SW1 SW2 SW3 data`), as the reader sends it.
    pub fn from_body(body: &[u8]) -> Result<Self, FrameError> {
        if body.len() < 3 {
            return Err(FrameError::ShortResponse(body.len()));
        }
        Ok(Response {
            status: Status::from_bytes([body[0], body[1], body[2]]),
            data: body[3..].to_vec(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut body = self.status.to_bytes().to_vec();
        body.extend_from_slice(&self.data);
        encode_frame(&body)
    }
}

/// A frame that could not be decoded. The decoder has already skipped past it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("bad checksum: computed {computed:02X}, frame says {received:02X}")]
    BadChecksum { computed: u8, received: u8 },
    #[error("frame length {0} is out of range (1..={MAX_LEN})")]
    BadLength(usize),
    #[error("a response needs at least 3 status bytes, this one has {0}")]
    ShortResponse(usize),
    #[error("the reader rejected the checksum of our frame (status 00 00 10)")]
    RejectedByReader,
}

/// A streaming frame decoder: feed it whatever bytes arrive, take frame bodies out.
///
/// Bytes before a preamble are noise and are dropped (counted in [`Decoder::noise_bytes`]); a
/// frame that arrived only in part stays buffered until the rest comes; a frame whose checksum
/// fails is reported once and the decoder resynchronises on the next preamble.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    noise: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes dropped so far because they were not part of a frame.
    pub fn noise_bytes(&self) -> usize {
        self.noise
    }

    /// Bytes held while waiting for the rest of a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Forget everything buffered (after a reopen).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    fn drop_front(&mut self, n: usize) {
        self.noise += n;
        self.buf.drain(..n);
    }

    /// The next complete frame's body, an error for a broken frame, or `None` until more bytes
    /// arrive.
    pub fn next_body(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        // Resynchronise: keep from the first possible preamble start.
        match find_preamble(&self.buf) {
            Some(0) => {}
            Some(i) => self.drop_front(i),
            None => {
                // Keep a tail that may be the beginning of a preamble.
                let keep = partial_preamble_suffix(&self.buf);
                let n = self.buf.len() - keep;
                self.drop_front(n);
                return None;
            }
        }
        if self.buf.len() < PREAMBLE.len() + 2 {
            return None;
        }
        let len_bytes = [self.buf[5], self.buf[6]];
        let len = usize::from(u16::from_be_bytes(len_bytes));
        if !(1..=MAX_LEN).contains(&len) {
            self.drop_front(1);
            return Some(Err(FrameError::BadLength(len)));
        }
        let total = PREAMBLE.len() + 2 + len;
        if self.buf.len() < total {
            return None;
        }
        let body = &self.buf[7..total - 1];
        let received = self.buf[total - 1];
        let computed = checksum(len_bytes, body);
        if computed != received {
            // Skip only the first preamble byte: if this "frame" was noise that looked like
            // a preamble, a real frame inside it is still found.
            self.drop_front(1);
            return Some(Err(FrameError::BadChecksum { computed, received }));
        }
        let body = body.to_vec();
        self.buf.drain(..total);
        Some(Ok(body))
    }

    /// The next complete response (see [`Decoder::next_body`]).
    pub fn next_response(&mut self) -> Option<Result<Response, FrameError>> {
        self.next_body()
            .map(|r| r.and_then(|body| Response::from_body(&body)))
    }
}

fn find_preamble(buf: &[u8]) -> Option<usize> {
    buf.windows(PREAMBLE.len()).position(|w| w == PREAMBLE)
}

/// Length of the longest suffix of `buf` that is a proper prefix of the preamble.
fn partial_preamble_suffix(buf: &[u8]) -> usize {
    (1..PREAMBLE.len())
        .rev()
        .find(|&k| buf.len() >= k && buf[buf.len() - k..] == PREAMBLE[..k])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_card_command_is_the_spec_bytes() {
        assert_eq!(
            Command::FindCard.encode(),
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22]
        );
    }

    #[test]
    fn every_command_round_trips_through_the_decoder() {
        for cmd in [
            Command::FindCard,
            Command::SelectCard,
            Command::ReadTextAndPhoto,
            Command::ReadTextPhotoFingerprint,
            Command::ReadSamId,
            Command::ResetSam,
        ] {
            let mut d = Decoder::new();
            d.push(&cmd.encode());
            let body = d.next_body().unwrap().unwrap();
            assert_eq!(Command::from_code([body[0], body[1]]), Some(cmd));
            assert!(d.next_body().is_none());
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn status_words_map_both_ways() {
        let table = [
            ([0, 0, 0x90], Status::Success),
            ([0, 0, 0x9F], Status::FindSuccess),
            ([0, 0, 0x80], Status::NoCard),
            ([0, 0, 0x81], Status::SelectFailed),
            ([0, 0, 0x41], Status::ReadFailed),
            ([0, 0, 0x10], Status::ChecksumRejected),
            ([0, 0, 0x21], Status::UnknownCommand),
            ([0, 0, 0x33], Status::Other([0, 0, 0x33])),
            ([1, 0, 0x90], Status::Other([1, 0, 0x90])),
        ];
        for (bytes, status) in table {
            assert_eq!(Status::from_bytes(bytes), status);
            assert_eq!(status.to_bytes(), bytes);
        }
    }

    #[test]
    fn decoder_resynchronises_after_noise_and_partial_preambles() {
        let frame = Response {
            status: Status::NoCard,
            data: vec![],
        }
        .encode();
        let mut stream = vec![0x00, 0xAA, 0xAA, 0x13, 0xAA, 0x96, 0xFF];
        stream.extend_from_slice(&frame);
        let mut d = Decoder::new();
        d.push(&stream);
        let r = d.next_response().unwrap().unwrap();
        assert_eq!(r.status, Status::NoCard);
        assert_eq!(d.noise_bytes(), 7);
    }

    #[test]
    fn decoder_accumulates_a_frame_fed_one_byte_at_a_time() {
        let frame = Response {
            status: Status::Success,
            data: (0..200).collect(),
        }
        .encode();
        let mut d = Decoder::new();
        for (i, b) in frame.iter().enumerate() {
            d.push(&[*b]);
            let got = d.next_response();
            if i + 1 < frame.len() {
                assert!(got.is_none(), "frame complete too early at byte {i}");
            } else {
                assert_eq!(got.unwrap().unwrap().data.len(), 200);
            }
        }
    }

    #[test]
    fn decoder_reports_a_bad_checksum_then_decodes_the_next_frame() {
        let mut bad = Command::FindCard.encode();
        *bad.last_mut().unwrap() ^= 0xFF;
        let good = Command::SelectCard.encode();
        let mut d = Decoder::new();
        d.push(&bad);
        d.push(&good);
        assert!(matches!(
            d.next_body(),
            Some(Err(FrameError::BadChecksum { .. }))
        ));
        assert_eq!(d.next_body().unwrap().unwrap(), vec![0x20, 0x02]);
        assert!(d.next_body().is_none());
    }

    #[test]
    fn decoder_rejects_zero_and_oversized_lengths() {
        for len in [[0x00, 0x00], [0x20, 0x00]] {
            let mut d = Decoder::new();
            d.push(&PREAMBLE);
            d.push(&len);
            assert!(matches!(d.next_body(), Some(Err(FrameError::BadLength(_)))));
            assert!(d.next_body().is_none());
        }
    }

    #[test]
    fn short_responses_are_errors_not_panics() {
        let mut d = Decoder::new();
        d.push(&encode_frame(&[0x00, 0x00]));
        assert_eq!(d.next_response(), Some(Err(FrameError::ShortResponse(2))));
    }
}
