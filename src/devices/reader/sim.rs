//! The reader simulator: holds the cards it is given and answers GA 467 commands in GA 467 bytes, through
//! the same codec the real adapter uses. It can inject the faults a real line has (noise, bytes
//! dribbled a few at a time, corrupted checksums, a card placed late, silence).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use jiff::civil::date;

use super::frame::{Command, Decoder, FrameError, Response, Status};
use super::text::{PHOTO_LEN, TEXT_LEN, encode_card};
use crate::devices::link::{Link, Opener};
use crate::domain::{CardType, Gender, IdCard, IdNumber, Nation, Photo, ValidUntil};
use crate::privacy::Masked;

/// The filler photo of the spec's test vector: byte `i` is `7·i mod 256`.
pub fn filler_photo() -> Photo {
    Photo((0..PHOTO_LEN).map(|i| (i * 7 % 256) as u8).collect())
}

#[allow(clippy::too_many_arguments)]
fn card(
    card_type: CardType,
    name: &str,
    gender: Gender,
    nation: Option<&str>,
    address: &str,
    id: &str,
    authority: &str,
    valid_from: jiff::civil::Date,
    valid_until: ValidUntil,
) -> IdCard {
    let id_number = IdNumber::parse(id).expect("demo ID numbers are valid");
    IdCard {
        card_type,
        name: Masked::new(name.to_string()),
        gender,
        nation: nation.map(|n| Nation::parse(n).expect("demo nation codes are valid")),
        birth_date: id_number.birth_date(),
        address: Masked::new(address.to_string()),
        id_number,
        authority: authority.to_string(),
        valid_from,
        valid_until,
        photo: filler_photo(),
    }
}

/// The spec's test-vector card (GA 467 bytes in `shared/spec/devices.md`): 李小红, who is also
/// the first person of the store's demo city.
pub fn spec_card() -> IdCard {
    card(
        CardType::Resident,
        "李小红",
        Gender::Female,
        Some("05"),
        "重庆市沙坪坝区天星桥正街12号",
        "50010619851120002X",
        "重庆市公安局沙坪坝区分局",
        date(2016, 11, 20),
        ValidUntil::Date(date(2036, 11, 20)),
    )
}

/// A resident card for `id` with the given name: the layout every simulated card has (nation 汉,
/// issued at 30, valid 20 years, the filler photo). The composition root builds the demo city's
/// people's cards with it; the device layer holds no population of its own.
pub fn resident_card(id: &IdNumber, name: &str, address: &str, authority: &str) -> IdCard {
    let from = id.birth_date().saturating_add(jiff::Span::new().years(30));
    card(
        CardType::Resident,
        name,
        if id.is_male() {
            Gender::Male
        } else {
            Gender::Female
        },
        Some("01"),
        address,
        id.expose(),
        authority,
        from,
        ValidUntil::Date(from.saturating_add(jiff::Span::new().years(20))),
    )
}

/// The codec's test cards, one per layout: the spec's card, a resident card, a long-term card
/// and a residence permit. The first two are people of the store's demo city (same numbers and
/// names); the other two are layout fixtures only.
pub fn test_cards() -> Vec<IdCard> {
    vec![
        spec_card(),
        card(
            CardType::Resident,
            "王建国",
            Gender::Male,
            Some("01"),
            "重庆市渝中区解放碑民族路88号",
            "500103199003070017",
            "重庆市公安局渝中区分局",
            date(2015, 6, 12),
            ValidUntil::Date(date(2035, 6, 12)),
        ),
        card(
            CardType::Resident,
            "王德明",
            Gender::Male,
            Some("15"),
            "重庆市黔江区城东街道官坝路5号",
            "500239195804160032",
            "重庆市公安局黔江区分局",
            date(2012, 4, 16),
            ValidUntil::LongTerm,
        ),
        card(
            CardType::HkMoTwResidencePermit,
            "陈嘉欣",
            Gender::Female,
            None,
            "重庆市江北区观音桥街道建新北路16号",
            "810000199408230021",
            "重庆市公安局江北区分局",
            date(2019, 3, 1),
            ValidUntil::Date(date(2024, 3, 1)),
        ),
    ]
}

/// A reader with (or without) a card on it.
#[derive(Debug, Clone)]
pub struct SimReader {
    card: Option<IdCard>,
    /// Whether the placed card has been found since it was placed (a reader finds a card again
    /// only after it was lifted and placed).
    found: bool,
    selected: bool,
    /// After a complete read, lift and place the card again (the CLI simulator does, so that it
    /// serves several reads).
    pub replace_after_read: bool,
}

