use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::common::ModelArgs;
use crate::device::DeviceChoice;
use crate::face::Framing;
use crate::model_source::PerceptualChoice;
use crate::pti::{CancelToken, Locality, TuningConfig};
use crate::weights;
use crate::workspace::personalize::JobProgress;
use crate::workspace::{PersonalizeSettings, PivotSource};

#[derive(Args, Debug)]
pub struct PersonalizeArgs {
    /// One photo, or several tuned together into one generator (multi-identity).
    pub photos: Vec<PathBuf>,
    /// The personalized generator (safetensors).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub models: ModelArgs,
    #[arg(long, value_enum, default_value_t = PivotSource::Project)]
    pub pivot: PivotSource,
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

pub fn run(a: PersonalizeArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    if a.photos.is_empty() {
        bail!("give at least one photo");
    }
    let mut ws = a.models.open(choice)?;
    let mut ids = Vec::new();
    for (p, r) in a
        .photos
        .iter()
        .zip(ws.open_photos(&a.photos, a.models.framing, 4)?)
    {
        let id = r?;
        if ws.photo(id)?.face.aligned.is_none() && a.models.framing == Framing::Auto {
            eprintln!(
                "{}: no face found, using the centre square as it is",
                p.display()
            );
        }
        ids.push(id);
    }
    let settings = PersonalizeSettings {
        pivot: a.pivot,
        projection_steps: a.steps_inv,
        tuning: TuningConfig {
            steps: a.steps_tune,
            lpips_threshold: a.stop_below,
            ..TuningConfig::default()
        },
        locality: match (a.no_locality, a.locality) {
            (true, _) => Some(Locality::Off),
            (_, true) => Some(Locality::paper()),
            _ => None,
        },
        perceptual: a.perceptual,
        lpips_files: a.lpips_trunk.clone().map(|t| (t, a.lpips_lin.clone())),
    };
    let job = ws.prepare_personalization(&ids, &settings)?;
    println!("perceptual distance: {}", job.perceptual_name());
    let outcome = job.run(&CancelToken::default(), |p| {
        match p {
            JobProgress::Projecting {
                photo,
                photos,
                step,
                steps,
                loss,
            } => print!(
                "\rprojecting {}/{photos}: step {step:>4}/{steps} loss {loss:.5}   ",
                photo + 1
            ),
            JobProgress::Tuning(p) => {
                let lp = p
                    .lpips
                    .map(|l| format!(" lpips {l:.4}"))
                    .unwrap_or_default();
                print!(
                    "\rtuning {:>4}/{} loss {:.5} mse {:.5}{lp}  {:.0}s, ETA {:.0}s   ",
                    p.step, p.steps, p.loss, p.mse, p.seconds, p.eta_seconds
                );
            }
        }
        let _ = std::io::stdout().flush();
    })?;
    println!();
    let report = crate::workspace::personalize::TuningReport::of(&outcome);
    let fmt = |l: Option<f32>| l.map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a".into());
    println!(
        "MSE {:.5} → {:.5}, {} {} → {} ({} steps, {:.1}s)",
        report.mse_before,
        report.mse_after,
        report.perceptual,
        fmt(report.perceptual_before),
        fmt(report.perceptual_after),
        report.steps_tuning,
        report.seconds_tuning
    );
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    weights::write_safetensors(&outcome.generator.to_store(), &a.out)?;
    ws.finish_personalization(outcome)?;
    for (p, &id) in a.photos.iter().zip(&ids) {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = a.out.with_file_name(format!("{stem}_personalized.png"));
        crate::workspace::save_png(&ws.reconstruction(id)?.image, &path)?;
    }
    println!("personalized generator → {}", a.out.display());
    if let Some(path) = &a.report {
        let mut json = serde_json::to_value(&report)?;
        json["pivot"] = match a.pivot {
            PivotSource::Project => "project",
            PivotSource::Encoder => "encoder",
        }
        .into();
        json["steps_projection"] = match a.pivot {
            PivotSource::Project => a.steps_inv,
            PivotSource::Encoder => 0,
        }
        .into();
        crate::safe_write::write_atomically(path, serde_json::to_string_pretty(&json)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
