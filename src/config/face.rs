//! `[face]`: the camera and the face verification service (issue 12, item 5).

use serde::{Deserialize, Serialize};

/// `[face]` of kiosk.toml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaceSection {
    /// `demo`: the demo verifier (demo mode only). Other names: see `crate::providers`.
    pub provider: String,
}

impl Default for FaceSection {
    fn default() -> Self {
        FaceSection {
            provider: "demo".into(),
        }
    }
}
