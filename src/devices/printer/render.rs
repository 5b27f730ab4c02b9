//! An ESC/POS interpreter: parses a job's bytes into operations, prints them as text for
//! snapshots and reviews, and renders them to an image the way a printer would (the printer
//! simulator, `kiosk device render`). Bytes it does not understand are listed, and the rest is
//! still rendered.

use encoding_rs::GB18030;

use super::escpos::{Align, DLE, ESC, FS, GS, LF, Paper, QrEc};
use super::font::{CELL_H, CELL_W, Canvas, columns};

/// One interpreted operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `ESC @`.
    Init,
    /// `FS &` / `FS .`.
    ChineseMode(bool),
    Align(Align),
    Bold(bool),
    /// `GS !`: width and height multipliers.
    Size(u8, u8),
    /// Printable bytes (GB18030), decoded.
    Text(String),
    /// LF / CR LF.
    LineFeed,
    /// `ESC d n`.
    Feed(u8),
    /// `GS V`.
    Cut,
    QrModel(u8),
    QrModule(u8),
    QrEc(QrEc),
    QrStore(Vec<u8>),
    QrPrint,
    /// `GS v 0`: bytes per row, rows, bits.
    Raster {
        width_bytes: u16,
        rows: u16,
        data: Vec<u8>,
    },
    /// `DLE EOT n` (a status request inside a job).
    StatusRequest(u8),
    /// A byte the interpreter does not know, with its offset.
    Unknown {
        offset: usize,
        byte: u8,
    },
}

/// Parse a job. Never fails: what cannot be understood becomes [`Op::Unknown`].
pub fn parse(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut i = 0;
    let mut text: Vec<u8> = Vec::new();
    let flush_text = |text: &mut Vec<u8>, ops: &mut Vec<Op>| {
        if !text.is_empty() {
            let (s, _) = GB18030.decode_without_bom_handling(text);
            ops.push(Op::Text(s.into_owned()));
            text.clear();
        }
    };
    let at = |i: usize| bytes.get(i).copied();
    while i < bytes.len() {
        let b = bytes[i];
        // Printable text: ASCII, or GB18030 multi-byte sequences (lead 0x81..=0xFE).
        if (0x20..0x7F).contains(&b) {
            text.push(b);
            i += 1;
            continue;
        }
        if (0x81..=0xFE).contains(&b) {
            let n = match at(i + 1) {
                Some(0x30..=0x39) => 4,
                _ => 2,
            };
            let end = (i + n).min(bytes.len());
            text.extend_from_slice(&bytes[i..end]);
            i = end;
            continue;
        }
        flush_text(&mut text, &mut ops);
        let consumed = match (b, at(i + 1)) {
            (LF, _) => {
                ops.push(Op::LineFeed);
                1
            }
            (b'\r', _) => 1,
            (ESC, Some(b'@')) => {
                ops.push(Op::Init);
                2
            }
            (ESC, Some(b'a')) if at(i + 2).is_some() => {
                let a = match at(i + 2).unwrap_or(0) {
                    0 | b'0' => Align::Left,
                    1 | b'1' => Align::Center,
                    _ => Align::Right,
                };
                ops.push(Op::Align(a));
                3
            }
            (ESC, Some(b'E')) if at(i + 2).is_some() => {
                ops.push(Op::Bold(at(i + 2).unwrap_or(0) & 1 == 1));
                3
            }
            (ESC, Some(b'd')) if at(i + 2).is_some() => {
                ops.push(Op::Feed(at(i + 2).unwrap_or(0)));
                3
            }
            (GS, Some(b'!')) if at(i + 2).is_some() => {
                let n = at(i + 2).unwrap_or(0);
                ops.push(Op::Size(((n >> 4) & 7) + 1, (n & 7) + 1));
                3
            }
            (FS, Some(b'&')) => {
                ops.push(Op::ChineseMode(true));
                2
            }
            (FS, Some(b'.')) => {
                ops.push(Op::ChineseMode(false));
                2
            }
            (GS, Some(b'V')) => match at(i + 2) {
                Some(65 | 66) if at(i + 3).is_some() => {
                    ops.push(Op::Cut);
                    4
                }
                Some(0 | 1 | 48 | 49) => {
                    ops.push(Op::Cut);
                    3
                }
                _ => 0,
            },
            (DLE, Some(0x04)) if at(i + 2).is_some() => {
                ops.push(Op::StatusRequest(at(i + 2).unwrap_or(0)));
                3
            }
            (GS, Some(b'(')) if at(i + 2) == Some(b'k') => parse_gs_k(bytes, i, &mut ops),
            (GS, Some(b'v')) if at(i + 2) == Some(b'0') => parse_raster(bytes, i, &mut ops),
            _ => 0,
        };
        if consumed == 0 {
            ops.push(Op::Unknown { offset: i, byte: b });
            i += 1;
        } else {
            i += consumed;
        }
    }
    flush_text(&mut text, &mut ops);
    ops
}

