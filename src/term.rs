//! Standard output and error for the command line, without panics.
//!
//! `print!` and `eprint!` panic when their stream is closed (`kiosk config | head -c1`). Here a
//! write to standard output returns its `io::Error`, which the command passes up; `cli::main`
//! ends quietly on a broken pipe (exit status [`BROKEN_PIPE_EXIT`]). A write to standard error
//! that fails is dropped: there is nowhere left to say it.

use std::fmt::Display;
use std::io::{self, Write};

/// The exit status when standard output was closed early: 128 + SIGPIPE, what a shell reports
/// for a program the closed pipe ended.
pub const BROKEN_PIPE_EXIT: u8 = 141;

/// Write `s` to standard output and flush it.
pub fn out(s: impl Display) -> io::Result<()> {
    let mut o = io::stdout().lock();
    write!(o, "{s}")?;
    o.flush()
}

/// Write `s` and a newline to standard output and flush it.
pub fn out_line(s: impl Display) -> io::Result<()> {
    let mut o = io::stdout().lock();
    writeln!(o, "{s}")?;
    o.flush()
}

/// Write `s` and a newline to standard error; a closed standard error is ignored.
pub fn err_line(s: impl Display) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "{s}");
}

/// Whether `e` (or what caused it) is a write to a closed pipe.
pub fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// `println!` that returns the write's `io::Result` instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::term::out_line(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (a failed write to standard error is dropped).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::term::err_line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_found_through_the_error_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("writing the report")]
        struct Outer(#[source] io::Error);
        let e = Outer(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&e));
        let other = Outer(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_broken_pipe(&other));
    }
}
