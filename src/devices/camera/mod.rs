//! The camera above the screen (人脸核验摄像头): one JPEG frame on request, before a deadline.
//!
//! - [`V4l2Camera`]: a UVC webcam through V4L2 (`linuxvideo`, pure Rust), in its MJPEG format
//!   (every UVC webcam offers it); the stream is opened per capture and the first frames are
//!   skipped while exposure settles; a frame without Huffman tables gets the standard ones.
//! - [`FilesCamera`]: the test camera; plays the `.jpg` / `.jpeg` files of a directory in name
//!   order, one per capture, round and round.
//!
//! The camera URI (`[face] camera`): `v4l2:/dev/video0` or `files:DIR`.

pub mod jpeg;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use jpeg::{JpegError, MAX_FRAME_BYTES};

use super::{DeviceError, ErrorKind, UriError};

/// One captured frame: a JPEG image and its size (from its frame header).
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub jpeg: Vec<u8>,
    pub width: u16,
    pub height: u16,
}

impl Frame {
    /// A frame from JPEG bytes, checked to be a whole image (see [`jpeg::inspect`]).
    pub fn from_jpeg(jpeg: Vec<u8>) -> Result<Frame, JpegError> {
        let (width, height) = jpeg::inspect(&jpeg)?;
        Ok(Frame {
            jpeg,
            width,
            height,
        })
    }
}

impl std::fmt::Debug for Frame {
    // A face is personal data: never print the bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Frame({}x{}, {} bytes of JPEG)",
            self.width,
            self.height,
            self.jpeg.len()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("no frame from the camera {camera} within {waited_ms} ms")]
    Timeout { camera: String, waited_ms: u128 },
    #[error("the camera {camera} is not available: {source}")]
    Disconnected {
        camera: String,
        #[source]
        source: io::Error,
    },
    #[error("the camera image {source_name} cannot be used: {why}")]
    Garbled { source_name: String, why: JpegError },
    #[error("the camera {camera}: {why}")]
    Config { camera: String, why: String },
    #[error("the camera {camera} failed: {source}")]
    Io {
        camera: String,
        #[source]
        source: io::Error,
    },
}

impl DeviceError for CameraError {
    fn kind(&self) -> ErrorKind {
        match self {
            CameraError::Timeout { .. } => ErrorKind::Timeout,
            CameraError::Disconnected { .. } => ErrorKind::Disconnected,
            CameraError::Garbled { .. } => ErrorKind::InvalidData,
            CameraError::Config { .. } => ErrorKind::Config,
            CameraError::Io { .. } => ErrorKind::Other,
        }
    }
}

/// A camera: one frame before `deadline`.
pub trait Camera {
    type Error: DeviceError;
    fn capture(&mut self, deadline: Instant) -> Result<Frame, Self::Error>;
}

impl<T: Camera + ?Sized> Camera for &mut T {
    type Error = T::Error;
    fn capture(&mut self, deadline: Instant) -> Result<Frame, Self::Error> {
        T::capture(self, deadline)
    }
}

impl<T: Camera + ?Sized> Camera for Box<T> {
    type Error = T::Error;
    fn capture(&mut self, deadline: Instant) -> Result<Frame, Self::Error> {
        T::capture(self, deadline)
    }
}

/// Where the camera is: `v4l2:/dev/video0` or `files:DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraUri {
    V4l2 { path: PathBuf },
    Files { dir: PathBuf },
}

impl std::str::FromStr for CameraUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, UriError> {
        let bad = |why| UriError::Invalid(s.to_string(), why);
        if let Some(path) = s.strip_prefix("v4l2:") {
            if path.is_empty() {
                return Err(bad("the video device path is empty (v4l2:/dev/video0)"));
            }
            return Ok(CameraUri::V4l2 { path: path.into() });
        }
        if let Some(dir) = s.strip_prefix("files:") {
            if dir.is_empty() {
                return Err(bad("the image directory is empty (files:DIR)"));
            }
            return Ok(CameraUri::Files { dir: dir.into() });
        }
        Err(bad(
            "a camera URI is v4l2:/dev/videoN (a webcam) or files:DIR (the test camera)",
        ))
    }
}

impl std::fmt::Display for CameraUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CameraUri::V4l2 { path } => write!(f, "v4l2:{}", path.display()),
            CameraUri::Files { dir } => write!(f, "files:{}", dir.display()),
        }
    }
}

/// The camera a URI names.
pub enum AnyCamera {
    V4l2(V4l2Camera),
    Files(FilesCamera),
}

impl AnyCamera {
    /// Open the camera `uri` names. The test camera lists its files now (none is an error); a
    /// webcam is opened at each capture.
    pub fn open(uri: &CameraUri) -> Result<AnyCamera, CameraError> {
        Ok(match uri {
            CameraUri::V4l2 { path } => AnyCamera::V4l2(V4l2Camera::new(path)),
            CameraUri::Files { dir } => AnyCamera::Files(FilesCamera::open(dir)?),
        })
    }
}

