use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::inversion;
use crate::face::{Framing, frame};
use crate::imaging::{load_photo, rgb_images_to_tensor, tensor_to_rgb_images};
use crate::model::lpips::TrunkKind;
use crate::model::{Generator, NoiseMode};
use crate::model_source::PerceptualChoice;
use crate::model_source::{load_encoder, load_face_detector, load_generator};
use crate::pti::{
    CancelToken, Locality, Perceptual, ProjectionConfig, TuningConfig, pivotal_tuning, project,
};
use crate::weights;

/// Where the pivot code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PivotSource {
    /// PTI's W-space projection (slow, the paper's choice).
    Project,
    /// The Feature-Style encoder's w+ (fast).
    Encoder,
}

#[derive(Args, Debug)]
pub struct PersonalizeArgs {
    /// One photo, or several tuned together into one generator (multi-identity).
    pub photos: Vec<PathBuf>,
    /// The personalized generator (safetensors).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = PivotSource::Project)]
    pub pivot: PivotSource,
    /// How photos are framed, as in `invert` and the editor: auto = detect and FFHQ-align the
    /// largest face (centre square if none), center-crop = use them as they are.
    #[arg(long, value_enum, default_value_t = Framing::Auto)]
    pub framing: Framing,
    /// Projection steps (PTI: 450).
    #[arg(long, default_value_t = 450)]
    pub steps_inv: usize,
    /// Pivotal tuning steps (PTI: 350).
    #[arg(long, default_value_t = 350)]
    pub steps_tune: usize,
    /// Stop tuning once the perceptual distance at the pivot is at most this (PTI: 0.06, an
    /// LPIPS value; other networks have other scales); 0 runs every step.
    #[arg(long, default_value_t = 0.06)]
    pub stop_below: f32,
    /// Turn locality regularization off (it is on by default for several photos only).
    #[arg(long)]
    pub no_locality: bool,
    /// Force locality regularization on, also for one photo.
    #[arg(long, conflicts_with = "no_locality")]
    pub locality: bool,
    /// LPIPS trunk weights (torchvision alexnet-owt-*.pth); default: found in the weights
    /// folder, else tuning uses MSE only (and says so).
    #[arg(long)]
    pub lpips_trunk: Option<PathBuf>,
    /// LPIPS heads (lpips v0.1 alex.pth).
    #[arg(long)]
    pub lpips_lin: Option<PathBuf>,
    /// Perceptual distance: auto = LPIPS when its weights are in the weights folder, else MSE
    /// only; discriminator / face-id = a bundled network's features, compared LPIPS-style.
    #[arg(long, value_enum, default_value_t = PerceptualChoice::Auto)]
    pub perceptual: PerceptualChoice,
    /// Write LPIPS/MSE before and after and the timings as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

fn perceptual(a: &PersonalizeArgs, device: &burn::tensor::Device) -> anyhow::Result<Perceptual> {
    Ok(match &a.lpips_trunk {
        None => crate::model_source::load_perceptual(a.perceptual, device)?,
        Some(trunk) => Perceptual::Lpips(Box::new(crate::model_source::load_lpips(
            trunk,
            a.lpips_lin.as_deref(),
            TrunkKind::Alex,
            device,
        )?)),
    })
}

pub fn run(a: PersonalizeArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    if a.photos.is_empty() {
        bail!("give at least one photo");
    }
    let dev = ComputeDevice::select(choice);
    println!("device: {dev}");
    let device = &dev.device;
    let (g, g_origin) = load_generator(a.weights.as_deref(), device)?;
    let (e, e_origin) = load_encoder(a.encoder.as_deref(), device)?;
    let perceptual = perceptual(&a, device)?;
    println!(
        "generator: {g_origin}\nencoder: {e_origin}\nperceptual distance: {}",
        perceptual.name()
    );
    let photo_side = inversion::photo_side(&g, &e) as u32;
    let detector = match a.framing {
        Framing::Auto => Some(load_face_detector(device)?),
        Framing::CenterCrop => None,
    };
    let mut photos = Vec::new();
    for p in &a.photos {
        let framed = frame(&load_photo(p)?, photo_side, a.framing, detector.as_ref(), 0);
        if framed.aligned.is_none() && a.framing == Framing::Auto {
            eprintln!(
                "{}: no face found, using the centre square as it is",
                p.display()
            );
        }
        photos.push(framed.crop);
    }
    let (encoder_input, target) =
        inversion::split_framed(&g, &e, rgb_images_to_tensor(&photos, device));

    let pivot_start = Instant::now();
    let (pivot, steps_projection) = match a.pivot {
        PivotSource::Encoder => (inversion::encode(&g, &e, encoder_input)?.wplus, 0),
        PivotSource::Project => {
            // One projection per photo (the projector optimizes a single w).
            let config = ProjectionConfig {
                steps: a.steps_inv,
                ..ProjectionConfig::default()
            };
            let mut pivots = Vec::new();
            for i in 0..photos.len() {
                let one = target.clone().narrow(0, i, 1);
                let p = project(
                    &g,
                    &one,
                    &perceptual,
                    &config,
                    &CancelToken::default(),
                    |step, steps, loss| {
                        print!(
                            "\rprojecting {}/{}: step {step:>4}/{steps} loss {loss:.5}   ",
                            i + 1,
                            photos.len()
                        );
                        let _ = std::io::stdout().flush();
                    },
                )?;
                pivots.push(p.wplus);
            }
            println!();
            (burn::tensor::Tensor::cat(pivots, 0), a.steps_inv)
        }
    };
    let seconds_projection = pivot_start.elapsed().as_secs_f64();

    let measure = |g: &Generator| -> anyhow::Result<(f32, Option<f32>)> {
        let img = g
            .synthesize(pivot.clone(), &NoiseMode::Stored, None, &[])?
            .image;
        let mse: f32 = (img.clone() - target.clone()).square().mean().into_scalar();
        Ok((
            mse,
            perceptual
                .distance(img, target.clone())
                .map(|d| d.into_scalar()),
        ))
    };
    let (mse_before, lpips_before) = measure(&g)?;
    let locality = match (a.no_locality, a.locality, photos.len() > 1) {
        (true, _, _) => Locality::Off,
        (_, true, _) | (_, _, true) => Locality::paper(),
        _ => Locality::Off,
    };
    let config = TuningConfig {
        steps: a.steps_tune,
        lpips_threshold: a.stop_below,
        locality,
        ..TuningConfig::default()
    };
    let tuned = pivotal_tuning(
        &g,
        &pivot,
        &target,
        &perceptual,
        &config,
        &CancelToken::default(),
        |p| {
            let lp = p
                .lpips
                .map(|l| format!(" lpips {l:.4}"))
                .unwrap_or_default();
            print!(
                "\rtuning {:>4}/{} loss {:.5} mse {:.5}{lp}  {:.0}s, ETA {:.0}s   ",
                p.step, p.steps, p.loss, p.mse, p.seconds, p.eta_seconds
            );
            let _ = std::io::stdout().flush();
        },
    )?;
    println!();
    let (mse_after, lpips_after) = measure(&tuned.generator)?;
    let fmt = |l: Option<f32>| l.map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a".into());
    println!(
        "MSE {mse_before:.5} → {mse_after:.5}, {} {} → {} ({} steps, {:.1}s)",
        perceptual.key(),
        fmt(lpips_before),
        fmt(lpips_after),
        tuned.steps,
        tuned.seconds
    );
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    weights::write_safetensors(&tuned.generator.to_store(), &a.out)?;
    let recon = tuned
        .generator
        .synthesize(pivot.clone(), &NoiseMode::Stored, None, &[])?
        .image;
    for (p, img) in a.photos.iter().zip(tensor_to_rgb_images(recon)) {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = a.out.with_file_name(format!("{stem}_personalized.png"));
        crate::safe_write::save_image(&img, &path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("personalized generator → {}", a.out.display());
    if let Some(report) = &a.report {
        let json = serde_json::json!({
            "perceptual": perceptual.key(),
            "lpips_before": lpips_before,
            "lpips_after": lpips_after,
            "mse_before": mse_before,
            "mse_after": mse_after,
            "seconds_projection": seconds_projection,
            "seconds_tuning": tuned.seconds,
            "steps_projection": steps_projection,
            "steps_tuning": tuned.steps,
            "pivot": match a.pivot { PivotSource::Project => "project", PivotSource::Encoder => "encoder" },
        });
        crate::safe_write::write_atomically(
            report,
            serde_json::to_string_pretty(&json)?.as_bytes(),
        )
        .with_context(|| format!("writing {}", report.display()))?;
    }
    Ok(())
}
