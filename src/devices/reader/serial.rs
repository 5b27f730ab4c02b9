//! The GA 467 reader adapter over any byte link (normally a serial port): polls find-card until
//! the caller's deadline, retries a command once on a bad checksum, reopens a port that went away.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::frame::{Command, Decoder, FrameError, Response, Status};
use super::{CardReader, ReaderError, split_read_data, text};
use crate::devices::DeviceError;
use crate::devices::health::{Backoff, Health, HealthCell};
use crate::devices::link::{Link, Opener};
use crate::domain::IdCard;

pub use crate::devices::link::SerialOpener;

/// How long to wait for what.
#[derive(Debug, Clone, Copy)]
pub struct ReaderTiming {
    /// Longest wait for the answer to one command.
    pub response_timeout: Duration,
    /// Pause between two find-card polls while no card is placed.
    pub poll_interval: Duration,
    /// First pause before reopening a port that went away (doubles up to one second).
    pub reopen_backoff: Duration,
    /// Longest time to select and read a card once find-card found it (kiosk.toml `[timeouts]
    /// card_read_ms`), counted from that moment, whatever is left of the caller's deadline for
    /// waiting: a card found at the end of a short wait is still read whole.
    pub card_read: Duration,
}

/// `card_read` by default (kiosk.toml's `card_read_ms = 10000`).
pub const DEFAULT_CARD_READ: Duration = Duration::from_millis(10_000);

impl Default for ReaderTiming {
    fn default() -> Self {
        ReaderTiming {
            response_timeout: Duration::from_millis(1000),
            poll_interval: Duration::from_millis(150),
            reopen_backoff: Duration::from_millis(100),
            card_read: DEFAULT_CARD_READ,
        }
    }
}

/// A GA 467 reader behind an [`Opener`].
pub struct Ga467Reader<O: Opener> {
    opener: O,
    link: Option<Box<dyn Link>>,
    decoder: Decoder,
    timing: ReaderTiming,
    /// Commands retried because of a bad checksum (either direction), for health and tests.
    pub checksum_retries: u32,
    /// Times the port was (re)opened.
    pub opens: u32,
    /// Published health: ok after a good answer, degraded after garbled answers or silence,
    /// absent while the port is gone.
    pub health: HealthCell,
}

impl<O: Opener> Ga467Reader<O> {
    pub fn new(opener: O, timing: ReaderTiming) -> Self {
        Ga467Reader {
            opener,
            link: None,
            decoder: Decoder::new(),
            timing,
            checksum_retries: 0,
            opens: 0,
            health: HealthCell::default(),
        }
    }

    fn port(&self) -> String {
        self.opener.describe()
    }

    /// Read a card found from now on within `card_read` ([`ReaderTiming::card_read`]).
    pub fn set_card_read(&mut self, card_read: Duration) {
        self.timing.card_read = card_read;
    }

    fn ensure_open(&mut self) -> Result<&mut Box<dyn Link>, ReaderError> {
        if self.link.is_none() {
            let link = self
                .opener
                .open()
                .map_err(|source| ReaderError::Disconnected {
                    port: self.opener.describe(),
                    source,
                })?;
            self.opens += 1;
            self.decoder.clear();
            tracing::debug!(port = %self.opener.describe(), "reader port opened");
            self.link = Some(link);
        }
        Ok(self.link.as_mut().expect("just opened"))
    }

    fn lost(&mut self, source: io::Error) -> ReaderError {
        tracing::warn!(port = %self.port(), error = %source, "reader port lost");
        self.link = None;
        ReaderError::Disconnected {
            port: self.port(),
            source,
        }
    }

    /// Send one command and wait for its answer; a bad checksum in either direction is retried
    /// once.
    pub fn transact(&mut self, cmd: Command, deadline: Instant) -> Result<Response, ReaderError> {
        let r = self.transact_with_retry(cmd, deadline);
        match &r {
            Ok(_) => self.health.set(Health::Ok),
            Err(e @ ReaderError::NoAnswer { .. }) => {
                self.health.set(Health::Degraded(e.to_string()))
            }
            Err(e) => {
                if let Some(h) = Health::after_error(e.kind(), e.to_string()) {
                    self.health.set(h);
                }
            }
        }
        r
    }