impl SimReader {
    pub fn empty() -> Self {
        SimReader {
            card: None,
            found: false,
            selected: false,
            replace_after_read: false,
        }
    }

    pub fn with_card(card: IdCard) -> Self {
        let mut s = Self::empty();
        s.place(card);
        s
    }

    pub fn place(&mut self, card: IdCard) {
        self.card = Some(card);
        self.found = false;
        self.selected = false;
    }

    pub fn lift(&mut self) {
        self.card = None;
        self.found = false;
        self.selected = false;
    }

    /// Answer one command body.
    pub fn answer(&mut self, body: &[u8]) -> Response {
        let status_only = |status| Response {
            status,
            data: vec![],
        };
        let cmd = match body {
            [a, b, ..] => Command::from_code([*a, *b]),
            _ => None,
        };
        match cmd {
            Some(Command::FindCard) => {
                if self.card.is_some() && !self.found {
                    self.found = true;
                    Response {
                        status: Status::FindSuccess,
                        data: vec![0; 4],
                    }
                } else {
                    status_only(Status::NoCard)
                }
            }
            Some(Command::SelectCard) => {
                if self.card.is_some() && self.found {
                    self.selected = true;
                    Response {
                        status: Status::Success,
                        data: vec![0; 8],
                    }
                } else {
                    status_only(Status::SelectFailed)
                }
            }
            Some(Command::ReadTextAndPhoto | Command::ReadTextPhotoFingerprint) => {
                let Some(card) = self.card.as_ref().filter(|_| self.selected) else {
                    return status_only(Status::ReadFailed);
                };
                let fingerprint = cmd == Some(Command::ReadTextPhotoFingerprint);
                let mut data = Vec::with_capacity(4 + TEXT_LEN + PHOTO_LEN);
                data.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
                data.extend_from_slice(&(card.photo.0.len() as u16).to_be_bytes());
                if fingerprint {
                    data.extend_from_slice(&0u16.to_be_bytes());
                }
                data.extend_from_slice(&encode_card(card));
                data.extend_from_slice(&card.photo.0);
                if self.replace_after_read {
                    self.found = false;
                }
                Response {
                    status: Status::Success,
                    data,
                }
            }
            Some(Command::ReadSamId) => Response {
                status: Status::Success,
                data: b"05.01-20261125-0000000001-SIM".to_vec(),
            },
            Some(Command::ResetSam) => status_only(Status::Success),
            None => status_only(Status::UnknownCommand),
        }
    }
}

/// Faults the simulator injects into its answers.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Bytes sent before every answer (line noise).
    pub noise: Vec<u8>,
    /// Send answers in pieces of this many bytes (0: whole).
    pub dribble: usize,
    /// Corrupt the checksum of this many answers…
    pub corrupt_responses: u32,
    /// …after this many answers were sent intact.
    pub corrupt_after: u32,
    /// Answer "no card" to this many find-card polls before the card is seen.
    pub no_card_polls: u32,
    /// Answer nothing at all.
    pub silent: bool,
    /// Answer read-text-and-photo only after this long (a slow security module: a real one
    /// takes about a second to read a card).
    pub read_delay: std::time::Duration,
}

/// A simulator session on a byte stream: bytes in, answer chunks out.
#[derive(Debug)]
pub struct SimSession {
    pub sim: SimReader,
    pub faults: Faults,
    decoder: Decoder,
    /// How long the answers of the last [`SimSession::on_bytes`] are held back.
    delay: std::time::Duration,
}

impl SimSession {
    pub fn new(sim: SimReader, faults: Faults) -> Self {
        SimSession {
            sim,
            faults,
            decoder: Decoder::new(),
            delay: std::time::Duration::ZERO,
        }
    }

    /// How long the answers the last [`SimSession::on_bytes`] returned are to be held back
    /// (`Faults::read_delay` after a read).
    pub fn delay(&self) -> std::time::Duration {
        self.delay
    }

