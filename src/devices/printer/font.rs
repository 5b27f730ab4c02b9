//! The kiosk's CJK font (a Noto Sans SC subset covering at least the 8,105 characters of the
//! 通用规范汉字表), used to draw receipts: raster lines for characters a printer's built-in font
//! lacks, and the simulator's rendering.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// The embedded font file.
pub static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/NotoSansSC-Regular-kiosk.otf");

/// Dots of one half-width character cell at size 1 (a 12×24 printer font).
pub const CELL_W: u32 = 12;
/// Dots of one line at size 1.
pub const CELL_H: u32 = 24;

/// The parsed font.
pub fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(FONT_BYTES).expect("the embedded font parses (tested)")
    })
}

/// Whether the kiosk font can draw `c`.
pub fn has_glyph(c: char) -> bool {
    c.is_ascii_whitespace() || font().glyph_id(c).0 != 0
}

/// Width of `c` in half-width columns: 1 for ASCII and half-width forms, 2 for the rest.
pub fn columns(c: char) -> usize {
    if c.is_ascii() || ('\u{FF61}'..='\u{FFDC}').contains(&c) {
        1
    } else {
        2
    }
}

/// Width of `s` in half-width columns.
pub fn text_columns(s: &str) -> usize {
    s.chars().map(columns).sum()
}

/// The longest canvas drawn: 7.5 m of paper at 8 dots/mm. A job that feeds further (a garbled
/// or hostile file) is cut off there and [`Canvas::truncated`] says so.
pub const MAX_HEIGHT: u32 = 60_000;

/// A white, growable one-byte-per-dot canvas (0 black, 255 white).
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
    /// Something was drawn or fed past [`MAX_HEIGHT`] and left out.
    pub truncated: bool,
    /// Characters drawn (the render work done).
    pub glyphs: u64,
}

impl Canvas {
    pub fn new(width: u32) -> Self {
        Canvas {
            width,
            height: 0,
            pixels: Vec::new(),
            truncated: false,
            glyphs: 0,
        }
    }

    /// Grow to at least `height` rows.
    pub fn ensure_height(&mut self, height: u32) {
        if height > MAX_HEIGHT {
            self.truncated = true;
        }
        let height = height.min(MAX_HEIGHT);
        if height > self.height {
            self.pixels
                .resize(self.width as usize * height as usize, 255);
            self.height = height;
        }
    }

    pub fn set(&mut self, x: i64, y: i64) {
        if x < 0 || y < 0 || x >= i64::from(self.width) {
            return;
        }
        if y >= i64::from(MAX_HEIGHT) {
            self.truncated = true;
            return;
        }
        self.ensure_height(y as u32 + 1);
        self.pixels[y as usize * self.width as usize + x as usize] = 0;
    }

    pub fn is_black(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.height && self.pixels[(y * self.width + x) as usize] == 0
    }

    /// Draw `text` with its top-left at (`x`, `top`), each character in its printer cell
    /// (12×24 dots half-width, 24×24 full-width, times the size multipliers). Returns the width
    /// drawn.
    pub fn draw_text(
        &mut self,
        x: u32,
        top: u32,
        text: &str,
        w_mul: u32,
        h_mul: u32,
        bold: bool,
    ) -> u32 {
        let f = font();
        let scale = PxScale {
            x: (CELL_H * w_mul) as f32,
            y: (CELL_H * h_mul) as f32,
        };
        let scaled = f.as_scaled(scale);
        let baseline =
            top as f32 + scaled.ascent() - (scaled.height() - (CELL_H * h_mul) as f32) / 2.0;
        let mut pen = x;
        self.ensure_height(top + CELL_H * h_mul);
        for c in text.chars() {
            self.glyphs += 1;
            let cell = CELL_W * w_mul * columns(c) as u32;
            let id = f.glyph_id(c);
            let advance = scaled.h_advance(id);
            let gx = pen as f32 + ((cell as f32 - advance) / 2.0).max(0.0);
            let glyph = id.with_scale_and_position(scale, point(gx, baseline));
            if let Some(outline) = f.outline_glyph(glyph) {
                let b = outline.px_bounds();
                let mut dots = Vec::new();
                outline.draw(|px, py, coverage| {
                    if coverage >= 0.45 {
                        dots.push((
                            b.min.x as i64 + i64::from(px),
                            b.min.y as i64 + i64::from(py),
                        ));
                    }
                });
                for (dx, dy) in dots {
                    self.set(dx, dy);
                    if bold {
                        self.set(dx + 1, dy);
                    }
                }
            }
            pen += cell;
        }
        pen - x
    }

    /// As a PNG file's bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, image::ImageError> {
        let img = image::GrayImage::from_raw(self.width, self.height.max(1), {
            let mut p = self.pixels.clone();
            p.resize(self.width as usize * self.height.max(1) as usize, 255);
            p
        })
        .expect("the buffer matches the size");
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)?;
        Ok(out.into_inner())
    }

    /// As an image.
    pub fn to_image(&self) -> image::GrayImage {
        let mut p = self.pixels.clone();
        p.resize(self.width as usize * self.height.max(1) as usize, 255);
        image::GrayImage::from_raw(self.width, self.height.max(1), p).expect("sizes match")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_has_the_characters_receipts_and_rare_names_use() {
        for c in "处理凭证缴款手续费：0.00元￥渝A12345堃玥喆犇淼".chars() {
            assert!(has_glyph(c), "{c}");
        }
    }

    #[test]
    fn text_is_drawn_in_printer_cells() {
        let mut c = Canvas::new(384);
        let w = c.draw_text(0, 0, "凭证A1", 1, 1, false);
        assert_eq!(w, 24 * 2 + 12 * 2);
        assert_eq!(c.height, 24);
        assert!(c.pixels.contains(&0));
        let w2 = c.draw_text(0, 24, "凭", 2, 2, true);
        assert_eq!(w2, 48);
        assert_eq!(c.height, 72);
    }
}
