//! The scanner's byte stream split into scans. Self-contained (std and `thiserror` only) so
//! that the fuzz target can build it alone.

/// Why a line could not be taken as a scan, or a suffix setting is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error(
        "a scan longer than {MAX_SCAN} bytes arrived without its suffix (wrong suffix setting? leave scanner_suffix empty to accept \\r, \\n and \\r\\n)"
    )]
    Overlong,
    #[error("scanner suffix “{0}” is not one of any (or empty), \\r, \\n, \\r\\n")]
    BadSuffix(String),
}

/// What ends a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suffix {
    /// Any line end: `\r`, `\n` or `\r\n` (a CR followed by an LF is one end, also when the two
    /// arrive in separate reads). The default: scanners ship with CR, LF or CRLF.
    #[default]
    Any,
    /// Only `\r` ends a scan.
    Cr,
    /// Only `\n` ends a scan.
    Lf,
    /// Only `\r\n` ends a scan.
    CrLf,
}

impl Suffix {
    /// The bytes a scanner sends after each scan with this setting (`Any`: `\r\n`, which the
    /// simulator sends).
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Suffix::Cr => b"\r",
            Suffix::Lf => b"\n",
            Suffix::CrLf | Suffix::Any => b"\r\n",
        }
    }
}

impl std::str::FromStr for Suffix {
    type Err = LineError;
    /// Accepts `any` or the empty string (any line end), the escaped forms of `kiosk.toml` and the
    /// command line (`\r`, `\n`, `\r\n`) and the names `cr`, `lf`, `crlf`.
    fn from_str(s: &str) -> Result<Self, LineError> {
        match s {
            "" | "any" | "ANY" => Ok(Suffix::Any),
            "\r" | "\\r" | "cr" | "CR" => Ok(Suffix::Cr),
            "\n" | "\\n" | "lf" | "LF" => Ok(Suffix::Lf),
            "\r\n" | "\\r\\n" | "crlf" | "CRLF" => Ok(Suffix::CrLf),
            other => Err(LineError::BadSuffix(other.escape_default().to_string())),
        }
    }
}

/// One scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The code's text.
    Text(String),
    /// Bytes that are not UTF-8 (a scanner set to a legacy code page, or a binary code).
    NotUtf8(Vec<u8>),
}

/// The longest scan accepted (a QR code holds at most 2,953 bytes).
pub const MAX_SCAN: usize = 4096;

/// Splits the scanner's byte stream into scans.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    suffix: Suffix,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out as scans.
    start: usize,
    /// No suffix starts before this index of `buf` (so a byte is searched once, not once per
    /// arriving piece).
    searched: usize,
    overlong: bool,
    /// `Suffix::Any`: the last scan ended with a CR, so an LF right after it belongs to that end.
    after_cr: bool,
}

