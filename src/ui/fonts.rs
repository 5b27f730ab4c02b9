//! The CJK font shipped in `assets/fonts` (a subset of Noto Sans SC, OFL), installed as the first
//! proportional and monospace family so Chinese never renders as boxes on a fresh machine.

use std::sync::Arc;

/// The subset of Noto Sans SC (see `assets/fonts/make-subset.sh` and its licence).
pub const CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-Regular-kiosk.otf");

const NAME: &str = "NotoSansSC-kiosk";

/// egui's default fonts with the CJK font first in both families.
pub fn definitions() -> egui::FontDefinitions {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        NAME.to_owned(),
        Arc::new(egui::FontData::from_static(CJK_FONT)),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .insert(0, NAME.to_owned());
    }
    fonts
}

/// The characters of `texts` that the shipped CJK subset has no glyph for (sorted, once each);
/// ASCII is left out (egui's own fonts draw it).
pub fn missing_glyphs<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<char> {
    use ab_glyph::{Font, FontRef};
    let Ok(font) = FontRef::try_from_slice(CJK_FONT) else {
        return texts.into_iter().flat_map(str::chars).collect();
    };
    let mut missing: Vec<char> = texts
        .into_iter()
        .flat_map(str::chars)
        .filter(|c| !c.is_ascii() && font.glyph_id(*c).0 == 0)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// Install the fonts and the kiosk's text sizes into `ctx`.
pub fn install(ctx: &egui::Context) {
    ctx.set_fonts(definitions());
}
