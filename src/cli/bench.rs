use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::inversion;
use crate::model::encoder::{EncoderConfig, FeatureStyleEncoder};
use crate::model::random_init::{random_encoder_store, random_generator_store};
use crate::model::{Generator, GeneratorConfig, NoiseMode};
use crate::model_source::{load_encoder, load_generator};
use crate::pti::{
    CancelToken, Locality, Perceptual, ProjectionConfig, TuningConfig, pivotal_tuning, project,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTarget {
    /// Mapping + synthesis, ms per image at batch 1 and 8.
    Generator,
    /// The Feature-Style encoder alone, and encode + generate (inversion), ms per image.
    Encoder,
    /// Face detection + FFHQ alignment of a 12-MP photo (a sample photo upscaled to 4000×3000).
    Align,
    /// PTI phases: projection and pivotal tuning (with and without locality regularization),
    /// timed over --iters steps each and extrapolated to 450 / 350 steps.
    Pti,
    /// Slider → frame: one Eq. 1 edit of an inverted sample photo (what a drag costs), median
    /// and p90 over --iters moves (bundled model or --weights, with its encoder).
    Slider,
    /// Every row in one table (generator b1/b8, encoder, inversion, slider, mix, PTI step,
    /// projection step, LPIPS, detect+align of a 12-MP photo): median and p90 over --runs.
    All,
    /// `facestyle video` on a 48-frame 320×240 MP4 made from a sample photo (moving, turning,
    /// noisy), one slider on every frame: ms per frame by stage, for each --batch.
    Video,
    /// LPIPS of one pair of images at the model's side (at most 256²), ms per pair: the
    /// shipped LPIPS weights, else the test fixtures' random-weight AlexNet (same shapes).
    Lpips,
    /// What a session stores per personalized photo: --iters steps of pivotal tuning (MSE,
    /// toward another seed's face), then the exact delta against the base generator.
    Delta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchModel {
    /// The model the app runs (bundled, or --weights).
    App,
    /// A random-weight FFHQ config-f generator (1024 px, style 512, 8 mapping layers).
    Ffhq1024,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    pub target: BenchTarget,
    #[arg(long, value_enum, default_value_t = BenchModel::App)]
    pub model: BenchModel,
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Timed repetitions per batch size (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// `bench align`: the photo to upscale to 12 MP (default: a synthetic gradient).
    #[arg(long)]
    pub photo: Option<PathBuf>,
    /// Batch sizes to time.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8])]
    pub batch: Vec<usize>,
    /// `bench all`: timed runs per row (after two warm-up runs).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// `bench all`: also write the rows tab-separated here (for bench/compare.sh).
    #[arg(long)]
    pub tsv: Option<PathBuf>,
}

impl BenchArgs {
    /// `--photo`, else the repository's sample photo.
    fn sample_photo(&self) -> PathBuf {
        self.photo.clone().unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos/00020.jpg")
        })
    }
}

/// Milliseconds per image of `run(seed)` on `batch` images, after one warm-up call.
fn time_per_image(batch: usize, iters: usize, run: impl Fn(u64) -> burn::tensor::Tensor<4>) -> f64 {
    use super::bench_all::finish;
    finish(run(0));
    let start = Instant::now();
    for i in 0..iters {
        finish(run(i as u64 + 1));
    }
    start.elapsed().as_secs_f64() * 1000.0 / (iters * batch) as f64
}

/// `batch` faces from seeds `seed…`, untruncated, with the stored noise.
pub(super) fn generate(g: &Generator, seed: u64, batch: usize) -> burn::tensor::Tensor<4> {
    let w = g.broadcast(g.map(g.seeded_z(seed, batch)));
    g.synthesize(w, &NoiseMode::Stored, None, &[])
        .expect("valid w+")
        .image
}

/// The released FSE encoder's architecture (IResNet-50 trunk, 256² input, 18 heads).
fn released_encoder_config() -> EncoderConfig {
    EncoderConfig {
        widths: vec![64, 128, 256, 512],
        layers: vec![3, 4, 14, 3],
        fmaps: 512,
        style_dim: 512,
        n_styles: 18,
        content_stride: 2,
        input_resolution: 256,
        k: 5,
        bn_eps: 1e-5,
    }
}

pub fn run(a: BenchArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    let device = &dev.device;
    let (g, label) = match a.model {
        BenchModel::App => {
            let (g, origin) = load_generator(a.weights.as_deref(), device)?;
            (g, origin.to_string())
        }
        BenchModel::Ffhq1024 => {
            let store = random_generator_store(&GeneratorConfig::stylegan2(1024, 512, 8, 2), 0);
            let label = "random-weight FFHQ config-f generator".to_string();
            let mut g = Generator::load(&store, device)?;
            // the released checkpoint stores latent_avg (and the PyTorch side computes it
            // once): without it every encode would map 4096 z again
            g.latent_avg = Some(g.mean_latent(4096, 0));
            (g, label)
        }
    };
    let iters = a.iters.max(1);
    match a.target {
        BenchTarget::Generator => {
            println!("bench generator: {label}, {}px, on {dev}", g.config.size);
            for &b in &a.batch {
                let ms = time_per_image(b, iters, |seed| generate(&g, seed, b));
                println!(
                    "  batch {b:>2}: {ms:9.1} ms/image ({:.1} images/s)",
                    1000.0 / ms
                );
            }
        }
        BenchTarget::Align => {
            let detector = crate::model_source::load_face_detector(device)?;
            let sample = image::RgbImage::from_fn(1024, 768, |x, y| {
                image::Rgb([(x / 4) as u8, (y / 3) as u8, 128])
            });
            let photo = match a.photo.as_deref() {
                Some(p) => crate::imaging::load_photo(p)?,
                None => sample,
            };
            let photo =
                image::imageops::resize(&photo, 4000, 3000, image::imageops::FilterType::Triangle);
            println!("bench align: 4000×3000 photo, output 1024², on {dev}");
            let iters = a.iters.max(1);
            let (mut detect_s, mut align_s, mut found) = (0.0, 0.0, 0);
            for _ in 0..iters {
                let start = Instant::now();
                let faces = detector.detect(&photo);
                detect_s += start.elapsed().as_secs_f64();
                if let Some(f) = faces.first() {
                    found += 1;
                    let start = Instant::now();
                    crate::face::align(&photo, crate::face::Quad::ffhq(&f.landmarks), 1024);
                    align_s += start.elapsed().as_secs_f64();
                }
            }
            let per = |s: f64| s * 1000.0 / iters as f64;
            println!(
                "  detect {:.0} ms + align {:.0} ms = {:.0} ms per photo ({found}/{iters} with a face)",
                per(detect_s),
                per(align_s),
                per(detect_s + align_s)
            );
        }
        BenchTarget::Pti => {
            let steps = a.iters.max(2);
            let target = generate(&g, 1000, 1);
            let pivot = g.broadcast(g.map(g.seeded_z(7, 1)));
            println!(
                "bench pti: {label}, {}px, on {dev}, perceptual: MSE only, {steps} steps per phase",
                g.config.size
            );
            let cancel = CancelToken::default();
            let config = ProjectionConfig {
                steps,
                ..ProjectionConfig::default()
            };
            let p = project(
                &g,
                &target,
                &Perceptual::None,
                &config,
                &cancel,
                |_, _, _| {},
            )?;
            let per = p.seconds / steps as f64;
            println!(
                "  projection:             {:7.3} s/step → {:7.1} s for 450 steps",
                per,
                per * 450.0
            );
            for (name, locality) in [
                ("tuning", Locality::Off),
                ("tuning + locality reg.", Locality::paper()),
            ] {
                let config = TuningConfig {
                    steps,
                    lpips_threshold: 0.0,
                    locality,
                    ..TuningConfig::default()
                };
                let t = pivotal_tuning(
                    &g,
                    &pivot,
                    &target,
                    &Perceptual::None,
                    &config,
                    &cancel,
                    |_| {},
                )?;
                let per = t.seconds / steps as f64;
                println!(
                    "  {name:<23} {:7.3} s/step → {:7.1} s for 350 steps",
                    per,
                    per * 350.0
                );
            }
        }
        BenchTarget::Encoder => {
            let e = match a.model {
                BenchModel::App => load_encoder(None, device)?.0,
                BenchModel::Ffhq1024 => FeatureStyleEncoder::load(
                    &random_encoder_store(&released_encoder_config(), 0),
                    device,
                )?,
            };
            inversion::check_pair(&g, &e)?;
            let side = e.config.input_resolution;
            println!("bench encoder: {label} + encoder ({side}² input), on {dev}");
            for &b in &a.batch {
                let photos = generate(&g, 1000, b);
                let input = inversion::resize_to_side(photos.clone(), side);
                let enc = time_per_image(b, iters, |_| e.encode(input.clone()).feature);
                let inv = time_per_image(b, iters, |_| {
                    let codes =
                        inversion::encode(&g, &e, inversion::resize_to_side(photos.clone(), side))
                            .expect("pair checked");
                    inversion::reconstruct(&g, &codes, &NoiseMode::Stored).expect("codes fit")
                });
                println!(
                    "  batch {b:>2}: encoder {enc:8.1} ms/image · encode+generate {inv:8.1} ms/image"
                );
            }
        }
        BenchTarget::Lpips => {
            let l = lpips_for_bench(device)?.context("no LPIPS weights and no test fixture")?;
            let side = g.config.size.min(256);
            let a0 = inversion::resize_to_side(generate(&g, 1000, 1), side);
            let b0 = inversion::resize_to_side(generate(&g, 5, 1), side);
            println!("bench lpips: {} at {side}², on {dev}", l.trunk.kind.name());
            let ms = time_per_image(1, iters, |_| {
                l.distance(a0.clone(), b0.clone())
                    .total
                    .reshape([1, 1, 1, 1])
            });
            println!("  pair: {ms:8.2} ms");
        }
        BenchTarget::Delta => bench_delta(&g, &label, iters)?,
        BenchTarget::All => bench_all(&a, &g, &label, &dev)?,
        BenchTarget::Slider => bench_slider(&a, choice, iters)?,
        BenchTarget::Video => bench_video(&a, choice)?,
    }
    Ok(())
}

/// Exact LPIPS from the weights folder, else the random-weight AlexNet of the test fixtures
/// (same shapes, so the same cost), else none.
fn lpips_for_bench(
    device: &burn::tensor::Device,
) -> anyhow::Result<Option<crate::model::lpips::Lpips>> {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lpips_alex");
    Ok(match crate::model_source::shipped_lpips(device) {
        Some(l) => Some(l?),
        None if fixture.exists() => Some(crate::model_source::load_lpips(
            &fixture.join("alexnet_trunk.safetensors"),
            Some(&fixture.join("lin_alex_v0.1.safetensors")),
            crate::model::lpips::TrunkKind::Alex,
            device,
        )?),
        None => None,
    })
}

fn bench_all(a: &BenchArgs, g: &Generator, label: &str, dev: &ComputeDevice) -> anyhow::Result<()> {
    let device = &dev.device;
    let e = match a.model {
        BenchModel::App => load_encoder(None, device)?.0,
        BenchModel::Ffhq1024 => {
            FeatureStyleEncoder::load(&random_encoder_store(&released_encoder_config(), 0), device)?
        }
    };
    let lpips = lpips_for_bench(device)?;
    let detector = crate::model_source::load_face_detector(device).ok();
    let photo = a.sample_photo();
    let model = format!(
        "{label}, {0}×{0}, encoder {1}² input",
        g.config.size, e.config.input_resolution
    );
    println!("bench all: {model} on {dev}, {} runs per row", a.runs);
    let suite = super::bench_all::Suite {
        generator: g,
        encoder: &e,
        lpips: lpips.as_ref(),
        detector: detector.as_ref(),
        photo: &photo,
        runs: a.runs,
        batches: &a.batch,
    };
    let rows = suite.run(|r| eprintln!("  {} (batch {}) done", r.name, r.batch))?;
    println!("{}", super::bench_all::table(dev, &model, &rows));
    if let Some(path) = &a.tsv {
        crate::safe_write::write_atomically(path, super::bench_all::tsv(&rows).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn bench_delta(g: &Generator, label: &str, steps: usize) -> anyhow::Result<()> {
    println!(
        "bench delta: {label}, {}px, {steps} tuning steps",
        g.config.size
    );
    let w = |seed| g.seeded_wplus(seed, 1, 0.7);
    let target = g.synthesize(w(1), &NoiseMode::Stored, None, &[])?.image;
    let config = TuningConfig {
        steps,
        ..TuningConfig::default()
    };
    let tuned = pivotal_tuning(
        g,
        &w(2),
        &target,
        &Perceptual::None,
        &config,
        &CancelToken::default(),
        |_| {},
    )?;
    let (base, after) = (g.to_store(), tuned.generator.to_store());
    let delta = crate::workspace::delta::GeneratorDelta::between(&base, &after)?;
    let mb = |b: usize| b as f64 / 1e6;
    let all: usize = base.tensors.values().map(|t| t.bytes.len()).sum();
    let changed: usize = delta
        .changed
        .keys()
        .map(|k| base.tensors[k].bytes.len())
        .sum();
    println!(
        "  whole generator {:.2} MB (f32) · changed tensors {:.2} MB ({} of {}) · stored delta {:.2} MB ({:.1}% of the changed bytes), {:.1} s tuning",
        mb(all),
        mb(changed),
        delta.changed.len(),
        base.tensors.len(),
        mb(delta.stored_bytes()),
        100.0 * delta.stored_bytes() as f64 / changed.max(1) as f64,
        tuned.seconds
    );
    Ok(())
}

fn bench_video(a: &BenchArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    use crate::video::{read_clip, synthetic::moving_face, write_clip};
    let mut ws = super::common::open_workspace(
        choice,
        a.weights.as_deref(),
        None,
        crate::face::Framing::Auto,
    )?;
    if let Some(problem) = ws.use_bundled_directions() {
        anyhow::bail!("no direction set: {problem}");
    }
    let photo = a.sample_photo();
    let clip = moving_face(
        &crate::imaging::load_photo(&photo)?,
        48,
        (320, 240),
        25.0,
        1,
    );
    let dir = std::env::temp_dir().join(format!("facestyle-bench-video-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (input, output) = (dir.join("in.mp4"), dir.join("out.mp4"));
    write_clip(&input, &clip)?;
    let name = ws
        .directions()
        .and_then(|d| d.set.directions.first())
        .map(|d| d.info.name.clone())
        .context("the direction set is empty")?;
    println!(
        "48 frames 320×240 MP4, {name} = 2 on every frame; ms per frame (measuring for the report excluded)"
    );
    println!(
        "| batch | decode | detect | align | invert | edit | paste | encode | total | frames/s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &batch in &a.batch {
        let settings = crate::workspace::VideoSettings {
            sliders: vec![(name.clone(), 2.0)],
            batch,
            ..Default::default()
        };
        let t = Instant::now();
        let clip = read_clip(&input, None)?;
        let n = clip.frames.len() as f64;
        let decode = t.elapsed().as_secs_f64() / n;
        let (out, report) = ws.edit_video(clip, &settings, &CancelToken::default(), |_| {})?;
        let t = Instant::now();
        let _ = std::fs::remove_file(&output);
        write_clip(&output, &out)?;
        let encode = t.elapsed().as_secs_f64() / n;
        let s = &report.seconds_per_frame;
        let total = s.total + decode + encode;
        let ms = |v: f64| format!("{:.1}", v * 1e3);
        println!(
            "| {batch} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            ms(decode),
            ms(s.detect),
            ms(s.align),
            ms(s.invert),
            ms(s.edit),
            ms(s.paste),
            ms(encode),
            ms(total),
            1.0 / total
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn bench_slider(a: &BenchArgs, choice: DeviceChoice, iters: usize) -> anyhow::Result<()> {
    let framing = crate::face::Framing::Auto;
    let mut ws = match a.model {
        BenchModel::App => {
            super::common::open_workspace(choice, a.weights.as_deref(), None, framing)?
        }
        BenchModel::Ffhq1024 => {
            // random weights of the official shapes, through files as a user's would load
            let dir = std::env::temp_dir().join(format!("facestyle-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let (g, e) = (dir.join("g.safetensors"), dir.join("e.safetensors"));
            let config = GeneratorConfig::stylegan2(1024, 512, 8, 2);
            crate::weights::write_safetensors(&random_generator_store(&config, 0), &g)?;
            crate::weights::write_safetensors(
                &random_encoder_store(&released_encoder_config(), 0),
                &e,
            )?;
            let ws = super::common::open_workspace(choice, Some(&g), Some(&e), framing);
            std::fs::remove_dir_all(&dir)?;
            ws?
        }
    };
    let photo = a.sample_photo();
    let id = ws.open_photo(&photo, framing, 0)?;
    let n = ws.directions().map_or(0, |d| d.set.directions.len());
    anyhow::ensure!(n > 0, "no directions to move");
    let size = ws.generator()?.config.size;
    let sides: Vec<(String, Option<usize>)> = if size > crate::engine::PREVIEW_SIDE {
        vec![
            (
                format!("preview {0}×{0}", crate::engine::PREVIEW_SIDE),
                Some(crate::engine::PREVIEW_SIDE),
            ),
            (format!("full {size}×{size}"), None),
        ]
    } else {
        vec![(format!("full {size}×{size}"), None)]
    };
    for (what, side) in sides {
        let mut times = Vec::new();
        for i in 0..iters.max(2) + 1 {
            // a drag: each move sets a new value of one slider, then draws the edited face
            let value = ((i % 20) as f32 - 10.0) / 5.0;
            let start = Instant::now();
            ws.set_slider(id, i % n, value)?;
            let img = ws.edited_at(id, side)?;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            anyhow::ensure!(img.width() > 0);
            if i > 0 {
                times.push(ms); // the first move warms up (and computes F − G^K(w))
            }
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "bench slider: {size}px model, {what}, {} moves: median {:.1} ms, p90 {:.1} ms (slider → edited frame, Eq. 1)",
            times.len(),
            at(0.5),
            at(0.9)
        );
    }
    Ok(())
}