impl LineSplitter {
    pub fn new(suffix: Suffix) -> Self {
        LineSplitter {
            suffix,
            buf: Vec::new(),
            start: 0,
            searched: 0,
            overlong: false,
            after_cr: false,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Where the next end of a scan is in `buf[from..]`: (index, length of the end).
    fn find_end(&self, from: usize) -> Option<(usize, usize)> {
        let rest = &self.buf[from..];
        match self.suffix {
            Suffix::Any => rest
                .iter()
                .position(|b| matches!(b, b'\r' | b'\n'))
                .map(|p| (from + p, 1)),
            fixed => {
                let sfx = fixed.bytes();
                rest.windows(sfx.len())
                    .position(|w| w == sfx)
                    .map(|p| (from + p, sfx.len()))
            }
        }
    }

    /// The next complete scan, if any. Empty lines (a stray suffix, or the `\n` of a `\r\n`
    /// scanner configured as `\r`) are skipped; an overlong run without suffix is dropped once
    /// with an error.
    pub fn next_scan(&mut self) -> Option<Result<Scan, LineError>> {
        loop {
            if self.after_cr && self.start < self.buf.len() {
                // CR then LF is one end, even when they arrived in separate reads.
                self.after_cr = false;
                if self.buf[self.start] == b'\n' {
                    self.start += 1;
                    self.searched = self.searched.max(self.start);
                }
            }
            let from = self.searched.max(self.start);
            let Some((end, len)) = self.find_end(from) else {
                // Wait for more: keep only the unfinished scan.
                self.buf.drain(..self.start);
                self.start = 0;
                let keep = self.suffix.bytes().len() - 1;
                self.searched = if self.suffix == Suffix::Any {
                    self.buf.len()
                } else {
                    self.buf.len().saturating_sub(keep)
                };
                if self.buf.len() > MAX_SCAN {
                    self.buf.clear();
                    self.searched = 0;
                    self.overlong = true;
                    return Some(Err(LineError::Overlong));
                }
                return None;
            };
            self.after_cr = self.suffix == Suffix::Any && self.buf[end] == b'\r';
            let line = &self.buf[self.start..end];
            self.start = end + len;
            self.searched = self.start;
            if std::mem::take(&mut self.overlong) {
                // The tail of the overlong scan.
                continue;
            }
            // A scanner set to \r\n but configured as \r or \n leaves the other byte around.
            let trimmed: &[u8] = trim_line_ends(line);
            if trimmed.is_empty() {
                continue;
            }
            return Some(Ok(match String::from_utf8(trimmed.to_vec()) {
                Ok(text) => Scan::Text(text),
                Err(e) => Scan::NotUtf8(e.into_bytes()),
            }));
        }
    }

    /// `Suffix::Any`: the last end was a CR and the next byte has not arrived yet (an LF then
    /// belongs to that end).
    #[cfg(test)]
    fn waiting_for_lf(&self) -> bool {
        self.after_cr
    }
}

fn trim_line_ends(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(suffix: Suffix, chunks: &[&[u8]]) -> Vec<Scan> {
        let mut s = LineSplitter::new(suffix);
        let mut out = vec![];
        for c in chunks {
            s.push(c);
            while let Some(r) = s.next_scan() {
                out.push(r.unwrap());
            }
        }
        out
    }

    fn text(s: &str) -> Scan {
        Scan::Text(s.into())
    }

    #[test]
    fn each_suffix_splits_scans() {
        type Case = (Suffix, &'static [&'static [u8]], Vec<Scan>);
        let table: [Case; 5] = [
            (Suffix::Cr, &[b"ABC\rDEF\r"], vec![text("ABC"), text("DEF")]),
            (Suffix::Lf, &[b"ABC\nDEF\n"], vec![text("ABC"), text("DEF")]),
            (
                Suffix::CrLf,
                &[b"AB", b"C\r", b"\nDEF\r\n"],
                vec![text("ABC"), text("DEF")],
            ),
            // A \r\n scanner configured as \n: the stray \r is trimmed.
            (Suffix::Lf, &[b"ABC\r\n"], vec![text("ABC")]),
            // Empty lines are not scans.
            (Suffix::Cr, &[b"\r\rX\r"], vec![text("X")]),
        ];
        for (suffix, chunks, expected) in table {
            assert_eq!(split(suffix, chunks), expected, "{suffix:?}");
        }
    }

    /// The default ends a scan at \r, \n or \r\n: a scanner shipped with CR alone is read at
    /// once, not waited on for an LF that never comes.
    #[test]
    fn by_default_any_line_end_ends_a_scan() {
        assert_eq!(Suffix::default(), Suffix::Any);
        type Case = (&'static [&'static [u8]], Vec<Scan>);
        let table: [Case; 6] = [
            (&[b"ABC\r"], vec![text("ABC")]),
            (&[b"ABC\n"], vec![text("ABC")]),
            (&[b"ABC\r\n"], vec![text("ABC")]),
            (
                &[b"A\rB\nC\r\nD\n\rE\r"],
                vec![text("A"), text("B"), text("C"), text("D"), text("E")],
            ),
            // CR and LF in separate reads are one end.
            (
                &[b"ABC\r", b"\n", b"DEF\r", b"\nGHI\n"],
                vec![text("ABC"), text("DEF"), text("GHI")],
            ),
            (&[b"\r\n\r\n"], vec![]),
        ];
        for (chunks, expected) in table {
            assert_eq!(split(Suffix::default(), chunks), expected, "{chunks:?}");
        }
        // The first scan of a CR-only scanner is there before anything else arrives.
        let mut s = LineSplitter::new(Suffix::default());
        s.push(b"QR1\r");
        assert_eq!(s.next_scan(), Some(Ok(text("QR1"))));
        assert!(s.waiting_for_lf(), "a CR may still be followed by its LF");
        s.push(b"\n");
        assert_eq!(
            s.next_scan(),
            None,
            "the LF of a CR LF is not a second (empty) scan"
        );
        assert!(!s.waiting_for_lf());
        s.push(b"QR2\r\n");
        assert_eq!(s.next_scan(), Some(Ok(text("QR2"))));
    }

    /// A configured suffix narrows: with CR LF set, a lone CR does not end a scan.
    #[test]
    fn a_configured_suffix_only_narrows() {
        assert_eq!(split(Suffix::CrLf, &[b"A\rB\r\n"]), vec![text("A\rB")]);
        assert_eq!(split(Suffix::Cr, &[b"A\nB\r"]), vec![text("A\nB")]);
        assert_eq!(split(Suffix::Lf, &[b"A\rB\n"]), vec![text("A\rB")]);
    }

    #[test]
    fn an_overlong_scan_is_dropped_once_with_any_line_end() {
        let mut s = LineSplitter::new(Suffix::Any);
        s.push(&vec![b'A'; MAX_SCAN + 1]);
        assert!(matches!(s.next_scan(), Some(Err(LineError::Overlong))));
        s.push(b"AAA\r\nOK\n");
        assert_eq!(s.next_scan().unwrap().unwrap(), text("OK"));
        assert_eq!(s.next_scan(), None);
    }

    #[test]
    fn chinese_text_arrives_whole_even_when_split_mid_character() {
        let bytes = "渝A12345\r\n".as_bytes();
        let (a, b) = bytes.split_at(2);
        assert_eq!(split(Suffix::CrLf, &[a, b]), vec![text("渝A12345")]);
    }

    #[test]
    fn non_utf8_is_reported_not_crashed_on() {
        let got = split(Suffix::Cr, &[b"\xd3\xe5A1\r"]);
        assert_eq!(got, vec![Scan::NotUtf8(b"\xd3\xe5A1".to_vec())]);
    }

    #[test]
    fn an_overlong_scan_is_dropped_once() {
        let mut s = LineSplitter::new(Suffix::Cr);
        s.push(&vec![b'A'; MAX_SCAN + 1]);
        assert!(matches!(s.next_scan(), Some(Err(LineError::Overlong))));
        s.push(b"AAA\rOK\r");
        assert_eq!(s.next_scan().unwrap().unwrap(), text("OK"));
    }

    #[test]
    fn suffixes_parse_from_config_spellings() {
        for (s, expected) in [
            ("\r", Suffix::Cr),
            ("\\n", Suffix::Lf),
            ("\r\n", Suffix::CrLf),
            ("crlf", Suffix::CrLf),
            ("any", Suffix::Any),
            ("", Suffix::Any),
        ] {
            assert_eq!(s.parse::<Suffix>().unwrap(), expected);
        }
        assert!("\t".parse::<Suffix>().is_err());
    }
}
