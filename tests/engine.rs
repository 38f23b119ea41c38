//! The background engine: a burst of slider requests is coalesced to the newest one, bad input
//! comes back as an error event, and nothing blocks the caller.

use std::time::Duration;

use facestyle::device::DeviceChoice;
use facestyle::engine::{Engine, Event, RenderParams, Request};

fn next_event(engine: &Engine) -> Event {
    engine
        .events
        .recv_timeout(Duration::from_secs(120))
        .expect("the engine answers")
}

#[test]
fn bursts_of_renders_are_coalesced_and_errors_are_events() {
    let engine = Engine::spawn(DeviceChoice::Cpu, || {});
    loop {
        if let Event::Ready { .. } = next_event(&engine) {
            break;
        }
    }
    // Keep the worker busy with a photo that fails, then queue a burst of renders behind it.
    engine
        .requests
        .send(Request::Invert {
            photo: "/nonexistent/photo.jpg".into(),
            face: 0,
        })
        .unwrap();
    for id in 1..=10 {
        let params = RenderParams {
            seed: id,
            truncation: 0.7,
        };
        engine
            .requests
            .send(Request::Render { params, id })
            .unwrap();
    }
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    while frames.last() != Some(&10) {
        match next_event(&engine) {
            Event::Frame(params, frame) => {
                assert_eq!(params.seed, frame.id);
                frames.push(frame.id);
            }
            Event::Error(e) => errors.push(e),
            _ => {}
        }
    }
    assert!(frames.len() < 10, "stale renders were dropped: {frames:?}");
    assert!(
        errors.iter().any(|e| e.contains("/nonexistent/photo.jpg")),
        "{errors:?}"
    );
}
