//! The background engine: a burst of slider requests is coalesced to the newest one, bad input
//! comes back as an error event, and nothing blocks the caller; a dropped photo is aligned and
//! inverted by the bundled model.

use std::time::Duration;

use facestyle::device::DeviceChoice;
use facestyle::engine::{Engine, Event, ExportKind, Request, SeedFace};
use facestyle::workspace::PhotoId;

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
        .send(Request::OpenPhotos(vec!["/nonexistent/photo.jpg".into()]))
        .unwrap();
    for id in 1..=10 {
        let params = SeedFace::new(id, 0.7);
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
            Event::Error(e) | Event::PhotoFailed(e) => errors.push(e),
            _ => {}
        }
    }
    assert!(frames.len() < 10, "stale renders were dropped: {frames:?}");
    assert!(
        errors.iter().any(|e| e.contains("/nonexistent/photo.jpg")),
        "{errors:?}"
    );
}

#[test]
fn a_real_photo_is_aligned_and_reconstructed_by_the_bundled_model() {
    let engine = Engine::spawn(DeviceChoice::Cpu, || {});
    let size = loop {
        if let Event::Ready { config, .. } = next_event(&engine) {
            break config.size;
        }
    };
    let photo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/photos/00020.jpg");
    engine
        .requests
        .send(Request::OpenPhotos(vec![photo]))
        .unwrap();
    let inversion = loop {
        match next_event(&engine) {
            Event::Photo(view) => break view,
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert!(inversion.aligned && inversion.faces == 1);
    for frame in [&inversion.input, &inversion.reconstruction] {
        assert_eq!((frame.width, frame.height), (size, size));
    }
    // The bundled encoder reconstructs this face at about 23.2 dB (`facestyle invert`).
    assert!(inversion.quality.psnr > 22.0, "{:?}", inversion.quality);
}

/// An engine with its model and sliders loaded (the `Directions` event follows `Ready`).
fn ready_engine() -> Engine {
    let engine = Engine::spawn(DeviceChoice::Cpu, || {});
    while !matches!(next_event(&engine), Event::Directions { .. }) {}
    engine
}

fn sample(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/photos")
        .join(name)
}

/// Opens a sample photo; returns its id.
fn open_sample(engine: &Engine, name: &str) -> PhotoId {
    engine
        .requests
        .send(Request::OpenPhotos(vec![sample(name)]))
        .unwrap();
    loop {
        match next_event(engine) {
            Event::Photo(view) => break view.id,
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    }
}

fn invert_sample(engine: &Engine) -> PhotoId {
    open_sample(engine, "00020.jpg")
}

/// Inverts the sample photo and starts a personalization far too long to finish; returns
/// once tuning has really started.
fn start_long_personalization(engine: &Engine) -> (PhotoId, facestyle::pti::CancelToken) {
    let photo = invert_sample(engine);
    let cancel = facestyle::pti::CancelToken::default();
    engine
        .requests
        .send(Request::Personalize {
            photos: vec![photo],
            steps: 100_000,
            cancel: cancel.clone(),
        })
        .unwrap();
    while !matches!(next_event(engine), Event::Tuning { .. }) {}
    (photo, cancel)
}

#[test]
fn a_panic_inside_a_request_is_an_error_and_the_engine_keeps_the_photo() {
    let engine = ready_engine();
    let photo = invert_sample(&engine);
    engine.requests.send(Request::InjectFault).unwrap();
    let error = loop {
        match next_event(&engine) {
            Event::Error(e) => break e,
            Event::Directions { .. } => panic!("the sliders were reset"),
            _ => {}
        }
    };
    assert!(
        error.contains("a test fault failed unexpectedly (fault injected by a test)")
            && error.contains("photos and sliders kept"),
        "{error}"
    );
    // the engine still draws, and still edits the photo it had (its codes survived)
    let params = SeedFace::new(3, 0.7);
    engine
        .requests
        .send(Request::Render { params, id: 1 })
        .unwrap();
    engine
        .requests
        .send(Request::Edit {
            photo,
            sliders: vec![1.5],
            id: 2,
            preview: false,
        })
        .unwrap();
    let (mut rendered, mut edited) = (false, false);
    while !(rendered && edited) {
        match next_event(&engine) {
            Event::Frame(_, f) => rendered = f.id == 1,
            Event::Edited { frame, .. } => edited = frame.id == 2,
            Event::Error(e) => panic!("after the fault: {e}"),
            _ => {}
        }
    }
}

#[test]
fn closing_the_engine_during_personalization_cancels_it_promptly() {
    let engine = ready_engine();
    let (_, cancel) = start_long_personalization(&engine);
    let start = std::time::Instant::now();
    drop(engine);
    assert!(
        cancel.is_cancelled(),
        "the running personalization was cancelled"
    );
    // 100,000 steps would take hours; the join returns after the step in flight
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_cancelled_personalization_is_a_notice_not_an_error() {
    let engine = ready_engine();
    let (_, cancel) = start_long_personalization(&engine);
    cancel.cancel();
    loop {
        match next_event(&engine) {
            Event::Notice(n) if n.contains("cancelled") => break,
            Event::Error(e) => panic!("cancel came back as an error: {e}"),
            _ => {}
        }
    }
    assert!(matches!(next_event(&engine), Event::Unpersonalized(_)));
}

#[test]
fn a_direction_file_that_does_not_fit_keeps_the_current_sliders() {
    let engine = ready_engine();
    let bad = std::env::temp_dir().join(format!(
        "facestyle-not-a-set-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&bad, b"not a direction set").unwrap();
    engine.requests.send(Request::LoadDirections(bad)).unwrap();
    let error = loop {
        match next_event(&engine) {
            Event::Error(e) => break e,
            Event::Directions { .. } => panic!("the sliders were replaced"),
            _ => {}
        }
    };
    assert!(error.contains("the current sliders are kept"), "{error}");
}

#[test]
fn a_reverted_personalization_is_restored_by_undo_without_tuning_again() {
    let engine = ready_engine();
    let photo = invert_sample(&engine);
    engine
        .requests
        .send(Request::Personalize {
            photos: vec![photo],
            steps: 3,
            cancel: Default::default(),
        })
        .unwrap();
    // the view that arrives with each change says whether the photo is personalized
    let personalized_view = |engine: &Engine| loop {
        match next_event(engine) {
            Event::Photo(v) => break (v.personalized, v.reconstruction.rgba.clone()),
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    let (tuned, tuned_recon) = personalized_view(&engine);
    assert!(tuned);
    engine.requests.send(Request::Revert(photo)).unwrap();
    let (tuned, base_recon) = personalized_view(&engine);
    assert!(!tuned);
    assert_ne!(base_recon, tuned_recon, "the base generator draws it again");
    engine.requests.send(Request::Restore(photo)).unwrap();
    let (tuned, restored) = personalized_view(&engine);
    assert!(tuned);
    assert_eq!(
        restored, tuned_recon,
        "the same tuned generator, not a new tuning"
    );
    assert!(matches!(
        next_event(&engine),
        Event::Personalized { steps: 3, .. }
    ));
    // nothing left to restore
    engine.requests.send(Request::Restore(photo)).unwrap();
    loop {
        match next_event(&engine) {
            Event::Error(e) => break assert!(e.contains("no longer kept"), "{e}"),
            Event::Photo(_) => panic!("nothing was kept to restore"),
            _ => {}
        }
    }
}

#[test]
fn the_photo_can_be_edited_while_it_is_being_personalized() {
    let engine = ready_engine();
    let (photo, cancel) = start_long_personalization(&engine);
    // tuning runs on its own thread: the engine still answers edits and renders meanwhile
    engine
        .requests
        .send(Request::Edit {
            photo,
            sliders: vec![1.0],
            id: 7,
            preview: false,
        })
        .unwrap();
    loop {
        match next_event(&engine) {
            Event::Edited { frame, .. } if frame.id == 7 => break,
            Event::Error(e) => panic!("{e}"),
            Event::Personalized { .. } => panic!("100,000 steps cannot have finished"),
            _ => {}
        }
    }
    assert!(!cancel.is_cancelled());
    cancel.cancel();
    loop {
        if let Event::Unpersonalized(_) = next_event(&engine) {
            break;
        }
    }
}

#[test]
fn two_photos_are_mixed_exported_and_saved_as_a_session() {
    let engine = ready_engine();
    let a = open_sample(&engine, "00020.jpg");
    let b = open_sample(&engine, "unaligned_joker.jpg");
    assert_ne!(a, b);
    for id in 1..=3u64 {
        engine
            .requests
            .send(Request::Mix {
                a,
                b,
                layers: 0..id as usize,
                id,
            })
            .unwrap();
    }
    // the newest mix is always drawn (which older ones are skipped depends on when the
    // worker looks at its queue: `superseded` is tested on its own in the worker)
    let mut ids = Vec::new();
    let mixed = loop {
        match next_event(&engine) {
            Event::Mixed(m) if m.id == 3 => break m,
            Event::Mixed(m) => ids.push(m.id),
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids.len() < 3,
        "{ids:?}"
    );
    assert_eq!(mixed.layers, 0..3);
    assert_ne!(mixed.panes[1].rgba, mixed.panes[0].rgba);
    assert_ne!(mixed.panes[2].rgba, mixed.panes[3].rgba);

    let dir = std::env::temp_dir().join(format!("facestyle-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    engine
        .requests
        .send(Request::Edit {
            photo: b,
            sliders: vec![2.0],
            id: 1,
            preview: false,
        })
        .unwrap();
    let full = dir.join("b_full.png");
    engine
        .requests
        .send(Request::Export {
            photo: b,
            kind: ExportKind::FullPhoto,
            path: full.clone(),
        })
        .unwrap();
    let sweep = dir.join("b_smile.gif");
    engine
        .requests
        .send(Request::Export {
            photo: b,
            kind: ExportKind::Sweep { slider: 0 },
            path: sweep.clone(),
        })
        .unwrap();
    let session = dir.join("s.facestyle");
    engine
        .requests
        .send(Request::SaveSession(session.clone()))
        .unwrap();
    let mut notices = 0;
    while notices < 3 {
        match next_event(&engine) {
            Event::Notice(_) => notices += 1,
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    }
    let img = image::open(&full).unwrap();
    let original = image::open(sample("unaligned_joker.jpg")).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (original.width(), original.height())
    );
    // the sweep clip: 24 frames up, 22 back, at the face's size
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&sweep).unwrap(),
    ))
    .unwrap();
    let frames = image::AnimationDecoder::into_frames(decoder)
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 46);

    // a second engine opens the session: both photos, B's slider value restored
    let other = ready_engine();
    other
        .requests
        .send(Request::OpenSession(session.clone()))
        .unwrap();
    let mut views = Vec::new();
    while views.len() < 2 {
        match next_event(&other) {
            Event::Photo(v) => views.push(v),
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    }
    assert_eq!(views[0].sliders[0], 0.0);
    assert_eq!(views[1].sliders[0], 2.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn directions_are_computed_as_a_job_that_reports_progress_and_can_be_cancelled() {
    use facestyle::workspace::DirectionMethod;
    let engine = ready_engine();
    let cancel = facestyle::pti::CancelToken::default();
    engine
        .requests
        .send(Request::ComputeDirections {
            method: DirectionMethod::Ganspace {
                samples: 1_000_000,
                count: 4,
                layers: None,
                seed: 0,
            },
            cancel: cancel.clone(),
        })
        .unwrap();
    // progress arrives while the engine still draws faces
    while !matches!(next_event(&engine), Event::Progress { done: false, .. }) {}
    let params = SeedFace::new(1, 0.7);
    engine
        .requests
        .send(Request::Render { params, id: 5 })
        .unwrap();
    while !matches!(next_event(&engine), Event::Frame(_, f) if f.id == 5) {}
    cancel.cancel();
    loop {
        match next_event(&engine) {
            Event::Notice(n) if n.contains("cancelled") => break,
            Event::Directions { .. } => panic!("a cancelled job replaced the sliders"),
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    }
    // a job that runs to the end replaces the sliders with its set
    engine
        .requests
        .send(Request::ComputeDirections {
            method: DirectionMethod::Sefa {
                layers: None,
                count: 3,
            },
            cancel: facestyle::pti::CancelToken::default(),
        })
        .unwrap();
    let directions = |engine: &Engine| loop {
        match next_event(engine) {
            Event::Directions { infos, label, set } => break (infos, label, set),
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    let (infos, label, sefa) = directions(&engine);
    assert_eq!(infos.len(), 3);
    assert!(label.contains("SeFa"), "{label}");
    // undo of the set change: the bundled set (announced first, id 1) comes back, and redo
    // brings the SeFa set back under its own id
    engine.requests.send(Request::UseDirections(1)).unwrap();
    let (infos, label, set) = directions(&engine);
    assert_eq!(set, 1);
    assert!(label.ends_with("directions.safetensors"), "{label}");
    assert!(!infos.is_empty());
    engine.requests.send(Request::UseDirections(sefa)).unwrap();
    let (infos, _, set) = directions(&engine);
    assert_eq!((infos.len(), set), (3, sefa));
    // a set never announced is refused and the sliders stay
    engine.requests.send(Request::UseDirections(99)).unwrap();
    loop {
        match next_event(&engine) {
            Event::Error(e) => break assert!(e.contains("no longer kept"), "{e}"),
            Event::Directions { .. } => panic!("the sliders were replaced"),
            _ => {}
        }
    }
}

#[test]
fn every_face_of_a_group_photo_becomes_an_entry_of_its_own() {
    // a "group photo": two sample faces side by side
    let a = image::open(sample("00020.jpg")).unwrap().to_rgb8();
    let b = image::imageops::resize(
        &a,
        a.width(),
        a.height(),
        image::imageops::FilterType::Triangle,
    );
    let mut group = image::RgbImage::new(a.width() * 2, a.height());
    image::imageops::replace(&mut group, &a, 0, 0);
    image::imageops::replace(
        &mut group,
        &image::imageops::flip_horizontal(&b),
        a.width() as i64,
        0,
    );
    let path = std::env::temp_dir().join(format!("facestyle-group-{}.png", std::process::id()));
    group.save(&path).unwrap();
    let engine = ready_engine();
    engine
        .requests
        .send(Request::OpenPhotos(vec![path.clone()]))
        .unwrap();
    let first = loop {
        match next_event(&engine) {
            Event::Photo(v) => break v,
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert_eq!(first.faces, 2, "two faces found");
    engine
        .requests
        .send(Request::OpenOtherFaces(first.id))
        .unwrap();
    let second = loop {
        match next_event(&engine) {
            Event::Photo(v) => break v,
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    assert_ne!(second.id, first.id);
    assert_eq!((second.faces, second.face), (2, 1 - first.face));
    assert_ne!(second.input.rgba, first.input.rgba, "the other face");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_video_is_edited_with_the_photos_sliders_as_a_job() {
    let engine = ready_engine();
    let photo = invert_sample(&engine);
    engine
        .requests
        .send(Request::Edit {
            photo,
            sliders: vec![2.0],
            id: 1,
            preview: false,
        })
        .unwrap();
    while !matches!(next_event(&engine), Event::Edited { .. }) {}
    let dir = std::env::temp_dir().join(format!("facestyle-engine-video-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let face = facestyle::imaging::load_photo(&sample("00020.jpg")).unwrap();
    let clip = facestyle::video::synthetic::moving_face(&face, 6, (160, 128), 10.0, 3);
    let (input, output) = (dir.join("in.gif"), dir.join("out.gif"));
    facestyle::video::write_clip(&input, &clip).unwrap();
    engine
        .requests
        .send(Request::ApplyToVideo {
            photo,
            input,
            output: output.clone(),
            cancel: facestyle::pti::CancelToken::default(),
        })
        .unwrap();
    let mut progress = 0;
    loop {
        match next_event(&engine) {
            Event::Progress { done: false, .. } => progress += 1,
            Event::VideoSaved(p) => break assert_eq!(p, output),
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    }
    assert!(progress > 0, "the job reports progress");
    let edited = facestyle::video::read_clip(&output, None).unwrap();
    assert_eq!((edited.frames.len(), edited.size()), (6, (160, 128)));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out.report.json")).unwrap()).unwrap();
    assert_eq!(report["sliders"][0][1], 2.0, "the photo's slider value");
    assert_eq!(report["faces_found"], 6);
}
