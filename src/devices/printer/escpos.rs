//! An ESC/POS builder: the commands a receipt is made of, Chinese text in GB18030, QR codes with
//! `GS ( k`, and raster images (`GS v 0`) for lines whose characters a printer's built-in font
//! may lack.

use encoding_rs::GB18030;

use super::font::{self, CELL_H, Canvas};

pub const ESC: u8 = 0x1B;
pub const GS: u8 = 0x1D;
pub const FS: u8 = 0x1C;
pub const DLE: u8 = 0x10;
pub const EOT: u8 = 0x04;
pub const LF: u8 = 0x0A;

/// Paper width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Paper {
    /// 58 mm: 384 dots, 32 half-width columns.
    Mm58,
    /// 80 mm: 576 dots, 48 half-width columns.
    #[default]
    Mm80,
}

impl Paper {
    pub fn from_mm(mm: u32) -> Option<Self> {
        match mm {
            58 => Some(Paper::Mm58),
            80 => Some(Paper::Mm80),
            _ => None,
        }
    }
    pub fn dots(self) -> u32 {
        match self {
            Paper::Mm58 => 384,
            Paper::Mm80 => 576,
        }
    }
    /// Half-width columns at size 1.
    pub fn columns(self) -> usize {
        (self.dots() / font::CELL_W) as usize
    }
}

/// `ESC a n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// QR error correction (`GS ( k` fn 69).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrEc {
    L,
    M,
    Q,
    H,
}

impl QrEc {
    pub fn code(self) -> u8 {
        match self {
            QrEc::L => 48,
            QrEc::M => 49,
            QrEc::Q => 50,
            QrEc::H => 51,
        }
    }
    pub fn from_code(n: u8) -> Option<Self> {
        match n {
            48 => Some(QrEc::L),
            49 => Some(QrEc::M),
            50 => Some(QrEc::Q),
            51 => Some(QrEc::H),
            _ => None,
        }
    }
}

/// The most bytes of raster data sent in one `GS v 0` (a printer's receive buffer is often
/// 4 KiB; stay well below).
pub const RASTER_CHUNK_BYTES: usize = 1536;

/// Whether a typical Chinese printer's built-in font (GB2312) has `c`: ASCII, or a two-byte
/// GB18030 code inside the GB2312 area (A1A1–F7FE).
pub fn printer_font_has(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_control();
    }
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = GB18030.encode(c.encode_utf8(&mut buf));
    !unmappable
        && bytes.len() == 2
        && (0xA1..=0xF7).contains(&bytes[0])
        && (0xA1..=0xFE).contains(&bytes[1])
}

/// Builds one print job.
#[derive(Debug, Clone)]
pub struct EscPos {
    buf: Vec<u8>,
    paper: Paper,
    align: Align,
    size: (u8, u8),
    bold: bool,
}

impl EscPos {
    /// A job for `paper`: `ESC @` (initialise) and `FS &` (Chinese mode).
    pub fn new(paper: Paper) -> Self {
        EscPos {
            buf: vec![ESC, b'@', FS, b'&'],
            paper,
            align: Align::Left,
            size: (1, 1),
            bold: false,
        }
    }

    pub fn paper(&self) -> Paper {
        self.paper
    }

    /// Half-width columns at the current size.
    pub fn columns(&self) -> usize {
        self.paper.columns() / usize::from(self.size.0)
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// `ESC a n`.
    pub fn align(&mut self, a: Align) -> &mut Self {
        self.align = a;
        let n = match a {
            Align::Left => 0,
            Align::Center => 1,
            Align::Right => 2,
        };
        self.raw(&[ESC, b'a', n])
    }

    /// `ESC E n`.
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.bold = on;
        self.raw(&[ESC, b'E', u8::from(on)])
    }

    /// `GS ! n`: width and height multipliers 1..=8.
    pub fn size(&mut self, width: u8, height: u8) -> &mut Self {
        let (w, h) = (width.clamp(1, 8), height.clamp(1, 8));
        self.size = (w, h);
        self.raw(&[GS, b'!', ((w - 1) << 4) | (h - 1)])
    }

