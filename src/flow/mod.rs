//! The kiosk flow: a pure state machine `next(state, event) -> (state, effects)`.
