//! The scanner's byte stream split into scans. Self-contained (std and `thiserror` only) so
//! that the fuzz target can build it alone.

/// Why a line could not be taken as a scan, or a suffix setting is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error(
        "a scan longer than {MAX_SCAN} bytes arrived without its suffix (wrong suffix setting?)"
    )]
    Overlong,
    #[error("scanner suffix “{0}” is not one of \\r, \\n, \\r\\n")]
    BadSuffix(String),
}

/// What the scanner appends to each scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suffix {
    Cr,
    Lf,
    #[default]
    CrLf,
}

impl Suffix {
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Suffix::Cr => b"\r",
            Suffix::Lf => b"\n",
            Suffix::CrLf => b"\r\n",
        }
    }
}

impl std::str::FromStr for Suffix {
    type Err = LineError;
    /// Accepts the escaped forms of `kiosk.toml` and the command line (`\r`, `\n`, `\r\n`) and
    /// the names `cr`, `lf`, `crlf`.
    fn from_str(s: &str) -> Result<Self, LineError> {
        match s {
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
}

impl LineSplitter {
    pub fn new(suffix: Suffix) -> Self {
        LineSplitter {
            suffix,
            buf: Vec::new(),
            start: 0,
            searched: 0,
            overlong: false,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete scan, if any. Empty lines (a stray suffix, or the `\n` of a `\r\n`
    /// scanner configured as `\r`) are skipped; an overlong run without suffix is dropped once
    /// with an error.
    pub fn next_scan(&mut self) -> Option<Result<Scan, LineError>> {
        loop {
            let sfx = self.suffix.bytes();
            let from = self.searched.max(self.start);
            let found = self.buf[from..]
                .windows(sfx.len())
                .position(|w| w == sfx)
                .map(|p| from + p);
            let Some(end) = found else {
                // Wait for more: keep only the unfinished scan.
                self.buf.drain(..self.start);
                self.start = 0;
                self.searched = self.buf.len().saturating_sub(sfx.len() - 1);
                if self.buf.len() > MAX_SCAN {
                    self.buf.clear();
                    self.searched = 0;
                    self.overlong = true;
                    return Some(Err(LineError::Overlong));
                }
                return None;
            };
            let line = &self.buf[self.start..end];
            self.start = end + sfx.len();
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
        ] {
            assert_eq!(s.parse::<Suffix>().unwrap(), expected);
        }
        assert!("\t".parse::<Suffix>().is_err());
    }
}