fn parse_gs_k(bytes: &[u8], i: usize, ops: &mut Vec<Op>) -> usize {
    let (Some(&pl), Some(&ph)) = (bytes.get(i + 3), bytes.get(i + 4)) else {
        return 0;
    };
    let len = usize::from(u16::from_le_bytes([pl, ph]));
    let Some(payload) = bytes.get(i + 5..i + 5 + len) else {
        return 0;
    };
    let op = match payload {
        [49, 65, n, ..] => Op::QrModel(*n),
        [49, 67, n] => Op::QrModule(*n),
        [49, 69, n] => match QrEc::from_code(*n) {
            Some(ec) => Op::QrEc(ec),
            None => return 0,
        },
        [49, 80, 48, data @ ..] => Op::QrStore(data.to_vec()),
        [49, 81, 48] => Op::QrPrint,
        _ => return 0,
    };
    ops.push(op);
    5 + len
}

fn parse_raster(bytes: &[u8], i: usize, ops: &mut Vec<Op>) -> usize {
    let Some(h) = bytes.get(i + 4..i + 8) else {
        return 0;
    };
    let width_bytes = u16::from_le_bytes([h[0], h[1]]);
    let rows = u16::from_le_bytes([h[2], h[3]]);
    let n = usize::from(width_bytes) * usize::from(rows);
    let Some(data) = bytes.get(i + 8..i + 8 + n) else {
        return 0;
    };
    ops.push(Op::Raster {
        width_bytes,
        rows,
        data: data.to_vec(),
    });
    8 + n
}

/// The ops as readable text: one printed line per line, commands in brackets. Used for
/// snapshots and for `kiosk device render --text`.
pub fn to_text(ops: &[Op]) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let end_line = |line: &mut String, out: &mut String| {
        out.push_str(line);
        out.push('\n');
        line.clear();
    };
    for op in ops {
        match op {
            Op::Text(t) => line.push_str(t),
            Op::LineFeed => end_line(&mut line, &mut out),
            Op::Init => line.push_str("[init]"),
            Op::ChineseMode(on) => line.push_str(if *on { "[chinese]" } else { "[/chinese]" }),
            Op::Align(a) => line.push_str(match a {
                Align::Left => "[left]",
                Align::Center => "[center]",
                Align::Right => "[right]",
            }),
            Op::Bold(b) => line.push_str(if *b { "[b]" } else { "[/b]" }),
            Op::Size(w, h) => line.push_str(&format!("[size {w}x{h}]")),
            Op::Feed(n) => {
                line.push_str(&format!("[feed {n}]"));
                end_line(&mut line, &mut out);
            }
            Op::Cut => {
                line.push_str("[cut]");
                end_line(&mut line, &mut out);
            }
            Op::QrModel(_) | Op::QrModule(_) | Op::QrEc(_) => {}
            Op::QrStore(d) => line.push_str(&format!("[qr {}]", String::from_utf8_lossy(d))),
            Op::QrPrint => {
                line.push_str("[qr print]");
                end_line(&mut line, &mut out);
            }
            Op::Raster {
                width_bytes, rows, ..
            } => {
                line.push_str(&format!(
                    "[raster {}x{}]",
                    u32::from(*width_bytes) * 8,
                    rows
                ));
                end_line(&mut line, &mut out);
            }
            Op::StatusRequest(n) => line.push_str(&format!("[status {n}]")),
            Op::Unknown { offset, byte } => line.push_str(&format!("[? {byte:02X}@{offset}]")),
        }
    }
    if !line.is_empty() {
        end_line(&mut line, &mut out);
    }
    out
}

