//! The voice thread: renders each prompt (once, then from its cache) and plays it through rodio.
//! A new prompt cuts the one still playing: the screen has moved on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use super::{Engine, Prompt, Voice, VoiceError, Wav};
use crate::config::Language;

/// Speaks prompts on its own thread. `say` only sends on a channel.
pub struct SpeakingVoice {
    tx: Sender<(Prompt, Language)>,
}

impl SpeakingVoice {
    /// Start the voice thread: prompts from `engine`, at `volume` percent (0–100).
    pub fn start(engine: Engine, volume: u8) -> Self {
        Self::start_shared(engine, Arc::new(AtomicU8::new(volume)))
    }

    /// Start the voice thread at the volume `volume` holds when each prompt is played (remote
    /// configuration changes it between sessions).
    pub fn start_shared(engine: Engine, volume: Arc<AtomicU8>) -> Self {
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("voice".into())
            .spawn(move || run(engine, volume, rx));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the voice thread: voice guidance is silent");
        }
        SpeakingVoice { tx }
    }
}

impl Voice for SpeakingVoice {
    fn say(&mut self, prompt: Prompt, lang: Language) {
        // The thread is gone only when there is no audio device (said once in the log).
        let _ = self.tx.send((prompt, lang));
    }
}

fn run(engine: Engine, volume: Arc<AtomicU8>, rx: Receiver<(Prompt, Language)>) {
    let mut stream = match rodio::OutputStreamBuilder::open_default_stream() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "no audio device: voice guidance is silent");
            return;
        }
    };
    stream.log_on_drop(false);
    tracing::info!(volume = volume.load(Ordering::Relaxed), "voice guidance on");
    // At most one rendering per prompt and language (26).
    let mut cache: Vec<((Prompt, Language), Wav)> = Vec::new();
    let mut engine_missing_said = false;
    let mut playing: Option<rodio::Sink> = None;
    while let Ok(mut said) = rx.recv() {
        // Only the latest prompt matters when several came at once.
        while let Ok(newer) = rx.try_recv() {
            said = newer;
        }
        if !cache.iter().any(|(k, _)| *k == said) {
            match engine.render(said.0, said.1) {
                Ok(w) => cache.push((said, w)),
                Err(e @ VoiceError::EngineMissing { .. }) => {
                    if !engine_missing_said {
                        tracing::warn!(error = %e, "voice guidance is silent");
                        engine_missing_said = true;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, prompt = said.0.name(), "prompt not said");
                    continue;
                }
            }
        }
        let Some((_, w)) = cache.iter().find(|(k, _)| *k == said) else {
            continue;
        };
        let sink = rodio::Sink::connect_new(stream.mixer());
        sink.append(rodio::buffer::SamplesBuffer::new(
            1,
            w.rate,
            w.to_f32(volume.load(Ordering::Relaxed).min(100)),
        ));
        // Dropping the previous sink stops what it was still saying.
        playing = Some(sink);
    }
    drop(playing);
}
