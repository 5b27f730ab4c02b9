//! Pseudo-terminals for the simulators: the simulator holds the master side, a real serial
//! adapter opens the slave path as if it were `/dev/ttyUSB0`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};

/// An open pseudo-terminal pair. The slave side is kept open so that the master never sees a
/// hang-up while clients come and go.
pub struct Pty {
    master: File,
    slave: OwnedFd,
    path: PathBuf,
}

impl Pty {
    /// Open a raw (no echo, no line editing) pseudo-terminal.
    pub fn open() -> io::Result<Self> {
        let pair = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        let mut t = tcgetattr(&pair.slave).map_err(io::Error::from)?;
        cfmakeraw(&mut t);
        tcsetattr(&pair.slave, SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(&pair.slave).map_err(io::Error::from)?;
        fcntl(&pair.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
        Ok(Pty {
            master: File::from(pair.master),
            slave: pair.slave,
            path,
        })
    }

    /// The slave's path (`/dev/pts/N`), for the client.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Read what the client sent, waiting at most `wait`; `Ok(0)` when nothing came.
    pub fn read_some(&mut self, buf: &mut [u8], wait: Duration) -> io::Result<usize> {
        let step = Duration::from_millis(2);
        let mut waited = Duration::ZERO;
        loop {
            match self.master.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if waited >= wait {
                        return Ok(0);
                    }
                    std::thread::sleep(step);
                    waited += step;
                }
                // EIO: no client has the slave open right now.
                Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => {
                    std::thread::sleep(step);
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Drop what was sent to the client but not read yet (stale scans nobody took).
    pub fn drop_unread(&self) -> io::Result<()> {
        nix::sys::termios::tcflush(&self.slave, nix::sys::termios::FlushArg::TCIFLUSH)
            .map_err(io::Error::from)
    }

    /// Send all of `bytes` to the client, waiting while the terminal's buffer is full.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.master.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