    /// Feed received bytes; returns the chunks to send back, in order.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.decoder.push(bytes);
        self.delay = std::time::Duration::ZERO;
        let mut out = Vec::new();
        while let Some(frame) = self.decoder.next_body() {
            let response = match frame {
                Ok(body) => {
                    let is_find = body.get(..2) == Some(&Command::FindCard.code()[..]);
                    if body.get(..2) == Some(&Command::ReadTextAndPhoto.code()[..]) {
                        self.delay = self.faults.read_delay;
                    }
                    if is_find && self.faults.no_card_polls > 0 {
                        self.faults.no_card_polls -= 1;
                        Response {
                            status: Status::NoCard,
                            data: vec![],
                        }
                    } else {
                        self.sim.answer(&body)
                    }
                }
                Err(FrameError::BadChecksum { .. }) => Response {
                    status: Status::ChecksumRejected,
                    data: vec![],
                },
                Err(_) => continue,
            };
            if self.faults.silent {
                continue;
            }
            let mut bytes = self.faults.noise.clone();
            let mut frame = response.encode();
            if self.faults.corrupt_after > 0 {
                self.faults.corrupt_after -= 1;
            } else if self.faults.corrupt_responses > 0 {
                self.faults.corrupt_responses -= 1;
                *frame.last_mut().expect("frames are never empty") ^= 0x5A;
            }
            bytes.extend_from_slice(&frame);
            if self.faults.dribble == 0 {
                out.push(bytes);
            } else {
                out.extend(bytes.chunks(self.faults.dribble).map(<[u8]>::to_vec));
            }
        }
        out
    }
}

/// A simulator session shared between the link the reader adapter uses and whoever plays the
/// person at the kiosk (the demo's simulator panel, tests): [`SimReaderHandle::place`] a card,
/// [`SimReaderHandle::lift`] it.
#[derive(Clone)]
pub struct SimReaderHandle(Arc<Mutex<SimSession>>);

impl SimReaderHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, SimSession> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn place(&self, card: IdCard) {
        self.lock().sim.place(card);
    }
    pub fn lift(&self) {
        self.lock().sim.lift();
    }
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }
}

/// An in-memory link to a simulator session (unit tests, demo mode).
pub struct MemoryLink {
    session: SimReaderHandle,
    pending: VecDeque<u8>,
    /// The pending answer is held back until then (`Faults::read_delay`).
    ready_at: Option<std::time::Instant>,
}

impl Read for MemoryLink {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let held = self
            .ready_at
            .is_some_and(|at| std::time::Instant::now() < at);
        if self.pending.is_empty() || held {
            std::thread::sleep(std::time::Duration::from_millis(1));
            return Err(io::ErrorKind::TimedOut.into());
        }
        let n = buf.len().min(self.pending.len());
        for (slot, b) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *slot = b;
        }
        Ok(n)
    }
}

impl Write for MemoryLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (chunks, delay) = {
            let mut session = self.session.lock();
            let chunks = session.on_bytes(buf);
            (chunks, session.delay())
        };
        if !delay.is_zero() {
            self.ready_at = Some(std::time::Instant::now() + delay);
        }
        for chunk in chunks {
            self.pending.extend(chunk);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Link for MemoryLink {}

/// Opens [`MemoryLink`]s to one simulator session.
pub struct MemoryOpener {
    session: SimReaderHandle,
}

impl MemoryOpener {
    pub fn new(sim: SimReader, faults: Faults) -> Self {
        MemoryOpener {
            session: SimReaderHandle(Arc::new(Mutex::new(SimSession::new(sim, faults)))),
        }
    }

    /// The handle to place and lift cards.
    pub fn handle(&self) -> SimReaderHandle {
        self.session.clone()
    }
}

impl Opener for MemoryOpener {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        Ok(Box::new(MemoryLink {
            session: self.session.clone(),
            pending: VecDeque::new(),
            ready_at: None,
        }))
    }
    fn describe(&self) -> String {
        "sim".into()
    }
}