/// The largest job `kiosk device render` takes (a receipt is a few KB; a full-width raster of
/// the whole paper length about 4 MB at 80 mm is not a receipt). Parsing keeps one operation per
/// byte not understood, so this bounds its memory.
pub const MAX_JOB_BYTES: usize = 2 << 20;
/// Bytes not understood that are listed one by one; the others are counted in one line.
pub const MAX_UNKNOWN_LISTED: usize = 10;

/// The warnings for bytes not understood: the first [`MAX_UNKNOWN_LISTED`] with their offsets,
/// then one line counting the rest.
pub fn unknown_warnings(unknown: &[(usize, u8)]) -> Vec<String> {
    let mut out: Vec<String> = unknown
        .iter()
        .take(MAX_UNKNOWN_LISTED)
        .map(|(offset, byte)| {
            format!("byte {byte:#04x} at offset {offset} not understood (skipped)")
        })
        .collect();
    if unknown.len() > MAX_UNKNOWN_LISTED {
        out.push(format!(
            "… and {} more bytes not understood ({} in all, skipped)",
            unknown.len() - MAX_UNKNOWN_LISTED,
            unknown.len()
        ));
    }
    out
}

/// The bytes the interpreter did not understand.
pub fn unknown_bytes(ops: &[Op]) -> Vec<(usize, u8)> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Unknown { offset, byte } => Some((*offset, *byte)),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Style {
    align: Align,
    bold: bool,
    size: (u8, u8),
}

impl Default for Style {
    fn default() -> Self {
        Style {
            align: Align::Left,
            bold: false,
            size: (1, 1),
        }
    }
}

/// Renders ops onto paper as a thermal printer would.
struct Renderer {
    canvas: Canvas,
    y: u32,
    style: Style,
    /// Pending text of the current line: runs with their style.
    runs: Vec<(String, Style)>,
    qr_module: u8,
    qr_ec: QrEc,
    qr_data: Vec<u8>,
}

const MARGIN: u32 = 8;

impl Renderer {
    fn line_width(&self) -> u32 {
        self.runs
            .iter()
            .map(|(t, s)| {
                t.chars()
                    .map(|c| columns(c) as u32 * CELL_W * u32::from(s.size.0))
                    .sum::<u32>()
            })
            .sum()
    }

    fn add_text(&mut self, text: &str) {
        for c in text.chars() {
            if self.y >= super::font::MAX_HEIGHT {
                // Past the end of the paper drawn: nothing more of this text can show.
                self.canvas.truncated = true;
                self.runs.clear();
                return;
            }
            let w = columns(c) as u32 * CELL_W * u32::from(self.style.size.0);
            if self.line_width() + w > self.canvas.width {
                self.flush_line();
            }
            match self.runs.last_mut() {
                Some((t, s)) if s.bold == self.style.bold && s.size == self.style.size => t.push(c),
                _ => self.runs.push((c.to_string(), self.style)),
            }
        }
    }

    fn flush_line(&mut self) {
        let height = self
            .runs
            .iter()
            .map(|(_, s)| CELL_H * u32::from(s.size.1))
            .max()
            .unwrap_or(CELL_H);
        let width = self.line_width();
        let mut x = match self.style.align {
            Align::Left => 0,
            Align::Center => self.canvas.width.saturating_sub(width) / 2,
            Align::Right => self.canvas.width.saturating_sub(width),
        };
        let runs = std::mem::take(&mut self.runs);
        if self.y >= super::font::MAX_HEIGHT {
            self.canvas.truncated = true;
            return;
        }
        for (text, s) in &runs {
            let top = self.y + height - CELL_H * u32::from(s.size.1);
            x += self.canvas.draw_text(
                x,
                top,
                text,
                u32::from(s.size.0),
                u32::from(s.size.1),
                s.bold,
            );
        }
        self.y = self.y.saturating_add(height + 6);
        self.canvas.ensure_height(self.y);
    }

    fn feed(&mut self, lines: u32) {
        if !self.runs.is_empty() {
            self.flush_line();
            return self.feed(lines.saturating_sub(1));
        }
        self.y = self.y.saturating_add(lines * (CELL_H + 6));
        self.canvas.ensure_height(self.y);
    }