    fn transact_with_retry(
        &mut self,
        cmd: Command,
        deadline: Instant,
    ) -> Result<Response, ReaderError> {
        let mut last_bad: Option<FrameError> = None;
        for attempt in 0..2 {
            if attempt == 1 {
                self.checksum_retries += 1;
            }
            match self.transact_once(cmd, deadline)? {
                Ok(r) if r.status == Status::ChecksumRejected => {
                    last_bad = Some(FrameError::RejectedByReader);
                    tracing::debug!(?cmd, "reader rejected our checksum");
                }
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::debug!(?cmd, error = %e, "bad frame from the reader");
                    last_bad = Some(e);
                }
            }
        }
        Err(ReaderError::Frame(last_bad.expect("two failed attempts")))
    }

    /// One attempt: `Ok(Err(_))` is a broken frame (worth one retry), `Err(_)` is final.
    fn transact_once(
        &mut self,
        cmd: Command,
        deadline: Instant,
    ) -> Result<Result<Response, FrameError>, ReaderError> {
        let timeout = self.timing.response_timeout;
        self.decoder.clear();
        let link = self.ensure_open()?;
        link.discard_input();
        let sent = link.write_all(&cmd.encode()).and_then(|()| link.flush());
        if let Err(e) = sent {
            return Err(self.lost(e));
        }
        // Wait at most `timeout` for the answer; near the caller's deadline, wait until the
        // deadline but still long enough (a quarter of `timeout`) for an answer to arrive.
        let answer_by = (Instant::now() + timeout).min(deadline.max(Instant::now() + timeout / 4));
        let mut buf = [0u8; 512];
        loop {
            if let Some(r) = self.decoder.next_response() {
                match r {
                    Err(FrameError::BadLength(_)) => continue,
                    other => return Ok(other),
                }
            }
            if Instant::now() >= answer_by {
                return Err(ReaderError::NoAnswer { port: self.port() });
            }
            let link = self.link.as_mut().expect("open");
            match link.read(&mut buf) {
                Ok(0) => {
                    return Err(self.lost(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the port was closed",
                    )));
                }
                Ok(n) => self.decoder.push(&buf[..n]),
                Err(e) if crate::devices::link::is_nothing_yet(&e) => {}
                Err(e) => return Err(self.lost(e)),
            }
        }
    }

    /// Poll find-card until a card answers or the deadline passes; a port that went away is
    /// reopened with backoff meanwhile. Returns whether the card is already selected.
    fn wait_for_card(&mut self, started: Instant, deadline: Instant) -> Result<bool, ReaderError> {
        let mut backoff = Backoff::new(self.timing.reopen_backoff, Duration::from_secs(1));
        loop {
            let retries_before = self.checksum_retries;
            let outcome = self.transact(Command::FindCard, deadline);
            match outcome {
                Ok(r) if r.status == Status::FindSuccess => return Ok(false),
                Ok(r) if r.status == Status::NoCard => {
                    backoff.succeeded();
                    // A garbled "card found" followed by "no card" on the retry: the reader
                    // found the card once and will not report it again until it is lifted, so
                    // try to select it directly.
                    if self.checksum_retries > retries_before {
                        let selected = self.transact(Command::SelectCard, deadline)?;
                        if selected.status == Status::Success {
                            return Ok(true);
                        }
                    }
                }
                Ok(r) => {
                    return Err(ReaderError::Reported {
                        command: Command::FindCard,
                        status: r.status,
                    });
                }
                Err(e @ ReaderError::Disconnected { .. }) => {
                    backoff.failed(Instant::now());
                    let pause = backoff.wait(Instant::now());
                    if Instant::now() + pause >= deadline {
                        return Err(e);
                    }
                    std::thread::sleep(pause);
                    continue;
                }
                // A reader busy or restarting may miss an answer: keep asking until the
                // deadline, then say it does not answer.
                Err(e @ ReaderError::NoAnswer { .. }) => {
                    if Instant::now() + self.timing.poll_interval >= deadline {
                        return Err(e);
                    }
                    std::thread::sleep(self.timing.poll_interval);
                    continue;
                }
                Err(e) => return Err(e),
            }
            if Instant::now() + self.timing.poll_interval >= deadline {
                return Err(ReaderError::NoCard {
                    waited_ms: started.elapsed().as_millis(),
                });
            }
            std::thread::sleep(self.timing.poll_interval);
        }
    }
}

impl<O: Opener> CardReader for Ga467Reader<O> {
    type Error = ReaderError;

    fn read_card(&mut self, deadline: Instant) -> Result<IdCard, ReaderError> {
        let started = Instant::now();
        loop {
            let selected = self.wait_for_card(started, deadline)?;
            // Found: selecting and reading it have their own deadline.
            let read_by = Instant::now() + self.timing.card_read;
            if selected {
                return self.read_selected(read_by);
            }
            let selected = self.transact(Command::SelectCard, read_by)?;
            match selected.status {
                Status::Success => {}
                // The card was lifted between find and select: keep waiting.
                Status::SelectFailed => continue,
                status => {
                    return Err(ReaderError::Reported {
                        command: Command::SelectCard,
                        status,
                    });
                }
            }
            return self.read_selected(read_by);
        }
    }
}

impl<O: Opener> Ga467Reader<O> {
    fn read_selected(&mut self, deadline: Instant) -> Result<IdCard, ReaderError> {
        let read = self.transact(Command::ReadTextAndPhoto, deadline)?;
        if read.status != Status::Success {
            return Err(ReaderError::Reported {
                command: Command::ReadTextAndPhoto,
                status: read.status,
            });
        }
        let (text_block, photo) =
            split_read_data(&read.data).map_err(|reason| ReaderError::Malformed {
                command: Command::ReadTextAndPhoto,
                reason,
            })?;
        let card = text::parse_card(text_block, photo)?;
        tracing::info!(card_type = ?card.card_type, id = %card.id_number, "card read");
        Ok(card)
    }
}

