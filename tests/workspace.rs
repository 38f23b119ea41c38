//! The workspace: every user action on the bundled model with the sample photos — opening,
//! sliders, mixing, personalization, export — and session files that restore all of it.

mod common;

use std::path::PathBuf;

use facestyle::device::ComputeDevice;
use facestyle::face::{Attribute, Framing};
use facestyle::model::loader::tensor_to_vec;
use facestyle::pti::{CancelToken, TuningConfig};
use facestyle::workspace::{
    DirectionMethod, FaceSource, InterFaceGanSettings, PersonalizeSettings, PhotoId, PivotSource,
    SeedFace, SeedMix, Workspace,
};

fn photo(name: &str) -> PathBuf {
    common::fixture("photos").join(name)
}

fn workspace() -> Workspace {
    let mut ws = Workspace::new(ComputeDevice::cpu());
    ws.load_generator(None).unwrap();
    ws.load_detector().unwrap();
    assert!(ws.directions().is_some());
    ws
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facestyle-ws-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pixels_differ(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    a.pixels()
        .zip(b.pixels())
        .map(|(x, y)| {
            x.0.iter()
                .zip(y.0)
                .map(|(p, q)| (*p as f64 - q as f64).abs())
                .sum::<f64>()
        })
        .sum::<f64>()
        / (a.width() * a.height() * 3) as f64
}

fn max_level_difference(a: &image::RgbImage, b: &image::RgbImage) -> u8 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(p, q)| p.abs_diff(*q))
        .max()
        .unwrap_or(0)
}

fn short_tuning() -> PersonalizeSettings {
    PersonalizeSettings {
        pivot: PivotSource::Encoder,
        tuning: TuningConfig {
            steps: 3,
            ..TuningConfig::default()
        },
        ..PersonalizeSettings::default()
    }
}

fn two_photos(ws: &mut Workspace) -> (PhotoId, PhotoId) {
    let a = ws
        .open_photo(&photo("00020.jpg"), Framing::Auto, 0)
        .unwrap();
    let b = ws
        .open_photo(&photo("unaligned_joker.jpg"), Framing::Auto, 0)
        .unwrap();
    (a, b)
}

#[test]
fn each_photo_keeps_its_own_sliders_and_the_mix_panes_differ() {
    let mut ws = workspace();
    let (a, b) = two_photos(&mut ws);
    let recon_a = ws.reconstruction(a).unwrap();
    assert!(recon_a.quality.psnr > 20.0, "{:?}", recon_a.quality);
    assert!(ws.photo(a).unwrap().face.aligned.is_some());

    ws.set_slider(a, 0, 2.0).unwrap();
    let edited_a = ws.edited(a).unwrap();
    assert!(pixels_differ(&edited_a, &recon_a.image) > 1.0);
    // B's sliders are its own: still at zero, its edited face is its reconstruction
    assert!(ws.photo(b).unwrap().sliders.iter().all(|v| *v == 0.0));
    let recon_b = ws.reconstruction(b).unwrap();
    assert_eq!(ws.edited(b).unwrap(), recon_b.image);
    // out-of-range sliders and non-finite values are refused, the value in use is kept
    assert!(ws.set_slider(a, 999, 1.0).is_err());
    assert!(ws.set_slider(a, 0, f32::NAN).is_err());
    assert_eq!(ws.photo(a).unwrap().sliders[0], 2.0);

    let mix = ws.mix(a, b).unwrap();
    assert_eq!(mix.a, recon_a.image, "pane A is A's reconstruction");
    assert_eq!(mix.b, recon_b.image, "pane B is B's reconstruction");
    for (name, pane) in [
        ("G(w_B, F_A)", &mix.latent_b_feature_a),
        ("G(w_A, F_B)", &mix.latent_a_feature_b),
    ] {
        assert!(pixels_differ(pane, &mix.a) > 1.0, "{name} equals A");
        assert!(pixels_differ(pane, &mix.b) > 1.0, "{name} equals B");
    }
    let coarse = ws.style_mix(a, b, 0..4).unwrap();
    let fine = ws.style_mix(a, b, 6..10).unwrap();
    assert!(pixels_differ(&coarse, &fine) > 0.5);
    assert!(ws.style_mix(a, b, 0..99).is_err());

    ws.close_photo(b).unwrap();
    assert!(ws.mix(a, b).is_err(), "a closed photo is gone");
}