    fn print_qr(&mut self) {
        let ec = match self.qr_ec {
            QrEc::L => qrcode::EcLevel::L,
            QrEc::M => qrcode::EcLevel::M,
            QrEc::Q => qrcode::EcLevel::Q,
            QrEc::H => qrcode::EcLevel::H,
        };
        let Ok(code) = qrcode::QrCode::with_error_correction_level(&self.qr_data, ec) else {
            return;
        };
        let n = code.width() as u32;
        let m = u32::from(self.qr_module.max(1));
        let size = n * m;
        let x0 = match self.style.align {
            Align::Left => 0,
            Align::Center => self.canvas.width.saturating_sub(size) / 2,
            Align::Right => self.canvas.width.saturating_sub(size),
        };
        let quiet = 4 * m;
        let y0 = self.y + quiet;
        let colors = code.to_colors();
        for (idx, color) in colors.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (cx, cy) = ((idx as u32) % n, (idx as u32) / n);
                for dy in 0..m {
                    for dx in 0..m {
                        self.canvas
                            .set(i64::from(x0 + cx * m + dx), i64::from(y0 + cy * m + dy));
                    }
                }
            }
        }
        self.y = y0.saturating_add(size + quiet);
        self.canvas.ensure_height(self.y);
    }

    fn raster(&mut self, width_bytes: u16, rows: u16, data: &[u8]) {
        let wb = usize::from(width_bytes);
        let x0 = match self.style.align {
            Align::Left => 0,
            Align::Center => self.canvas.width.saturating_sub(wb as u32 * 8) / 2,
            Align::Right => self.canvas.width.saturating_sub(wb as u32 * 8),
        };
        for row in 0..usize::from(rows) {
            for (bi, byte) in data[row * wb..(row + 1) * wb].iter().enumerate() {
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        self.canvas.set(
                            i64::from(x0) + (bi * 8 + bit) as i64,
                            i64::from(self.y) + row as i64,
                        );
                    }
                }
            }
        }
        self.y = self.y.saturating_add(u32::from(rows));
        self.canvas.ensure_height(self.y);
    }

    fn cut(&mut self) {
        if !self.runs.is_empty() {
            self.flush_line();
        }
        self.y = self.y.saturating_add(8);
        // The cut: a dashed line across the paper.
        for x in 0..self.canvas.width {
            if (x / 8) % 2 == 0 {
                self.canvas.set(i64::from(x), i64::from(self.y));
                self.canvas.set(i64::from(x), i64::from(self.y) + 1);
            }
        }
        self.y = self.y.saturating_add(12);
        self.canvas.ensure_height(self.y);
    }
}

/// Render ops on `paper`.
pub fn render(ops: &[Op], paper: Paper) -> Canvas {
    let mut r = Renderer {
        canvas: Canvas::new(paper.dots()),
        y: MARGIN,
        style: Style::default(),
        runs: Vec::new(),
        qr_module: 3,
        qr_ec: QrEc::L,
        qr_data: Vec::new(),
    };
    r.canvas.ensure_height(MARGIN);
    for op in ops {
        if r.y >= super::font::MAX_HEIGHT {
            // The rest would not be drawn anyway; stop before positions grow without bound.
            r.canvas.truncated = true;
            break;
        }
        match op {
            Op::Init => {
                if !r.runs.is_empty() {
                    r.flush_line();
                }
                r.style = Style::default();
            }
            Op::ChineseMode(_) | Op::StatusRequest(_) | Op::Unknown { .. } | Op::QrModel(_) => {}
            Op::Align(a) => r.style.align = *a,
            Op::Bold(b) => r.style.bold = *b,
            Op::Size(w, h) => r.style.size = (*w, *h),
            Op::Text(t) => r.add_text(t),
            Op::LineFeed => {
                if r.runs.is_empty() {
                    r.feed(1);
                } else {
                    r.flush_line();
                }
            }
            Op::Feed(n) => r.feed(u32::from(*n)),
            Op::Cut => r.cut(),
            Op::QrModule(m) => r.qr_module = *m,
            Op::QrEc(ec) => r.qr_ec = *ec,
            Op::QrStore(d) => r.qr_data = d.clone(),
            Op::QrPrint => r.print_qr(),
            Op::Raster {
                width_bytes,
                rows,
                data,
            } => r.raster(*width_bytes, *rows, data),
        }
    }
    if !r.runs.is_empty() {
        r.flush_line();
    }
    r.canvas.ensure_height(r.y + MARGIN);
    r.canvas
}

