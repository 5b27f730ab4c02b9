//! The demo face verifier (人脸核验 stand-in): it matches unless the simulator panel asked the next
//! check to fail. The screen says it is a demo (`FaceVerifier::is_demo`).

use std::sync::{Arc, Mutex};

use crate::domain::IdNumber;
use crate::flow::ports::{FaceOutcome, FaceVerifier};

/// Always matches (the screen says it is a demo) unless told otherwise.
#[derive(Debug, Default)]
pub struct DemoFaceVerifier {
    /// Set by the simulator to make the next verification fail; cleared by that verification.
    pub fail_next: Arc<Mutex<bool>>,
}

impl FaceVerifier for DemoFaceVerifier {
    fn is_demo(&self) -> bool {
        true
    }

    fn verify(&mut self, _id: &IdNumber) -> FaceOutcome {
        let fail = self
            .fail_next
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or(false);
        if fail {
            FaceOutcome::NoMatch
        } else {
            FaceOutcome::Match
        }
    }
}
