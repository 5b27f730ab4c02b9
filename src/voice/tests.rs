use super::*;
use crate::config::KioskConfig;
use crate::flow::{Action, Event, State, next};

/// Loudness floor: espeak-ng speaks at roughly 0.1–0.2 RMS; silence is 0.
const RMS_FLOOR: f32 = 0.02;
/// The last 30 ms of a complete prompt are near silence (speech decays; a cut one does not).
const TAIL_MS: u32 = 30;
const TAIL_CEILING: f32 = 0.01;

/// A plausible length for `text`: Mandarin about 0.15–0.6 s a character, English 0.03–0.15 s a
/// letter, plus up to a second of lead-in and decay.
fn plausible(text: &str, lang: Language) -> (f32, f32) {
    let n = match lang {
        Language::ZhCn => text.chars().filter(|c| !c.is_ascii() && *c != '，').count(),
        Language::En => text.chars().filter(char::is_ascii_alphanumeric).count(),
    } as f32;
    match lang {
        Language::ZhCn => (0.15 * n, 0.6 * n + 1.0),
        Language::En => (0.03 * n, 0.15 * n + 1.0),
    }
}

/// What is wrong with a rendering of `text`, if anything.
fn check(w: &Wav, text: &str, lang: Language) -> Result<(), String> {
    let (min, max) = plausible(text, lang);
    let d = w.duration_secs();
    if w.rms() < RMS_FLOOR {
        return Err(format!("silent: RMS {:.4} under {RMS_FLOOR}", w.rms()));
    }
    if !(min..=max).contains(&d) {
        return Err(format!("{d:.2} s, not within {min:.2}–{max:.2} s"));
    }
    if w.tail_rms(TAIL_MS) > TAIL_CEILING {
        return Err(format!(
            "truncated: the last {TAIL_MS} ms are at RMS {:.4}",
            w.tail_rms(TAIL_MS)
        ));
    }
    Ok(())
}

/// Every prompt, in both languages, through the real engine (espeak-ng; fails, never skips,
/// when it is missing: `.ci/packages` has it).
#[test]
fn every_prompt_renders_to_audible_complete_speech() {
    let engine = Engine::new("/nonexistent-recordings");
    let out = std::env::var("KIOSK_VOICE_OUT").ok();
    for lang in [Language::ZhCn, Language::En] {
        for p in Prompt::ALL {
            let text = p.text(lang);
            let w = engine
                .render(p, lang)
                .unwrap_or_else(|e| panic!("{p:?} {lang:?}: {e}"));
            println!(
                "{:<22} {:?}  {:>5.2} s  RMS {:.3}  tail {:.4}",
                p.name(),
                lang,
                w.duration_secs(),
                w.rms(),
                w.tail_rms(TAIL_MS)
            );
            if let Err(e) = check(&w, text, lang) {
                panic!("{p:?} {lang:?} {text:?}: {e}");
            }
            if let Some(dir) = &out {
                let name = engine.recording_path(p, lang);
                let file = std::path::Path::new(dir).join(name.file_name().unwrap());
                std::fs::write(file, w.to_bytes()).unwrap();
            }
        }
    }
}

/// The checks catch what they are for: silence, a cut-off prompt, one far too short.
#[test]
fn the_checks_catch_silent_truncated_and_short_renderings() {
    let engine = Engine::new("/nonexistent-recordings");
    let text = Prompt::PlaceCard.text(Language::ZhCn);
    let w = engine.render(Prompt::PlaceCard, Language::ZhCn).unwrap();
    assert_eq!(check(&w, text, Language::ZhCn), Ok(()));
    let silent = Wav {
        rate: w.rate,
        samples: vec![0; w.samples.len()],
    };
    assert!(
        check(&silent, text, Language::ZhCn)
            .unwrap_err()
            .contains("silent")
    );
    // Cut in the middle of speech: find a loud place past the middle.
    let half = w.samples.len() / 2;
    let loud = (half..w.samples.len())
        .find(|i| w.samples[*i].unsigned_abs() > 8000)
        .expect("speech past the middle");
    let cut = Wav {
        rate: w.rate,
        samples: w.samples[..loud + 50].to_vec(),
    };
    assert!(check(&cut, text, Language::ZhCn).is_err());
    let short = Wav {
        rate: w.rate,
        samples: w.samples[..w.samples.len() / 8].to_vec(),
    };
    assert!(check(&short, text, Language::ZhCn).is_err());
}