#[cfg(test)]
mod tests {
    use super::super::escpos::EscPos;
    use super::*;

    #[test]
    fn the_builder_output_parses_back_to_its_commands() {
        let mut p = EscPos::new(Paper::Mm58);
        p.align(Align::Center)
            .bold(true)
            .size(2, 2)
            .line("处理凭证");
        p.size(1, 1)
            .bold(false)
            .align(Align::Left)
            .line("手续费：0.00元");
        p.qr("RCPT", 6, QrEc::M).cut();
        let ops = parse(&p.finish());
        assert_eq!(
            to_text(&ops),
            "[init][chinese][center][b][size 2x2]处理凭证\n[size 1x1][/b][left]手续费：0.00元\n[qr RCPT][qr print]\n[feed 3]\n[cut]\n"
        );
        assert!(unknown_bytes(&ops).is_empty());
    }

    #[test]
    fn unknown_bytes_are_listed_and_the_rest_still_parsed() {
        let bytes = [ESC, b'@', 0x07, b'O', b'K', LF, 0x1B, b'z', 0x00];
        let ops = parse(&bytes);
        assert_eq!(unknown_bytes(&ops), vec![(2, 0x07), (6, 0x1B), (8, 0x00)]);
        assert!(ops.contains(&Op::Text("OKz".into())) || ops.contains(&Op::Text("OK".into())));
    }

    #[test]
    fn truncated_commands_do_not_panic() {
        for bytes in [
            &[GS, b'(', b'k', 9, 0, 49][..],
            &[GS, b'v', b'0', 0, 10, 0, 10],
            &[ESC, b'a'],
            &[0xB4],
            &[0x81, 0x30],
        ] {
            let ops = parse(bytes);
            let _ = render(&ops, Paper::Mm58);
        }
    }

    #[test]
    fn endless_feeds_are_cut_off_not_allocated() {
        let bytes: Vec<u8> = std::iter::repeat_n([ESC, b'd', 255], 10_000)
            .flatten()
            .collect();
        let canvas = render(&parse(&bytes), Paper::Mm58);
        assert!(canvas.truncated);
        assert_eq!(canvas.height, crate::devices::printer::font::MAX_HEIGHT);
    }

    #[test]
    fn rendering_draws_text_and_marks_the_cut() {
        let mut p = EscPos::new(Paper::Mm80);
        p.line("缴款凭证").cut();
        let canvas = render(&parse(&p.finish()), Paper::Mm80);
        assert_eq!(canvas.width, 576);
        let dark = canvas.pixels.iter().filter(|p| **p == 0).count();
        assert!(dark > 100, "{dark}");
        // The cut: dashes across the whole width near the bottom.
        let cut_row = (0..canvas.height).rev().find(|y| {
            (0..canvas.width)
                .filter(|x| canvas.is_black(*x, *y))
                .count()
                > 250
        });
        assert!(cut_row.is_some());
    }

    /// The render work is bounded by the paper drawn, not by the text given: 900 KB of 8×8
    /// text draws only the glyphs that fit on MAX_HEIGHT dots.
    #[test]
    fn render_work_stops_at_the_end_of_the_paper() {
        let mut bytes = vec![GS, b'!', 0x77];
        bytes.extend(std::iter::repeat_n(b'A', 900_000));
        let canvas = render(&parse(&bytes), Paper::Mm80);
        assert!(canvas.truncated);
        let per_line = Paper::Mm80.dots() / (CELL_W * 8);
        let lines = super::super::font::MAX_HEIGHT / (CELL_H * 8 + 6) + 1;
        assert!(
            canvas.glyphs <= u64::from(per_line * lines),
            "{} glyphs drawn",
            canvas.glyphs
        );
    }

    #[test]
    fn repeated_warnings_are_listed_up_to_a_count_then_counted_once() {
        let unknown: Vec<(usize, u8)> = (0..100_000).map(|i| (i, 0x07)).collect();
        let w = unknown_warnings(&unknown);
        assert_eq!(w.len(), MAX_UNKNOWN_LISTED + 1);
        assert!(
            w[MAX_UNKNOWN_LISTED].contains("99990 more")
                && w[MAX_UNKNOWN_LISTED].contains("100000 in all")
        );
        assert_eq!(unknown_warnings(&unknown[..3]).len(), 3);
    }
}
