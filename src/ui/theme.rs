//! The public-service look: a light theme with one accent colour, every size in millimetres on
//! the configured panel (`[screen]` in kiosk.toml), and the contrast arithmetic the frame check
//! (`tests/ui.rs`) uses. Sizes follow the floor and the MIIT 2021 elder-friendly rules:
//! body text at least 7 mm, headings larger, touch targets at least 20 mm with 5 mm gaps, lines
//! at least 1.3 apart; 长辈模式 multiplies text and targets by [`ELDER_SCALE`].

use egui::Color32;

/// Page background.
pub const BG: Color32 = Color32::from_rgb(0xf4, 0xf6, 0xf9);
/// Cards, rows, secondary buttons.
pub const SURFACE: Color32 = Color32::WHITE;
/// Body text.
pub const TEXT: Color32 = Color32::from_rgb(0x1b, 0x1f, 0x24);
/// Secondary text (small print, clauses): still above 7:1 on white and on [`BG`].
pub const MUTED: Color32 = Color32::from_rgb(0x4b, 0x55, 0x63);
/// The one accent colour: the header, the primary action, the current step, ticks.
pub const ACCENT: Color32 = Color32::from_rgb(0x0a, 0x5b, 0xb5);
/// Text on the accent colour.
pub const ON_ACCENT: Color32 = Color32::WHITE;
/// A ticked row's background (the tick mark itself says it, not the colour).
pub const ACCENT_SOFT: Color32 = Color32::from_rgb(0xe3, 0xee, 0xfa);
/// "Can be handled" text (always with words, never colour alone).
pub const OK: Color32 = Color32::from_rgb(0x17, 0x69, 0x2f);
/// "Cannot be handled" text (always with words: 不能自助处理).
pub const REFUSED: Color32 = Color32::from_rgb(0xa3, 0x19, 0x1b);
/// Notices and warnings.
pub const WARN_BG: Color32 = Color32::from_rgb(0xff, 0xf3, 0xc4);
/// Refusal panels.
pub const REFUSED_BG: Color32 = Color32::from_rgb(0xfd, 0xec, 0xec);
/// A disabled button and its text (7:1 between them: readable, visibly not live).
pub const DISABLED_BG: Color32 = Color32::from_rgb(0xd5, 0xd9, 0xdf);
pub const DISABLED_TEXT: Color32 = Color32::from_rgb(0x3d, 0x43, 0x4b);
/// Borders of cards and secondary buttons.
pub const BORDER: Color32 = Color32::from_rgb(0x8a, 0x94, 0xa3);

/// 长辈模式: text and targets at least this much larger.
pub const ELDER_SCALE: f32 = 1.4;

/// Body text, in mm (the floor).
pub const BODY_MM: f32 = 7.0;
/// Small print (clauses, hints): the same floor, set apart by colour and weight, not size.
pub const SMALL_MM: f32 = 7.0;
/// Headings.
pub const HEADING_MM: f32 = 10.0;
/// The attract screen's title.
pub const TITLE_MM: f32 = 14.0;
/// Touch targets (height and width), in mm.
pub const TARGET_MM: f32 = 20.0;
/// Gaps between touch targets, in mm.
pub const GAP_MM: f32 = 5.0;
/// Line spacing (baseline to baseline) as a multiple of the text size.
pub const LINE_SPACING: f32 = 1.35;

/// Sizes in points for one frame: the panel's points per millimetre and the mode's scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub per_mm: f32,
    /// 1.0, or [`ELDER_SCALE`] in 长辈模式.
    pub scale: f32,
    /// `screen.min_touch_mm`, if the configuration asks for more than [`TARGET_MM`].
    pub target_mm: f32,
}

impl Metrics {
    pub fn new(per_mm: f32, elder: bool, min_touch_mm: f32) -> Self {
        Metrics {
            per_mm,
            scale: if elder { ELDER_SCALE } else { 1.0 },
            target_mm: min_touch_mm.max(TARGET_MM),
        }
    }
    /// `mm` millimetres in points, not scaled.
    pub fn mm(&self, mm: f32) -> f32 {
        mm * self.per_mm
    }
    /// `mm` millimetres in points, scaled by the mode.
    pub fn smm(&self, mm: f32) -> f32 {
        mm * self.per_mm * self.scale
    }
    pub fn body(&self) -> f32 {
        self.smm(BODY_MM)
    }
    pub fn small(&self) -> f32 {
        self.smm(SMALL_MM)
    }
    pub fn heading(&self) -> f32 {
        self.smm(HEADING_MM)
    }
    pub fn title(&self) -> f32 {
        self.smm(TITLE_MM)
    }
    /// The smallest touch target side.
    pub fn target(&self) -> f32 {
        self.smm(self.target_mm)
    }
    /// The gap between touch targets.
    pub fn gap(&self) -> f32 {
        self.smm(GAP_MM)
    }
    /// Row height of text of `size` points.
    pub fn line(&self, size: f32) -> f32 {
        size * LINE_SPACING
    }
}

/// sRGB channel to linear light (WCAG 2.x).
fn linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Relative luminance (WCAG 2.x) of an opaque colour.
pub fn luminance(c: Color32) -> f64 {
    0.2126 * linear(c.r()) + 0.7152 * linear(c.g()) + 0.0722 * linear(c.b())
}

/// WCAG contrast ratio between two opaque colours (1 to 21).
pub fn contrast(a: Color32, b: Color32) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// `top` drawn over the opaque `below` (premultiplied alpha, as egui keeps colours).
pub fn over(top: Color32, below: Color32) -> Color32 {
    let a = f32::from(top.a()) / 255.0;
    let mix = |t: u8, b: u8| (f32::from(t) + f32::from(b) * (1.0 - a)).round().min(255.0) as u8;
    Color32::from_rgb(
        mix(top.r(), below.r()),
        mix(top.g(), below.g()),
        mix(top.b(), below.b()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_and_background_pair_of_the_palette_is_at_least_4_5_to_1() {
        for (fg, bg) in [
            (TEXT, BG),
            (TEXT, SURFACE),
            (MUTED, BG),
            (MUTED, SURFACE),
            (MUTED, ACCENT_SOFT),
            (TEXT, ACCENT_SOFT),
            (ON_ACCENT, ACCENT),
            (ACCENT, SURFACE),
            (ACCENT, BG),
            (OK, SURFACE),
            (OK, ACCENT_SOFT),
            (REFUSED, SURFACE),
            (REFUSED, REFUSED_BG),
            (TEXT, WARN_BG),
            (TEXT, REFUSED_BG),
            (DISABLED_TEXT, DISABLED_BG),
        ] {
            let c = contrast(fg, bg);
            assert!(c >= 4.5, "{fg:?} on {bg:?}: {c:.2}");
        }
        assert!((contrast(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn elder_mode_is_at_least_1_4_times_larger() {
        let n = Metrics::new(4.0, false, 15.0);
        let e = Metrics::new(4.0, true, 15.0);
        assert!(e.body() >= 1.4 * n.body() - 1e-3);
        assert!(e.target() >= 1.4 * n.target() - 1e-3);
        assert_eq!(n.target(), 80.0);
    }
}