#[test]
fn personalization_belongs_to_its_photo_and_revert_restores_the_base() {
    let mut ws = workspace();
    let (a, b) = two_photos(&mut ws);
    let before_a = ws.reconstruction(a).unwrap();
    let before_b = ws.reconstruction(b).unwrap();
    let report = ws
        .personalize(&[a], &short_tuning(), &CancelToken::default(), |_| {})
        .unwrap();
    assert!(report.mse_after < report.mse_before, "{report:?}");
    // A is drawn by its tuned generator at the pivot now (3 steps: changed, not yet better than
    // the encoder's G(w, F), which PTI's full 350 steps beat)
    let after_a = ws.reconstruction(a).unwrap();
    assert!(pixels_differ(&after_a.image, &before_a.image) > 0.1);
    // B still uses the base generator
    assert_eq!(ws.reconstruction(b).unwrap().image, before_b.image);
    assert!(ws.photo(b).unwrap().personalization.is_none());
    // a cancelled job changes nothing
    let cancel = CancelToken::default();
    cancel.cancel();
    assert!(
        ws.personalize(&[b], &short_tuning(), &cancel, |_| {})
            .is_err()
    );
    assert!(ws.photo(b).unwrap().personalization.is_none());

    assert!(ws.revert(a).unwrap());
    assert_eq!(ws.reconstruction(a).unwrap().image, before_a.image);
}

