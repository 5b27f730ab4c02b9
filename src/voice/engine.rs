//! Turning a prompt into sound: its recording in `assets/voice/` when there is one, else Debian's
//! espeak-ng (Mandarin voice `cmn`, English `en`), run as a subprocess writing WAV to a pipe.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Prompt, VoiceError, Wav};
use crate::config::Language;

/// The text-to-speech program.
pub const ESPEAK: &str = "espeak-ng";

/// Renders prompts to samples.
#[derive(Debug, Clone)]
pub struct Engine {
    recordings: PathBuf,
    program: String,
}

impl Engine {
    /// Recordings from `recordings` (`<prompt>.wav` Mandarin, `<prompt>.en.wav` English), the
    /// rest by espeak-ng.
    pub fn new(recordings: impl Into<PathBuf>) -> Self {
        Engine {
            recordings: recordings.into(),
            program: ESPEAK.to_string(),
        }
    }

    /// Use another text-to-speech program with espeak-ng's arguments (tests).
    pub fn with_program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
    }

    /// Where the recording of `prompt` in `lang` is looked for.
    pub fn recording_path(&self, prompt: Prompt, lang: Language) -> PathBuf {
        let suffix = match lang {
            Language::ZhCn => "wav",
            Language::En => "en.wav",
        };
        self.recordings.join(format!("{}.{suffix}", prompt.name()))
    }

    /// The prompt's recording when present, else its synthesized speech.
    pub fn render(&self, prompt: Prompt, lang: Language) -> Result<Wav, VoiceError> {
        let path = self.recording_path(prompt, lang);
        match std::fs::read(&path) {
            Ok(bytes) => Wav::parse(&bytes).map_err(|e| VoiceError::Recording {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.synthesize(prompt.text(lang), lang)
            }
            Err(e) => Err(VoiceError::Recording {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// `text` spoken by espeak-ng (a little slower than its default, for a hall).
    pub fn synthesize(&self, text: &str, lang: Language) -> Result<Wav, VoiceError> {
        let voice = match lang {
            Language::ZhCn => "cmn",
            Language::En => "en",
        };
        let out = Command::new(&self.program)
            .args(["-v", voice, "-s", "150", "--stdout", "--", text])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    VoiceError::EngineMissing {
                        program: self.program.clone(),
                    }
                } else {
                    VoiceError::Engine {
                        program: self.program.clone(),
                        message: e.to_string(),
                    }
                }
            })?;
        if !out.status.success() {
            return Err(VoiceError::Engine {
                program: self.program.clone(),
                message: format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        Wav::parse(&out.stdout)
    }
}