    /// One line of text, ended by LF. A line with a character the printer's font may lack is
    /// sent as a raster image drawn with the kiosk's font instead.
    pub fn line(&mut self, text: &str) -> &mut Self {
        if text.chars().all(printer_font_has) {
            let (bytes, _, _) = GB18030.encode(text);
            self.buf.extend_from_slice(&bytes);
            self.raw(&[LF])
        } else {
            self.raster_line(text)
        }
    }

    /// Draw `text` with the kiosk font at the current size, alignment and weight, and send it as
    /// raster data.
    pub fn raster_line(&mut self, text: &str) -> &mut Self {
        let (w, h) = (u32::from(self.size.0), u32::from(self.size.1));
        let width = self.paper.dots();
        let text_w = font::text_columns(text) as u32 * font::CELL_W * w;
        let x = match self.align {
            Align::Left => 0,
            Align::Center => width.saturating_sub(text_w) / 2,
            Align::Right => width.saturating_sub(text_w),
        };
        let mut canvas = Canvas::new(width);
        canvas.draw_text(x, 0, text, w, h, self.bold);
        canvas.ensure_height(CELL_H * h);
        self.raster(&canvas)
    }

    /// `GS v 0` of a canvas, in chunks of at most [`RASTER_CHUNK_BYTES`].
    pub fn raster(&mut self, canvas: &Canvas) -> &mut Self {
        let bytes_per_row = canvas.width.div_ceil(8) as usize;
        let rows_per_chunk = (RASTER_CHUNK_BYTES / bytes_per_row).max(1);
        let mut y = 0u32;
        while y < canvas.height {
            let rows = (canvas.height - y).min(rows_per_chunk as u32);
            let mut chunk = Vec::with_capacity(8 + bytes_per_row * rows as usize);
            let xb = (bytes_per_row as u16).to_le_bytes();
            let yb = (rows as u16).to_le_bytes();
            chunk.extend_from_slice(&[GS, b'v', b'0', 0, xb[0], xb[1], yb[0], yb[1]]);
            for row in y..y + rows {
                for byte in 0..bytes_per_row as u32 {
                    let mut b = 0u8;
                    for bit in 0..8 {
                        if canvas.is_black(byte * 8 + bit, row) {
                            b |= 0x80 >> bit;
                        }
                    }
                    chunk.push(b);
                }
            }
            self.buf.extend_from_slice(&chunk);
            y += rows;
        }
        self
    }

    /// `ESC d n`: feed n lines.
    pub fn feed(&mut self, lines: u8) -> &mut Self {
        self.raw(&[ESC, b'd', lines])
    }

    /// A QR code with `GS ( k`: model 2 (fn 65), module size (fn 67), error correction (fn 69),
    /// store (fn 80), print (fn 81).
    pub fn qr(&mut self, data: &str, module: u8, ec: QrEc) -> &mut Self {
        let fun = |buf: &mut Vec<u8>, payload: &[u8]| {
            let len = (payload.len() as u16).to_le_bytes();
            buf.extend_from_slice(&[GS, b'(', b'k', len[0], len[1]]);
            buf.extend_from_slice(payload);
        };
        fun(&mut self.buf, &[49, 65, 50, 0]);
        fun(&mut self.buf, &[49, 67, module.clamp(1, 16)]);
        fun(&mut self.buf, &[49, 69, ec.code()]);
        let mut store = vec![49, 80, 48];
        store.extend_from_slice(data.as_bytes());
        fun(&mut self.buf, &store);
        fun(&mut self.buf, &[49, 81, 48]);
        self
    }