#[test]
fn a_recording_replaces_the_synthesized_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path()).with_program("/nonexistent/espeak-ng");
    let recorded = Wav {
        rate: 16000,
        samples: (0..16000)
            .map(|i| ((i % 40) * 500 - 10000) as i16)
            .collect(),
    };
    std::fs::write(
        engine.recording_path(Prompt::ScanToPay, Language::ZhCn),
        recorded.to_bytes(),
    )
    .unwrap();
    assert_eq!(
        engine
            .recording_path(Prompt::ScanToPay, Language::ZhCn)
            .file_name()
            .unwrap(),
        "scan_to_pay.wav"
    );
    assert_eq!(
        engine.render(Prompt::ScanToPay, Language::ZhCn).unwrap(),
        recorded
    );
    // No recording in English, and no engine: said as such.
    let e = engine.render(Prompt::ScanToPay, Language::En).unwrap_err();
    assert!(matches!(e, VoiceError::EngineMissing { .. }), "{e}");
    // A broken recording is an error naming the file, not a silent fallback.
    std::fs::write(
        engine.recording_path(Prompt::TakeCard, Language::ZhCn),
        b"not a wav",
    )
    .unwrap();
    let e = engine.render(Prompt::TakeCard, Language::ZhCn).unwrap_err();
    assert!(e.to_string().contains("take_card.wav"), "{e}");
}

/// A screen change produces exactly one prompt, however many frames the screen stays up; the
/// language switch says the same step again in the other language.
#[test]
fn a_screen_change_produces_exactly_one_prompt() {
    let config = KioskConfig::embedded();
    let t0: jiff::Timestamp = "2026-11-25T02:00:00Z".parse().unwrap();
    let mut state = State::new(&config, t0);
    let mut prompter = Prompter::default();
    let mut said = Vec::new();
    let mut frames = |state: &State, n: usize, said: &mut Vec<(Prompt, Language)>| {
        for _ in 0..n {
            said.extend(prompter.on_frame(state));
        }
    };
    frames(&state, 10, &mut said);
    assert_eq!(said, [], "the attract screen is silent");
    let go = |state: State, e: Event| next(state, e).0;
    state = go(state, Event::Ui(Action::Start));
    for i in 0..30 {
        state = go(
            state,
            Event::Tick(t0 + jiff::SignedDuration::from_millis(100 * i)),
        );
        frames(&state, 1, &mut said);
    }
    assert_eq!(said, [(Prompt::PlaceCard, Language::ZhCn)]);
    state = go(state, Event::Ui(Action::ToggleLanguage));
    frames(&state, 5, &mut said);
    assert_eq!(
        said,
        [
            (Prompt::PlaceCard, Language::ZhCn),
            (Prompt::PlaceCard, Language::En)
        ]
    );
    state = go(state, Event::Ui(Action::Back));
    frames(&state, 5, &mut said);
    assert_eq!(said.len(), 2, "back on the attract screen: silent");
}

/// Every prompt has text in both languages and a distinct file name.
#[test]
fn every_prompt_has_both_languages_and_its_own_file() {
    let mut names = std::collections::HashSet::new();
    for p in Prompt::ALL {
        assert!(names.insert(p.name()), "{p:?}");
        let (zh, en) = (p.text(Language::ZhCn), p.text(Language::En));
        assert!(!zh.is_ascii() && en.is_ascii(), "{p:?}");
    }
}

/// `say` only hands the prompt over: a thousand calls take no time, whether or not there is an
/// audio device (without one the voice thread logs once and ends; `say` still returns).
#[test]
fn say_never_waits() {
    let mut v = SpeakingVoice::start(Engine::new("/nonexistent-recordings"), 0);
    let t = std::time::Instant::now();
    for p in Prompt::ALL.iter().cycle().take(1000) {
        v.say(*p, Language::ZhCn);
    }
    assert!(
        t.elapsed() < std::time::Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
}
