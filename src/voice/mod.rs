//! Voice guidance: a prompt for each step (请将身份证放在感应区, 请核对信息, …), in the screen's
//! language, behind the small [`Voice`] trait. [`SpeakingVoice`] renders prompts with the
//! [`Engine`] (recorded WAV files in `assets/voice/` first, Debian's espeak-ng otherwise) and
//! plays them through rodio on its own thread; `say` only sends on a channel, so the UI thread
//! never waits for synthesis or audio. The app derives prompts from the state ([`Prompter`]):
//! a new screen speaks once, never every frame. Without an audio device, or without espeak-ng,
//! the kiosk runs silently and says so once in the log.

mod engine;
mod player;
mod prompt;
mod wav;

use std::sync::{Arc, Mutex};

pub use engine::{ESPEAK, Engine};
pub use player::SpeakingVoice;
pub use prompt::{Prompt, Prompter, prompt_of};
pub use wav::Wav;

use crate::config::Language;

/// Why a prompt could not be rendered or played.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("{program} is not installed (Debian package espeak-ng): voice guidance is silent")]
    EngineMissing { program: String },
    #[error("{program} failed: {message}")]
    Engine { program: String, message: String },
    #[error("recorded prompt {path}: {message}")]
    Recording { path: String, message: String },
    #[error("not a playable WAV: {0}")]
    BadWav(String),
}

/// Says prompts. `say` returns at once; the sound (if any) comes later, elsewhere.
pub trait Voice: Send {
    fn say(&mut self, prompt: Prompt, lang: Language);
}

/// A voice that says nothing (voice guidance off).
#[derive(Debug, Default)]
pub struct Silent;

impl Voice for Silent {
    fn say(&mut self, _: Prompt, _: Language) {}
}

/// A voice that only writes down what it was asked to say (tests).
#[derive(Debug, Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<(Prompt, Language)>>>);

impl Recorder {
    pub fn said(&self) -> Vec<(Prompt, Language)> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Voice for Recorder {
    fn say(&mut self, prompt: Prompt, lang: Language) {
        if let Ok(mut v) = self.0.lock() {
            v.push((prompt, lang));
        }
    }
}

#[cfg(test)]
mod tests;