impl Camera for AnyCamera {
    type Error = CameraError;
    fn capture(&mut self, deadline: Instant) -> Result<Frame, CameraError> {
        match self {
            AnyCamera::V4l2(c) => c.capture(deadline),
            AnyCamera::Files(c) => c.capture(deadline),
        }
    }
}

/// The test camera: the JPEG files of a directory in name order, one per capture, round and round.
#[derive(Debug)]
pub struct FilesCamera {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
}

impl FilesCamera {
    /// List the directory's `.jpg` / `.jpeg` files (case-insensitive); none is an error.
    pub fn open(dir: &Path) -> Result<FilesCamera, CameraError> {
        let camera = format!("files:{}", dir.display());
        let entries = std::fs::read_dir(dir).map_err(|source| CameraError::Disconnected {
            camera: camera.clone(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| CameraError::Io {
                camera: camera.clone(),
                source,
            })?;
            let path = entry.path();
            let is_jpeg = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
            if is_jpeg {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(CameraError::Config {
                camera,
                why: "the directory holds no .jpg or .jpeg file".into(),
            });
        }
        files.sort();
        Ok(FilesCamera {
            dir: dir.to_path_buf(),
            files,
            next: 0,
        })
    }

    /// The files played, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl Camera for FilesCamera {
    type Error = CameraError;

    /// The next file in turn; a missing or garbled file is an error naming it, and the next
    /// capture moves on to the file after it.
    fn capture(&mut self, deadline: Instant) -> Result<Frame, CameraError> {
        let path = self.files[self.next % self.files.len()].clone();
        self.next = (self.next + 1) % self.files.len();
        if Instant::now() >= deadline {
            return Err(CameraError::Timeout {
                camera: format!("files:{}", self.dir.display()),
                waited_ms: 0,
            });
        }
        let name = path.display().to_string();
        let too_large = |len: u64| CameraError::Garbled {
            source_name: name.clone(),
            why: JpegError::TooLarge(usize::try_from(len).unwrap_or(usize::MAX)),
        };
        // Bounded memory: the size is checked before the file is read.
        let len = std::fs::metadata(&path)
            .map_err(|source| CameraError::Disconnected {
                camera: name.clone(),
                source,
            })?
            .len();
        if len > MAX_FRAME_BYTES as u64 {
            return Err(too_large(len));
        }
        let bytes = std::fs::read(&path).map_err(|source| CameraError::Disconnected {
            camera: name.clone(),
            source,
        })?;
        Frame::from_jpeg(bytes).map_err(|why| CameraError::Garbled {
            source_name: name,
            why,
        })
    }
}

/// Frames skipped after the stream starts while the webcam's exposure settles.
pub const WARMUP_FRAMES: u32 = 4;

/// A UVC webcam through V4L2, in MJPEG (or JPEG) format.
#[derive(Debug)]
pub struct V4l2Camera {
    path: PathBuf,
    /// The size asked for (the driver picks the nearest it has).
    pub width: u32,
    pub height: u32,
    pub warmup: u32,
}

impl V4l2Camera {
    pub fn new(path: &Path) -> V4l2Camera {
        V4l2Camera {
            path: path.to_path_buf(),
            width: 640,
            height: 480,
            warmup: WARMUP_FRAMES,
        }
    }

    fn name(&self) -> String {
        format!("v4l2:{}", self.path.display())
    }
}

impl Camera for V4l2Camera {
    type Error = CameraError;

    fn capture(&mut self, deadline: Instant) -> Result<Frame, CameraError> {
        use linuxvideo::format::{PixFormat, PixelFormat};
        use linuxvideo::{BufType, Device};

        let camera = self.name();
        let started = Instant::now();
        let io_err = |source| CameraError::Io {
            camera: camera.clone(),
            source,
        };
        let device = Device::open(&self.path).map_err(|source| {
            // Opened, but it does not answer V4L2's capability query: not a video device.
            if source.raw_os_error() == Some(nix::errno::Errno::ENOTTY as i32) {
                CameraError::Config {
                    camera: camera.clone(),
                    why: "is not a V4L2 video device".into(),
                }
            } else {
                CameraError::Disconnected {
                    camera: camera.clone(),
                    source,
                }
            }
        })?;
        let formats = device
            .formats(BufType::VIDEO_CAPTURE)
            .map(|f| f.map(|f| f.pixel_format()))
            .collect::<io::Result<Vec<_>>>()
            .map_err(io_err)?;
        let format = [PixelFormat::MJPG, PixelFormat::JPEG]
            .into_iter()
            .find(|f| formats.contains(f))
            .ok_or_else(|| CameraError::Config {
                camera: camera.clone(),
                why: format!("offers no MJPEG or JPEG format (it offers {formats:?})"),
            })?;
        let capture = device
            .video_capture(PixFormat::new(self.width, self.height, format))
            .map_err(io_err)?;
        let mut stream = capture.into_stream().map_err(io_err)?;
        let mut skipped = 0;
        loop {
            if Instant::now() >= deadline {
                return Err(CameraError::Timeout {
                    camera,
                    waited_ms: started.elapsed().as_millis(),
                });
            }
            // Dequeue only a filled buffer: the wait stays under the deadline.
            if stream.will_block().map_err(io_err)? {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let frame = stream
                .dequeue(|buf| {
                    Ok((!buf.is_error() && buf.len() <= MAX_FRAME_BYTES).then(|| buf.to_vec()))
                })
                .map_err(io_err)?;
            let Some(bytes) = frame else { continue };
            if skipped < self.warmup {
                skipped += 1;
                continue;
            }
            match Frame::from_jpeg(jpeg::with_standard_huffman_tables(bytes)) {
                Ok(frame) => return Ok(frame),
                // A corrupt frame from a USB hiccup: take the next one.
                Err(why) => tracing::debug!(%camera, %why, "camera frame skipped"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn camera_uris_parse_and_print_back() {
        for (text, uri) in [
            (
                "v4l2:/dev/video0",
                CameraUri::V4l2 {
                    path: "/dev/video0".into(),
                },
            ),
            (
                "files:/srv/faces",
                CameraUri::Files {
                    dir: "/srv/faces".into(),
                },
            ),
        ] {
            assert_eq!(text.parse::<CameraUri>().unwrap(), uri);
            assert_eq!(uri.to_string(), text);
        }
        for bad in ["", "v4l2:", "files:", "sim", "/dev/video0", "usb:046d:0825"] {
            let err = bad.parse::<CameraUri>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            let text = err.to_string();
            assert!(
                text.contains("v4l2:") || text.contains("files:DIR"),
                "{bad:?}: {text}"
            );
        }
    }

    #[test]
    fn the_test_camera_plays_its_files_in_name_order_round_and_round() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.jpg"), jpeg::synthetic(20, 10, b"b")).unwrap();
        std::fs::write(dir.path().join("a.JPEG"), jpeg::synthetic(10, 10, b"a")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
        let mut cam = FilesCamera::open(dir.path()).unwrap();
        assert_eq!(cam.files().len(), 2);
        let sizes: Vec<_> = (0..3)
            .map(|_| {
                let f = cam.capture(later()).unwrap();
                (f.width, f.height)
            })
            .collect();
        assert_eq!(sizes, [(10, 10), (20, 10), (10, 10)]);
    }

    #[test]
    fn the_test_camera_names_a_missing_or_garbled_file_and_moves_on() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.jpg"), jpeg::synthetic(8, 8, b"1")).unwrap();
        std::fs::write(dir.path().join("2.jpg"), b"\xFF\xD8garbage").unwrap();
        std::fs::write(dir.path().join("3.jpg"), jpeg::synthetic(8, 8, b"3")).unwrap();
        let mut cam = FilesCamera::open(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join("1.jpg")).unwrap();

        let missing = cam.capture(later()).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Disconnected);
        assert!(missing.to_string().contains("1.jpg"), "{missing}");

        let garbled = cam.capture(later()).unwrap_err();
        assert_eq!(garbled.kind(), ErrorKind::InvalidData);
        let text = garbled.to_string();
        assert!(
            text.contains("2.jpg") && text.contains("bad marker"),
            "{text}"
        );

        assert_eq!(
            cam.capture(later()).unwrap().jpeg,
            jpeg::synthetic(8, 8, b"3")
        );
    }

    #[test]
    fn the_test_camera_refuses_a_directory_without_images() {
        let dir = tempfile::tempdir().unwrap();
        let err = FilesCamera::open(dir.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("no .jpg"), "{err}");
        let err = FilesCamera::open(&dir.path().join("absent")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected);
    }

    #[test]
    fn a_test_camera_file_larger_than_a_frame_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(dir.path().join("big.jpg")).unwrap();
        f.set_len(MAX_FRAME_BYTES as u64 + 1).unwrap();
        let mut cam = FilesCamera::open(dir.path()).unwrap();
        let err = cam.capture(later()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("more than"), "{err}");
    }

    #[test]
    fn a_device_node_that_is_not_a_camera_is_a_configuration_error() {
        let mut cam = V4l2Camera::new(Path::new("/dev/null"));
        let err = cam.capture(later()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("not a V4L2 video device"), "{err}");
    }

    #[test]
    fn a_webcam_that_is_not_there_is_reported_disconnected() {
        let mut cam = V4l2Camera::new(Path::new("/dev/no-such-video-device"));
        let err = cam.capture(later()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected);
        assert!(
            err.to_string().contains("/dev/no-such-video-device"),
            "{err}"
        );
    }
}