#[test]
fn a_session_restores_codes_sliders_and_personalization_exactly() {
    let dir = temp_dir("session");
    let mut ws = workspace();
    let (a, b) = two_photos(&mut ws);
    ws.set_slider(a, 1, -1.5).unwrap();
    ws.set_slider(b, 0, 0.75).unwrap();
    ws.personalize(&[b], &short_tuning(), &CancelToken::default(), |_| {})
        .unwrap();
    let edited = [ws.edited(a).unwrap(), ws.edited(b).unwrap()];
    let session = dir.join("work.facestyle");
    let saved = ws.save_session(&session).unwrap();
    assert_eq!(saved.photos, 2);
    assert_eq!(saved.tuning_bytes.len(), 1);
    let generator_bytes = ws
        .generator()
        .unwrap()
        .to_store()
        .tensors
        .values()
        .map(|t| t.bytes.len())
        .sum::<usize>();
    assert!(
        saved.tuning_bytes[0] < generator_bytes,
        "the delta ({}) is smaller than the generator ({generator_bytes})",
        saved.tuning_bytes[0]
    );

    // a fresh workspace, started from another folder
    let mut again = workspace();
    let loaded = again.load_session(&session).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.photos.len(), 2);
    for (old, new) in [a, b].into_iter().zip(&loaded.photos) {
        let (p, q) = (ws.photo(old).unwrap(), again.photo(*new).unwrap());
        assert_eq!(p.path, q.path);
        assert_eq!(p.sliders, q.sliders);
        assert_eq!(
            tensor_to_vec(p.codes.wplus.clone()),
            tensor_to_vec(q.codes.wplus.clone())
        );
        assert_eq!(
            tensor_to_vec(p.codes.feature.clone()),
            tensor_to_vec(q.codes.feature.clone())
        );
        assert_eq!(p.personalization.is_some(), q.personalization.is_some());
    }
    // the personalized generator is restored bit for bit, so every pixel is the same
    let tuned_old = ws
        .photo(b)
        .unwrap()
        .personalization
        .as_ref()
        .unwrap()
        .generator
        .to_store();
    let tuned_new = again
        .photo(loaded.photos[1])
        .unwrap()
        .personalization
        .as_ref()
        .unwrap()
        .generator
        .to_store();
    assert_eq!(tuned_old.tensors, tuned_new.tensors);
    for (img, id) in edited.iter().zip(&loaded.photos) {
        assert_eq!(&again.edited(*id).unwrap(), img);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_moved_folder_still_opens_and_a_changed_photo_is_detected() {
    let dir = temp_dir("moved");
    let first = dir.join("first");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::copy(photo("00020.jpg"), first.join("face.jpg")).unwrap();
    let mut ws = workspace();
    let id = ws
        .open_photo(&first.join("face.jpg"), Framing::Auto, 0)
        .unwrap();
    ws.set_slider(id, 0, 1.0).unwrap();
    let edited = ws.edited(id).unwrap();
    ws.save_session(&first.join("s.facestyle")).unwrap();

    // photo and session moved together: found relative to the session
    let moved = dir.join("moved");
    std::fs::rename(&first, &moved).unwrap();
    let mut again = workspace();
    let loaded = again.load_session(&moved.join("s.facestyle")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(again.edited(loaded.photos[0]).unwrap(), edited);

    // the photo changed since: left out with a reason, nothing applied to the wrong photo
    let mut bytes = std::fs::read(moved.join("face.jpg")).unwrap();
    bytes.extend_from_slice(b"changed");
    std::fs::write(moved.join("face.jpg"), bytes).unwrap();
    let mut third = workspace();
    let loaded = third.load_session(&moved.join("s.facestyle")).unwrap();
    assert!(loaded.photos.is_empty());
    assert!(
        loaded.warnings[0].contains("changed since the session was saved"),
        "{:?}",
        loaded.warnings
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_session_of_another_generator_is_refused() {
    let dir = temp_dir("other");
    let mut ws = workspace();
    ws.open_photo(&photo("00020.jpg"), Framing::Auto, 0)
        .unwrap();
    let session = dir.join("s.facestyle");
    ws.save_session(&session).unwrap();

    // another generator of the same architecture (random weights), with a photo open
    let config = ws.generator().unwrap().config.clone();
    let other = dir.join("other.safetensors");
    facestyle::weights::write_safetensors(
        &facestyle::model::random_init::random_generator_store(&config, 5),
        &other,
    )
    .unwrap();
    let mut elsewhere = Workspace::new(ComputeDevice::cpu());
    elsewhere.load_generator(Some(&other)).unwrap();
    elsewhere.load_detector().unwrap();
    elsewhere
        .open_photo(&photo("00020.jpg"), Framing::Auto, 0)
        .unwrap();
    let err = format!("{:#}", elsewhere.load_session(&session).unwrap_err());
    assert!(err.contains("this session belongs to generator"), "{err}");
    assert_eq!(elsewhere.photos().len(), 1, "the open photo is kept");
    // a damaged file is an error naming it
    std::fs::write(dir.join("bad.facestyle"), b"not a session").unwrap();
    let err = format!(
        "{:#}",
        elsewhere
            .load_session(&dir.join("bad.facestyle"))
            .unwrap_err()
    );
    assert!(err.contains("bad.facestyle"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exports_are_pngs_of_the_edit_and_of_the_whole_photo() {
    let dir = temp_dir("export");
    let mut ws = workspace();
    let id = ws
        .open_photo(&photo("unaligned_joker.jpg"), Framing::Auto, 0)
        .unwrap();
    ws.set_slider(id, 0, 1.5).unwrap();
    ws.export_edited(id, &dir.join("crop.png")).unwrap();
    ws.export_full(id, &dir.join("full.png")).unwrap();
    let crop = image::open(dir.join("crop.png")).unwrap().to_rgb8();
    assert_eq!(crop, ws.edited(id).unwrap());
    let full = image::open(dir.join("full.png")).unwrap().to_rgb8();
    let original = image::open(photo("unaligned_joker.jpg")).unwrap().to_rgb8();
    assert_eq!(full.dimensions(), original.dimensions());
    assert!(
        pixels_differ(&full, &original) > 0.01,
        "the face was pasted in"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn computed_directions_travel_inside_the_session() {
    let dir = temp_dir("computed-set");
    let mut ws = workspace();
    let cancel = CancelToken::default();
    let mut fractions = Vec::new();
    let computed = ws
        .prepare_directions(DirectionMethod::Ganspace {
            samples: 3000,
            count: 5,
            layers: None,
            seed: 1,
        })
        .unwrap()
        .run(&cancel, |f| fractions.push(f))
        .unwrap();
    assert!(
        fractions.len() >= 3 && *fractions.last().unwrap() == 1.0,
        "{fractions:?}"
    );
    ws.use_computed_directions(computed).unwrap();
    assert_eq!(ws.directions().unwrap().set.directions.len(), 5);
    let id = ws
        .open_photo(&photo("00020.jpg"), Framing::Auto, 0)
        .unwrap();
    ws.set_slider(id, 4, 1.25).unwrap();
    let edited = ws.edited(id).unwrap();
    ws.save_session(&dir.join("s.facestyle")).unwrap();

    let mut again = workspace();
    assert_eq!(
        again.directions().unwrap().set.directions.len(),
        10,
        "the bundled set"
    );
    let loaded = again.load_session(&dir.join("s.facestyle")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(again.directions().unwrap().set.directions.len(), 5);
    assert_eq!(again.photo(loaded.photos[0]).unwrap().sliders[4], 1.25);
    assert_eq!(again.edited(loaded.photos[0]).unwrap(), edited);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_all_writes_every_edit_and_never_replaces_a_file() {
    let dir = temp_dir("export-all");
    let mut ws = workspace();
    let (a, b) = two_photos(&mut ws);
    ws.set_slider(a, 0, 1.0).unwrap();
    let cancel = CancelToken::default();
    let mut progress = Vec::new();
    let first = ws
        .prepare_export_all(&dir)
        .unwrap()
        .run(&cancel, |done, n| progress.push((done, n)))
        .unwrap();
    assert_eq!(progress, vec![(1, 2), (2, 2)]);
    // two faces, two aligned photos: four files
    assert_eq!(first.len(), 4, "{first:?}");
    let crop = image::open(dir.join("00020_edited.png")).unwrap().to_rgb8();
    assert_eq!(crop, ws.edited(a).unwrap());
    assert_eq!(
        image::open(dir.join("unaligned_joker_edited.png"))
            .unwrap()
            .to_rgb8(),
        ws.edited(b).unwrap()
    );
    let before = std::fs::read(dir.join("00020_edited.png")).unwrap();
    // again into the same folder: new names, the first files untouched
    let second = ws
        .prepare_export_all(&dir)
        .unwrap()
        .run(&cancel, |_, _| {})
        .unwrap();
    assert!(
        second.contains(&dir.join("00020_edited-2.png")),
        "{second:?}"
    );
    assert_eq!(std::fs::read(dir.join("00020_edited.png")).unwrap(), before);
    // a cancelled export stops before writing
    cancel.cancel();
    assert!(
        ws.prepare_export_all(&dir)
            .unwrap()
            .run(&cancel, |_, _| {})
            .is_err()
    );
    assert!(!dir.join("00020_edited-3.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_seeds_style_mixed_by_a_wplus_range() {
    let mut ws = workspace();
    let l = ws.generator().unwrap().config.n_latent();
    let mixed = |from, to| SeedFace {
        mix: Some(SeedMix { seed: 11, from, to }),
        ..SeedFace::new(3, 0.7)
    };
    let a = ws.render_face(&SeedFace::new(3, 0.7)).unwrap();
    let b = ws.render_face(&SeedFace::new(11, 0.7)).unwrap();
    assert_eq!(a, ws.render_seeds(3, 1, 0.7).unwrap().remove(0));
    // every entry from seed 11 is seed 11's face
    assert_eq!(ws.render_face(&mixed(0, l)).unwrap(), b);
    // coarse entries from B: neither face
    let coarse = ws.render_face(&mixed(0, 4)).unwrap();
    assert!(pixels_differ(&coarse, &a) > 2.0 && pixels_differ(&coarse, &b) > 2.0);
    for bad in [mixed(4, 4), mixed(0, l + 1)] {
        let e = ws.render_face(&bad).unwrap_err().to_string();
        assert!(e.contains("not inside"), "{e}");
    }
    // "Edit this face" of a mix: its reconstruction is the mixed face
    let id = ws.open_seed(&mixed(0, 4)).unwrap();
    assert!(pixels_differ(&ws.reconstruction(id).unwrap().image, &coarse) < 0.5);
    assert!(ws.photo(id).unwrap().name().contains("+ seed 11"));
    assert_eq!(
        ws.photo(id).unwrap().stem(),
        "seed_3_psi_0_70_seed_11_at_w_0_4"
    );
}

#[test]
fn faces_from_a_seed_or_a_mix_are_edited_and_kept_in_sessions_like_photos() {
    use facestyle::workspace::MixPane;
    let dir = temp_dir("generated");
    let mut ws = workspace();
    let (a, b) = two_photos(&mut ws);
    let seed = ws.open_seed(&SeedFace::new(7, 0.7)).unwrap();
    // its own reconstruction is the face the seed draws
    let drawn = ws.render_seeds(7, 1, 0.7).unwrap().remove(0);
    let recon = ws.reconstruction(seed).unwrap();
    assert!(
        pixels_differ(&recon.image, &drawn) < 0.5,
        "G(w, G^K(w)) = G(w)"
    );
    let mixed = ws.open_mix_pane(a, b, MixPane::LatentBFeatureA).unwrap();
    // the pane as it was shown (drawn there in a batch of four: the same sums in another
    // order, so a pixel may round the other way)
    assert!(
        max_level_difference(
            &ws.reconstruction(mixed).unwrap().image,
            &ws.mix(a, b).unwrap().latent_b_feature_a,
        ) <= 1
    );
    let styled = ws.open_mix_pane(a, b, MixPane::StyleMix(0..4)).unwrap();
    assert!(
        max_level_difference(
            &ws.reconstruction(styled).unwrap().image,
            &ws.style_mix(a, b, 0..4).unwrap()
        ) <= 1
    );
    ws.set_slider(mixed, 0, 1.5).unwrap();
    let edited = ws.edited(mixed).unwrap();
    assert!(pixels_differ(&edited, &ws.reconstruction(mixed).unwrap().image) > 0.5);
    assert!(
        ws.export_full(mixed, &dir.join("x.png")).is_err(),
        "no photo to paste into"
    );
    ws.save_session(&dir.join("s.facestyle")).unwrap();
    let mut again = workspace();
    let loaded = again.load_session(&dir.join("s.facestyle")).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.photos.len(), 5);
    assert_eq!(again.edited(loaded.photos[3]).unwrap(), edited);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn interfacegan_trains_an_age_slider_that_ages_faces_and_joins_the_set() {
    let mut ws = workspace();
    let before: Vec<String> = ws
        .directions()
        .unwrap()
        .set
        .directions
        .iter()
        .map(|d| d.info.name.clone())
        .collect();
    let settings = InterFaceGanSettings {
        attributes: vec![Attribute::Age],
        orthogonal_to: vec![Attribute::Smile, Attribute::Age],
        faces: FaceSource::Samples {
            count: 320,
            truncation: 0.7,
        },
        ratio: 0.25,
        layers: None,
        seed: 0,
        keep_current: true,
    };
    let method = DirectionMethod::InterFaceGan(settings);

    // cancelled before it starts: an error, nothing taken
    let cancelled = CancelToken::default();
    cancelled.cancel();
    let err = ws
        .prepare_directions(method.clone())
        .unwrap()
        .run(&cancelled, |_| {});
    assert!(format!("{:#}", err.unwrap_err()).contains("cancelled"));

    let computed = ws
        .prepare_directions(method)
        .unwrap()
        .run(&CancelToken::default(), |_| {})
        .unwrap();
    for line in &computed.report {
        println!("{line}");
    }
    // 80 faces each side, 112 fit and 48 held out: age separates well above chance
    assert!(computed.strengths[0] > 0.7, "{:?}", computed.strengths);
    assert!(computed.report.iter().any(|l| l.contains("vs Smile")));
    ws.use_computed_directions(computed).unwrap();
    let set = &ws.directions().unwrap().set;
    let names: Vec<&str> = set
        .directions
        .iter()
        .map(|d| d.info.name.as_str())
        .collect();
    // the bundled Age slider is replaced in place of a duplicate; the others stay
    assert_eq!(names.len(), before.len(), "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "Age").count(), 1);
    let age = set.index_of("Age").unwrap();
    assert!(
        set.directions[age]
            .info
            .source
            .contains("InterFaceGAN on 320")
    );

    // the new slider ages four fresh faces by the attribute network's reading
    let g = ws.generator().unwrap();
    let nets = facestyle::model_source::load_attribute_nets(ws.burn_device()).unwrap();
    let w = g.seeded_wplus(500, 4, 0.7);
    let reach = set.directions[age].info.range.1;
    let mean_age = |alpha: f32| {
        let moved = set.apply(g, w.clone(), &[(age, alpha)]).unwrap();
        let image = g
            .synthesize(moved, &facestyle::model::NoiseMode::Stored, None, &[])
            .unwrap()
            .image;
        let s = nets.score_aligned(image);
        s.iter().map(|s| s.age).sum::<f32>() / s.len() as f32
    };
    let (young, old) = (mean_age(-reach), mean_age(reach));
    println!("age at −{reach}: {young:.1}, at +{reach}: {old:.1}");
    assert!(old > young + 5.0, "{young} → {old}");
}

#[test]
fn a_sweep_clip_moves_one_slider_and_loops_as_a_gif() {
    let mut ws = workspace();
    let id = ws
        .open_photo(&photo("00020.jpg"), Framing::Auto, 0)
        .unwrap();
    ws.set_slider(id, 1, 0.5).unwrap();
    let frames = ws.sweep(id, 0, (-2.0, 2.0), 5).unwrap();
    assert_eq!(frames.len(), 5);
    // the ends differ from each other; the middle frame is the edit at 0 (with slider 1 kept)
    assert!(pixels_differ(&frames[0], &frames[4]) > 0.0);
    let mut at_zero = ws.photo(id).unwrap().sliders.clone();
    at_zero[0] = 0.0;
    assert_eq!(
        ws.photo(id).unwrap().sliders,
        at_zero,
        "the slider is left as it was"
    );
    assert_eq!(frames[2], ws.edited(id).unwrap());
    assert!(ws.sweep(id, 99, (-1.0, 1.0), 5).is_err());
    assert_eq!(ws.photo(id).unwrap().sliders, at_zero);

    let slider = |index| facestyle::workspace::Sweep::Slider {
        index,
        range: (-2.0, 2.0),
    };
    // forward and back: 5 + 3 frames, each the face's size, as a GIF and as an MP4
    let dir = temp_dir("sweep");
    for name in ["sweep.gif", "sweep.mp4"] {
        let path = dir.join(name);
        assert_eq!(
            ws.export_sweep(id, slider(0), (5, 80), false, &path)
                .unwrap(),
            8
        );
        let clip = facestyle::video::read_clip(&path, None).unwrap();
        assert_eq!(clip.frames.len(), 8, "{name}");
        assert_eq!(clip.size(), frames[0].dimensions(), "{name}");
        assert!(
            (clip.fps - 12.5).abs() < 0.5,
            "{name}: {} frames/s",
            clip.fps
        );
    }
    // the whole photo in every frame
    let path = dir.join("whole");
    ws.export_sweep(id, slider(0), (3, 80), true, &path)
        .unwrap();
    let clip = facestyle::video::read_clip(&path, None).unwrap();
    let original = facestyle::imaging::load_photo(&photo("00020.jpg")).unwrap();
    assert_eq!(clip.frames.len(), 4);
    assert_eq!(clip.size(), original.dimensions());
}

#[test]
fn a_mix_sweep_goes_from_one_face_to_the_other() {
    let mut ws = workspace();
    let a = ws
        .open_photo(&photo("00020.jpg"), Framing::Auto, 0)
        .unwrap();
    let b = ws
        .open_photo(&photo("unaligned_joker.jpg"), Framing::Auto, 0)
        .unwrap();
    let (ra, rb) = (
        ws.reconstruction(a).unwrap().image,
        ws.reconstruction(b).unwrap().image,
    );
    let whole = ws.mix_sweep(a, b, None, 5).unwrap();
    assert_eq!(whole[0], ra, "starts at A's reconstruction");
    assert_eq!(whole[4], rb, "ends at B's");
    // each step moves further from A
    let from_a: Vec<f64> = whole.iter().map(|f| pixels_differ(f, &ra)).collect();
    assert!(from_a.windows(2).all(|w| w[1] > w[0]), "{from_a:?}");
    // a layer-range mix: A at the start (up to Eq. 1's rounding), B's fine styles at the end
    let n = ws.generator().unwrap().config.n_latent();
    let fine = ws.mix_sweep(a, b, Some(n / 2..n), 3).unwrap();
    assert!(pixels_differ(&fine[0], &ra) < 1.0);
    let styled = ws.style_mix(a, b, n / 2..n).unwrap();
    assert!(
        pixels_differ(&fine[2], &styled) < 1.0,
        "t = 1 is the style mix"
    );
    assert!(ws.mix_sweep(a, b, Some(n..n + 1), 3).is_err());
}