/// Serve a simulator session on a pseudo-terminal until `stop` is set. With dribbled answers,
/// `chunk_delay` passes between two pieces.
pub fn serve_pty(
    pty: &mut crate::devices::pty::Pty,
    session: &mut SimSession,
    stop: &std::sync::atomic::AtomicBool,
    chunk_delay: std::time::Duration,
) -> io::Result<()> {
    let mut buf = [0u8; 512];
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let n = pty.read_some(&mut buf, std::time::Duration::from_millis(20))?;
        if n == 0 {
            continue;
        }
        let chunks = session.on_bytes(&buf[..n]);
        std::thread::sleep(session.delay());
        for chunk in chunks {
            pty.send(&chunk)?;
            if !chunk_delay.is_zero() {
                std::thread::sleep(chunk_delay);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's vectors (`tests/data/ga467_examples.txt`): `## title` then hex lines.
    pub(crate) fn spec_vectors() -> Vec<(String, Vec<u8>)> {
        let text = include_str!("../../../tests/data/ga467_examples.txt");
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        let mut title = String::new();
        let mut continuing = false;
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("## ") {
                title = t.to_string();
                continuing = false;
            } else if line.starts_with('#') || line.trim().is_empty() {
                continuing = false;
            } else {
                let bytes: Vec<u8> = line
                    .split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).expect("hex"))
                    .collect();
                let starts_frame = bytes.starts_with(&super::super::frame::PREAMBLE);
                if continuing && !starts_frame {
                    out.last_mut().expect("a frame").1.extend(bytes);
                } else {
                    out.push((title.clone(), bytes));
                }
                continuing = true;
            }
        }
        out
    }

    fn vector(title_part: &str) -> Vec<u8> {
        spec_vectors()
            .into_iter()
            .find(|(t, _)| t.contains(title_part))
            .unwrap_or_else(|| panic!("no vector {title_part}"))
            .1
    }

    #[test]
    fn the_spec_file_holds_five_frames() {
        let v = spec_vectors();
        assert_eq!(v.len(), 5);
        assert_eq!(v[4].1.len(), 5 + 2 + 0x0508);
    }

    #[test]
    fn every_spec_vector_decodes_with_a_good_checksum() {
        for (title, bytes) in spec_vectors() {
            let mut d = Decoder::new();
            d.push(&bytes);
            assert!(d.next_response().unwrap().is_ok(), "{title}");
            assert_eq!(d.pending(), 0, "{title}");
        }
    }

    #[test]
    fn simulator_answers_the_sample_card_with_the_spec_bytes() {
        let mut sim = SimReader::with_card(test_cards().remove(0));
        let find = sim.answer(&Command::FindCard.code()).encode();
        assert_eq!(find, vector("card present"));
        let select = sim.answer(&Command::SelectCard.code()).encode();
        assert_eq!(select, vector("select card"));
        let read = sim.answer(&Command::ReadTextAndPhoto.code()).encode();
        assert_eq!(read, vector("read text and photo"));
        assert_eq!(
            sim.answer(&Command::FindCard.code()).encode(),
            vector("no card")
        );
    }

    #[test]
    fn the_spec_read_decodes_to_the_documented_card() {
        let bytes = vector("read text and photo");
        let mut d = Decoder::new();
        d.push(&bytes);
        let r = d.next_response().unwrap().unwrap();
        assert_eq!(r.status, Status::Success);
        let (text, photo) = super::super::split_read_data(&r.data).unwrap();
        let card = super::super::text::parse_card(text, photo).unwrap();
        assert_eq!(card.name.expose(), "李小红");
        assert_eq!(card.gender, Gender::Female);
        assert_eq!(card.nation.unwrap().name_zh(), "维吾尔");
        assert_eq!(card.birth_date, date(1985, 11, 20));
        assert_eq!(card.address.expose(), "重庆市沙坪坝区天星桥正街12号");
        assert_eq!(card.id_number.expose(), "50010619851120002X");
        assert_eq!(card.authority, "重庆市公安局沙坪坝区分局");
        assert_eq!(card.valid_from, date(2016, 11, 20));
        assert_eq!(card.valid_until, ValidUntil::Date(date(2036, 11, 20)));
        assert_eq!(card.photo.0.len(), 1024);
    }

    #[test]
    fn padded_no_card_answer_is_understood_too() {
        let padded = spec_vectors()
            .into_iter()
            .filter(|(t, _)| t.contains("no card"))
            .nth(1)
            .unwrap()
            .1;
        let mut d = Decoder::new();
        d.push(&padded);
        assert_eq!(d.next_response().unwrap().unwrap().status, Status::NoCard);
    }

    #[test]
    fn a_card_is_found_again_only_after_lift_and_place() {
        let card = test_cards().remove(1);
        let mut sim = SimReader::with_card(card.clone());
        let find = |s: &mut SimReader| s.answer(&Command::FindCard.code()).status;
        assert_eq!(find(&mut sim), Status::FindSuccess);
        assert_eq!(find(&mut sim), Status::NoCard);
        sim.lift();
        assert_eq!(find(&mut sim), Status::NoCard);
        sim.place(card);
        assert_eq!(find(&mut sim), Status::FindSuccess);
    }

    #[test]
    fn unknown_commands_and_out_of_order_reads_are_refused() {
        let mut sim = SimReader::with_card(test_cards().remove(0));
        assert_eq!(sim.answer(&[0x99, 0x99]).status, Status::UnknownCommand);
        assert_eq!(
            sim.answer(&Command::ReadTextAndPhoto.code()).status,
            Status::ReadFailed
        );
    }

    #[test]
    fn resident_cards_follow_their_number() {
        let id = IdNumber::synthesize("500112", date(2001, 2, 3), 14).unwrap();
        let c = resident_card(&id, "测试用户", "重庆市渝北区", "重庆市公安局渝北区分局");
        assert_eq!(c.birth_date, date(2001, 2, 3));
        assert_eq!(c.gender, Gender::Female);
        assert_eq!(test_cards()[0], spec_card());
    }
}
