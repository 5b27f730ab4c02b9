//! `DLE EOT n` real-time status: n = 1 printer, 2 offline cause, 3 error cause, 4 roll paper
//! sensor. Each answer is one byte whose bits 1 and 4 are set and bits 0 and 7 are clear.

/// What the printer reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PrinterStatus {
    /// n=1 bit 3.
    pub offline: bool,
    /// n=2 bit 2.
    pub cover_open: bool,
    /// n=4 bits 2–3: the roll is nearly used up (printing still works).
    pub paper_near_end: bool,
    /// n=4 bits 5–6 (or n=2 bit 5): no paper.
    pub paper_out: bool,
    /// n=3 bits 2, 3 or 5: cutter, unrecoverable or auto-recoverable error.
    pub error: bool,
}

/// The overall state, for health and `kiosk device status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    Ok,
    PaperNearEnd,
    PaperOut,
    CoverOpen,
    Error,
    Offline,
}

impl PrinterStatus {
    /// Decode the four answers (to n = 1, 2, 3, 4). `None` if a byte is not a status byte.
    pub fn from_bytes(answers: [u8; 4]) -> Option<Self> {
        if answers.iter().any(|b| b & 0x93 != 0x12) {
            return None;
        }
        let [printer, offline, error, paper] = answers;
        Some(PrinterStatus {
            offline: printer & 0x08 != 0,
            cover_open: offline & 0x04 != 0,
            paper_near_end: paper & 0x0C != 0,
            paper_out: paper & 0x60 != 0 || offline & 0x20 != 0,
            error: error & 0x2C != 0 || offline & 0x40 != 0,
        })
    }

    /// The bytes a printer in this state answers (the simulator's side).
    pub fn to_bytes(self) -> [u8; 4] {
        let base = 0x12;
        [
            base | if self.offline { 0x08 } else { 0 },
            base | if self.cover_open { 0x04 } else { 0 }
                | if self.paper_out { 0x20 } else { 0 }
                | if self.error { 0x40 } else { 0 },
            base | if self.error { 0x08 } else { 0 },
            base | if self.paper_near_end { 0x0C } else { 0 }
                | if self.paper_out { 0x60 } else { 0 },
        ]
    }

    /// The most important condition.
    pub fn state(&self) -> PrinterState {
        if self.cover_open {
            PrinterState::CoverOpen
        } else if self.paper_out {
            PrinterState::PaperOut
        } else if self.error {
            PrinterState::Error
        } else if self.offline {
            PrinterState::Offline
        } else if self.paper_near_end {
            PrinterState::PaperNearEnd
        } else {
            PrinterState::Ok
        }
    }

    /// Whether a receipt can be printed now.
    pub fn can_print(&self) -> bool {
        matches!(self.state(), PrinterState::Ok | PrinterState::PaperNearEnd)
    }

    /// A message for the operator.
    pub fn message(&self) -> &'static str {
        match self.state() {
            PrinterState::Ok => "正常 / ok",
            PrinterState::PaperNearEnd => "纸将尽，请及时换纸 / paper near end",
            PrinterState::PaperOut => "缺纸 / paper out",
            PrinterState::CoverOpen => "纸仓盖未关 / cover open",
            PrinterState::Error => "打印机故障 / printer error",
            PrinterState::Offline => "打印机脱机 / offline",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes_decode_to_distinct_conditions() {
        let table: [([u8; 4], PrinterState); 6] = [
            ([0x12, 0x12, 0x12, 0x12], PrinterState::Ok),
            ([0x12, 0x12, 0x12, 0x1E], PrinterState::PaperNearEnd),
            ([0x12, 0x32, 0x12, 0x72], PrinterState::PaperOut),
            ([0x1A, 0x16, 0x12, 0x12], PrinterState::CoverOpen),
            ([0x1A, 0x12, 0x12, 0x12], PrinterState::Offline),
            ([0x12, 0x52, 0x1A, 0x12], PrinterState::Error),
        ];
        for (bytes, state) in table {
            let s = PrinterStatus::from_bytes(bytes).unwrap();
            assert_eq!(s.state(), state, "{bytes:02X?}");
            assert_eq!(
                PrinterStatus::from_bytes(s.to_bytes()).unwrap().state(),
                state
            );
        }
    }

    #[test]
    fn bytes_that_are_not_status_bytes_are_refused() {
        assert!(PrinterStatus::from_bytes([0x00, 0x12, 0x12, 0x12]).is_none());
        assert!(PrinterStatus::from_bytes([0x12, 0x12, 0x12, 0x93]).is_none());
    }
}