    /// Feed and `GS V 66 0` (feed to the cutter, then partial cut).
    pub fn cut(&mut self) -> &mut Self {
        self.feed(3).raw(&[GS, b'V', 66, 0])
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_starts_with_init_and_chinese_mode() {
        assert_eq!(EscPos::new(Paper::Mm58).finish(), [ESC, b'@', FS, b'&']);
    }

    #[test]
    fn commands_have_their_escpos_bytes() {
        type Case = (&'static str, fn(&mut EscPos), &'static [u8]);
        let table: [Case; 7] = [
            (
                "center",
                |p| {
                    p.align(Align::Center);
                },
                &[ESC, b'a', 1],
            ),
            (
                "bold",
                |p| {
                    p.bold(true);
                },
                &[ESC, b'E', 1],
            ),
            (
                "size 2x2",
                |p| {
                    p.size(2, 2);
                },
                &[GS, b'!', 0x11],
            ),
            (
                "size 1x2",
                |p| {
                    p.size(1, 2);
                },
                &[GS, b'!', 0x01],
            ),
            (
                "feed",
                |p| {
                    p.feed(4);
                },
                &[ESC, b'd', 4],
            ),
            (
                "cut",
                |p| {
                    p.cut();
                },
                &[ESC, b'd', 3, GS, b'V', 66, 0],
            ),
            (
                "text",
                |p| {
                    p.line("手续费：0.00元");
                },
                &[
                    0xCA, 0xD6, 0xD0, 0xF8, 0xB7, 0xD1, 0xA3, 0xBA, b'0', b'.', b'0', b'0', 0xD4,
                    0xAA, LF,
                ],
            ),
        ];
        for (name, f, expected) in table {
            let mut p = EscPos::new(Paper::Mm80);
            f(&mut p);
            assert_eq!(&p.finish()[4..], expected, "{name}");
        }
    }

    #[test]
    fn qr_uses_the_five_gs_k_functions() {
        let mut p = EscPos::new(Paper::Mm80);
        p.qr("AB", 6, QrEc::M);
        let b = p.finish();
        let expected: Vec<u8> = [
            &[GS, b'(', b'k', 4, 0, 49, 65, 50, 0][..],
            &[GS, b'(', b'k', 3, 0, 49, 67, 6],
            &[GS, b'(', b'k', 3, 0, 49, 69, 49],
            &[GS, b'(', b'k', 5, 0, 49, 80, 48, b'A', b'B'],
            &[GS, b'(', b'k', 3, 0, 49, 81, 48],
        ]
        .concat();
        assert_eq!(&b[4..], &expected[..]);
    }

    #[test]
    fn printer_font_coverage_is_gb2312() {
        for (c, expected) in [
            ('A', true),
            ('张', true),
            ('：', true),
            ('￥', true),
            ('¥', false),
            ('龑', false),
            ('堃', false),
            ('\u{7}', false),
        ] {
            assert_eq!(printer_font_has(c), expected, "{c:?}");
        }
    }

    #[test]
    fn a_line_with_a_rare_character_becomes_raster_chunks() {
        let mut p = EscPos::new(Paper::Mm80);
        p.size(2, 2).line("刘堃");
        let b = p.finish();
        // GS ! then GS v 0 with 72 bytes per row and 48 rows, in chunks of at most 1536 bytes.
        let chunks: Vec<usize> = b
            .windows(3)
            .enumerate()
            .filter(|(_, w)| *w == [GS, b'v', b'0'])
            .map(|(i, _)| i)
            .collect();
        assert_eq!(chunks.len(), 3, "48 rows at 21 rows per chunk");
        let first = chunks[0];
        assert_eq!(&b[first + 4..first + 8], &[72, 0, 21, 0]);
        assert!(
            !b.windows(2).any(|w| w == [0xC1, 0xF5]),
            "刘 must not be sent as text"
        );
    }

    #[test]
    fn half_width_yen_is_never_sent_as_text() {
        let mut p = EscPos::new(Paper::Mm58);
        p.line("¥200");
        assert!(p.finish().windows(3).any(|w| w == [GS, b'v', b'0']));
    }
}
