//! Mono 16-bit PCM audio and the RIFF/WAVE files it comes in (espeak-ng's output, recorded
//! prompts), with the measures the tests check: loudness and how the end decays.

use super::VoiceError;

/// Mono 16-bit samples at `rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    pub rate: u32,
    pub samples: Vec<i16>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Wav {
    /// Read a RIFF/WAVE file of 16-bit PCM, mono or stereo (mixed down). A data chunk whose
    /// size runs past the end (a stream written to a pipe, as `espeak-ng --stdout` does) is
    /// read to the end.
    pub fn parse(bytes: &[u8]) -> Result<Wav, VoiceError> {
        let bad = |why: &str| VoiceError::BadWav(why.to_string());
        if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
            return Err(bad("not a RIFF/WAVE file"));
        }
        let mut at = 12;
        let mut format: Option<(u16, u16, u32, u16)> = None;
        while at + 8 <= bytes.len() {
            let id = &bytes[at..at + 4];
            let size = u32_at(bytes, at + 4).ok_or_else(|| bad("truncated chunk"))? as usize;
            let body = at + 8;
            if id == b"fmt " {
                let f = (|| {
                    Some((
                        u16_at(bytes, body)?,
                        u16_at(bytes, body + 2)?,
                        u32_at(bytes, body + 4)?,
                        u16_at(bytes, body + 14)?,
                    ))
                })()
                .ok_or_else(|| bad("truncated fmt chunk"))?;
                format = Some(f);
            } else if id == b"data" {
                let (tag, channels, rate, bits) = format.ok_or_else(|| bad("data before fmt"))?;
                if tag != 1 || bits != 16 || !(1..=2).contains(&channels) || rate == 0 {
                    return Err(bad(&format!(
                        "only 16-bit PCM mono or stereo is played (format {tag}, {bits} bits, {channels} channels)"
                    )));
                }
                let end = body.saturating_add(size).min(bytes.len());
                let data = &bytes[body..end];
                let frame = 2 * channels as usize;
                let samples = data
                    .chunks_exact(frame)
                    .map(|f| {
                        let l = i16::from_le_bytes([f[0], f[1]]) as i32;
                        if channels == 2 {
                            let r = i16::from_le_bytes([f[2], f[3]]) as i32;
                            ((l + r) / 2) as i16
                        } else {
                            l as i16
                        }
                    })
                    .collect();
                return Ok(Wav { rate, samples });
            }
            at = body.saturating_add(size + (size & 1));
        }
        Err(bad("no data chunk"))
    }

    /// The file: RIFF/WAVE, 16-bit PCM, mono.
    pub fn to_bytes(&self) -> Vec<u8> {
        let data_len = (self.samples.len() * 2) as u32;
        let mut b = Vec::with_capacity(44 + data_len as usize);
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data_len).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&self.rate.to_le_bytes());
        b.extend_from_slice(&(self.rate * 2).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&data_len.to_le_bytes());
        for s in &self.samples {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }

    pub fn duration_secs(&self) -> f32 {
        self.samples.len() as f32 / self.rate as f32
    }

    /// Root mean square of `samples`, 0 (silence) to 1 (full scale).
    fn rms_of(samples: &[i16]) -> f32 {
        if samples.is_empty() {
            return 0.0;
        }
        let sum: f64 = samples.iter().map(|s| (*s as f64 / 32768.0).powi(2)).sum();
        (sum / samples.len() as f64).sqrt() as f32
    }

    /// Loudness of the whole prompt, 0 to 1.
    pub fn rms(&self) -> f32 {
        Self::rms_of(&self.samples)
    }

    /// Loudness of the last `ms` milliseconds.
    pub fn tail_rms(&self, ms: u32) -> f32 {
        let n = (self.rate as u64 * ms as u64 / 1000) as usize;
        Self::rms_of(&self.samples[self.samples.len().saturating_sub(n)..])
    }

    /// The samples scaled by `volume` percent, as rodio plays them (-1 to 1).
    pub fn to_f32(&self, volume: u8) -> Vec<f32> {
        let g = f32::from(volume.min(100)) / 100.0 / 32768.0;
        self.samples.iter().map(|s| *s as f32 * g).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_round_trips_and_a_streamed_one_reads_to_the_end() {
        let w = Wav {
            rate: 22050,
            samples: (0..2205).map(|i| ((i % 50) * 400 - 10000) as i16).collect(),
        };
        let bytes = w.to_bytes();
        assert_eq!(Wav::parse(&bytes).unwrap(), w);
        // espeak-ng --stdout: sizes unknown when the header was written.
        let mut streamed = bytes.clone();
        streamed[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        streamed[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        assert_eq!(Wav::parse(&streamed).unwrap(), w);
        assert!((w.duration_secs() - 0.1).abs() < 1e-6);
        assert!(w.rms() > 0.1);
        assert_eq!(
            Wav {
                rate: 8000,
                samples: vec![0; 800]
            }
            .rms(),
            0.0
        );
        assert!(Wav::parse(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(Wav::parse(b"not a wav").is_err());
    }
}
