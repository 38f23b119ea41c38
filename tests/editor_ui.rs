//! The real editor, driven headless through its accessibility tree (egui_kittest) on the CPU
//! backend with the bundled model: open two photos, move a slider and see the edited face
//! change, undo it, mix the two faces and drag the layer range, start Personalize and cancel
//! it, export, save and reopen a session, turn a random face into an editable one.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use facestyle::app::{Action, EditorApp, View};
use facestyle::device::DeviceChoice;
use facestyle::engine::{Engine, ExportKind};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/photos")
        .join(name)
}

fn editor(photos: Vec<PathBuf>) -> Harness<'static, EditorApp> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 820.0))
        .build_eframe(move |_| EditorApp::new(Engine::spawn(DeviceChoice::Cpu, || {}), photos))
}

/// Runs frames until `done` holds (the engine answers on its own thread).
fn wait(h: &mut Harness<'static, EditorApp>, what: &str, done: impl Fn(&EditorApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "waiting for {what}; errors: {:?}",
            h.state().state.errors
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

fn slider_values(app: &EditorApp) -> Vec<f32> {
    app.state.selected_photo().unwrap().sliders.clone()
}

#[test]
fn the_editor_edits_mixes_undoes_personalizes_exports_and_keeps_sessions() {
    let mut h = editor(vec![sample("00020.jpg"), sample("unaligned_joker.jpg")]);
    wait(&mut h, "two photos", |a| {
        a.state.photos.len() == 2 && a.state.opening == 0
    });
    assert!(a_errors(&h).is_empty(), "{:?}", a_errors(&h));
    assert_eq!(h.state().state.view, View::Edit);

    // a slider moved through the UI: the edited pane shows a face other than the reconstruction
    h.get_all_by_role(Role::Slider)
        .next()
        .unwrap()
        .set_value_accesskit(1.5);
    h.step();
    assert_eq!(slider_values(h.state())[0], 1.5);
    wait(&mut h, "the edited face", |a| {
        a.state.selected_photo().unwrap().edited.is_some()
    });
    let p = h.state().state.selected_photo().unwrap();
    assert_ne!(p.edited.as_ref().unwrap().rgba, p.view.reconstruction.rgba);

    // Ctrl+Z restores the value and the image
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert!(slider_values(h.state()).iter().all(|v| *v == 0.0));
    h.step();
    assert!(h.state().state.selected_photo().unwrap().edited.is_none());

    // the Mix view: four panes that differ, and a layer range that changes the mixed face
    h.get_by_label("Mix").click();
    wait(&mut h, "the mix panes", |a| a.state.mix.frames.is_some());
    let first = h.state().state.mix.frames.clone().unwrap();
    for (i, j) in [(0, 1), (0, 2), (1, 3), (2, 3)] {
        assert_ne!(
            first.panes[i].rgba, first.panes[j].rgba,
            "panes {i} and {j}"
        );
    }
    let to = h.get_all_by_role(Role::Slider).nth(1).unwrap();
    to.set_value_accesskit(8.0);
    wait(&mut h, "the new range", |a| {
        a.state
            .mix
            .frames
            .as_ref()
            .is_some_and(|m| m.layers == (0..8))
    });
    let second = h.state().state.mix.frames.clone().unwrap();
    assert_ne!(second.style_mix.rgba, first.style_mix.rgba);

    // Personalize, then cancel: the generator stays as it was
    // the view tab (the menu bar's "Edit" menu comes first)
    h.get_all_by_label("Edit").last().unwrap().click();
    h.step();
    h.step();
    let before = h
        .state()
        .state
        .selected_photo()
        .unwrap()
        .view
        .reconstruction
        .rgba
        .clone();
    h.get_by_label("Personalize (PTI)").click();
    wait(&mut h, "tuning progress", |a| {
        a.state
            .tuning
            .as_ref()
            .is_some_and(|t| t.progress.is_some())
    });
    h.step();
    h.get_by_label("Cancel").click();
    wait(&mut h, "the cancel", |a| a.state.tuning.is_none());
    let p = h.state().state.selected_photo().unwrap();
    assert!(p.personalized.is_none());
    assert_eq!(p.view.reconstruction.rgba, before);

    // export and a session, as the menu's dialogs would ask for them
    let dir = std::env::temp_dir().join(format!("facestyle-ui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    h.get_all_by_role(Role::Slider)
        .nth(1)
        .unwrap()
        .set_value_accesskit(-1.5);
    h.step();
    let values = slider_values(h.state());
    h.state_mut().act(Action::Export {
        kind: ExportKind::EditedFace,
        path: dir.join("face.png"),
    });
    h.state_mut()
        .act(Action::SaveSession(dir.join("s.facestyle")));
    wait(&mut h, "the files", |_| {
        dir.join("face.png").exists() && dir.join("s.facestyle").exists()
    });
    let png = image::open(dir.join("face.png")).unwrap().to_rgb8();
    let side = h.state().state.config.as_ref().unwrap().size as u32;
    assert_eq!(png.dimensions(), (side, side));
    assert!(png.pixels().any(|p| p.0 != [0, 0, 0]), "not blank");

    let mut again = editor(Vec::new());
    wait(&mut again, "the engine", |a| a.state.config.is_some());
    again
        .state_mut()
        .act(Action::OpenSession(dir.join("s.facestyle")));
    wait(&mut again, "the session's photos", |a| {
        a.state.photos.len() == 2
    });
    wait(&mut again, "the session opened", |a| {
        a.state
            .notice
            .as_deref()
            .is_some_and(|n| n.starts_with("opened"))
    });
    assert!(
        !again.state().state.unsaved,
        "a session just opened is saved"
    );
    let restored = again
        .state()
        .state
        .photos
        .iter()
        .find(|p| p.name() == "unaligned_joker.jpg")
        .unwrap()
        .sliders
        .clone();
    assert_eq!(restored, values);

    // a random face, style-mixed with a second seed over the coarse entries, becomes an
    // editable entry of the library
    again.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    wait(&mut again, "a random face", |a| a.state.frame.is_some());
    let plain = again.state().state.frame.clone().unwrap().1;
    again.get_by_label("Style-mix with seed").click();
    wait(&mut again, "the mixed face", |a| {
        a.state.frame.as_ref().is_some_and(|(p, _)| p.mix.is_some())
    });
    assert_ne!(
        again.state().state.frame.as_ref().unwrap().1.rgba,
        plain.rgba
    );
    again.get_by_label("Edit this face").click();
    wait(&mut again, "the seed's entry", |a| {
        a.state.photos.len() == 3
    });
    let app = again.state();
    assert_eq!(app.state.view, View::Edit);
    assert!(
        app.state
            .selected_photo()
            .unwrap()
            .name()
            .starts_with("seed 0 (psi 0.70) + seed 1 at w+ 0..")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn a_errors(h: &Harness<'static, EditorApp>) -> Vec<String> {
    h.state().state.errors.clone()
}