/// The serial reader for a port path.
pub fn serial_reader(path: impl Into<PathBuf>, baud: u32) -> Ga467Reader<SerialOpener> {
    Ga467Reader::new(SerialOpener::new(path, baud), ReaderTiming::default())
}

#[cfg(test)]
mod tests {
    use super::super::sim::MemoryOpener;
    use super::super::sim::{Faults, SimReader, test_cards};
    use super::*;
    use crate::devices::ErrorKind;

    fn reader(sim: SimReader, faults: Faults) -> Ga467Reader<MemoryOpener> {
        let timing = ReaderTiming {
            response_timeout: Duration::from_millis(200),
            poll_interval: Duration::from_millis(5),
            reopen_backoff: Duration::from_millis(5),
            card_read: Duration::from_millis(2000),
        };
        Ga467Reader::new(MemoryOpener::new(sim, faults), timing)
    }

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn reads_the_placed_card() {
        let card = test_cards().remove(0);
        let mut r = reader(SimReader::with_card(card.clone()), Faults::default());
        assert_eq!(r.read_card(soon(2000)).unwrap(), card);
    }

    #[test]
    fn no_card_until_the_deadline_is_a_timeout() {
        let mut r = reader(SimReader::empty(), Faults::default());
        let err = r.read_card(soon(100)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(matches!(err, ReaderError::NoCard { .. }), "{err}");
    }

    #[test]
    fn a_bad_checksum_is_retried_once() {
        let card = test_cards().remove(0);
        let faults = Faults {
            corrupt_responses: 1,
            ..Faults::default()
        };
        let mut r = reader(SimReader::with_card(card.clone()), faults);
        assert_eq!(r.read_card(soon(2000)).unwrap(), card);
        assert_eq!(r.checksum_retries, 1);
    }

    #[test]
    fn a_garbled_read_answer_is_read_again() {
        let card = test_cards().remove(0);
        let faults = Faults {
            corrupt_responses: 1,
            corrupt_after: 2,
            ..Faults::default()
        };
        let mut r = reader(SimReader::with_card(card.clone()), faults);
        assert_eq!(r.read_card(soon(2000)).unwrap(), card);
        assert_eq!(r.checksum_retries, 1);
    }

    #[test]
    fn two_bad_checksums_in_a_row_are_a_protocol_error() {
        let faults = Faults {
            corrupt_responses: 2,
            ..Faults::default()
        };
        let mut r = reader(SimReader::with_card(test_cards().remove(0)), faults);
        let err = r.read_card(soon(2000)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    }

    #[test]
    fn a_card_that_appears_later_is_read() {
        let faults = Faults {
            no_card_polls: 5,
            ..Faults::default()
        };
        let mut r = reader(SimReader::with_card(test_cards().remove(1)), faults);
        assert!(r.read_card(soon(2000)).is_ok());
    }

    #[test]
    fn health_is_published() {
        let mut r = reader(
            SimReader::with_card(test_cards().remove(0)),
            Faults::default(),
        );
        assert!(matches!(r.health.get(), Health::Absent(_)));
        r.read_card(soon(2000)).unwrap();
        assert_eq!(r.health.get(), Health::Ok);
        let mut silent = reader(
            SimReader::empty(),
            Faults {
                silent: true,
                ..Faults::default()
            },
        );
        let _ = silent.read_card(soon(300));
        assert!(matches!(silent.health.get(), Health::Degraded(_)));
    }

    #[test]
    fn a_silent_reader_does_not_answer() {
        let faults = Faults {
            silent: true,
            ..Faults::default()
        };
        let mut r = reader(SimReader::with_card(test_cards().remove(0)), faults);
        let err = r.read_card(soon(300)).unwrap_err();
        assert!(matches!(err, ReaderError::NoAnswer { .. }), "{err}");
    }

    /// A card found as the caller's wait ends is still read whole: the read has its own
    /// deadline, `card_read`, from the moment the card is found; a read slower than `card_read`
    /// is a reader that does not answer.
    #[test]
    fn a_card_found_at_the_end_of_the_wait_is_read_within_card_read() {
        let card = test_cards().remove(0);
        // The security module takes 2 s to read; an answer may take 3 s (and is waited for at
        // least a quarter of that, 750 ms, even past a deadline).
        let slow = || {
            let mut r = reader(
                SimReader::with_card(card.clone()),
                Faults {
                    read_delay: Duration::from_secs(2),
                    ..Faults::default()
                },
            );
            r.timing.response_timeout = Duration::from_secs(3);
            r
        };
        // The wait is over when the card is found (deadline now): read within card_read.
        let mut r = slow();
        r.set_card_read(Duration::from_secs(5));
        assert_eq!(r.read_card(Instant::now()).unwrap(), card);
        // A card_read shorter than the module's read: no answer in time.
        let mut r = slow();
        r.set_card_read(Duration::from_millis(100));
        let err = r
            .read_card(Instant::now() + Duration::from_secs(5))
            .unwrap_err();
        assert!(matches!(err, ReaderError::NoAnswer { .. }), "{err}");
    }
}
