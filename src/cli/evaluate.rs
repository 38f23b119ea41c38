//! Quality figures for a model card: how close generated faces are to real ones in the
//! identity network's embedding space, and whether slider edits keep the person.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use image::imageops::FilterType;

use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::Codes;
use crate::edit::directions::DirectionSet;
use crate::edit::feature_edit::edited_image;
use crate::edit::inversion::reconstruct;
use crate::imaging::{load_photo, tensor_to_rgb_images};
use crate::metrics::frechet_distance;
use crate::model::NoiseMode;
use crate::model_source::{bundled_directions, load_generator, load_identity_net};

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    #[command(subcommand)]
    pub action: EvaluateAction,
    /// Generator weights (default: the bundled model).
    #[arg(long, global = true)]
    pub weights: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum EvaluateAction {
    /// Fréchet distance between generated and real faces in the identity network's embedding
    /// space, with the real-vs-real figure (two halves of the real set) for scale.
    Fid {
        /// Real FFHQ-aligned faces (brought to the generator's size before embedding).
        #[arg(required = true)]
        real: Vec<PathBuf>,
        /// Generated faces (seeds 0 … count−1).
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 1.0)]
        truncation: f32,
    },
    /// Identity distance (1 − cosine) between each face's reconstruction and its edits at
    /// ±amount on every direction, against the distance between two different people.
    Edits {
        /// Codes files of different people (from `invert`).
        #[arg(required = true)]
        codes: Vec<PathBuf>,
        /// Direction set (default: the bundled one).
        #[arg(long)]
        directions: Option<PathBuf>,
        #[arg(long, default_value_t = 2.0)]
        amount: f32,
    },
}

pub fn run(a: EvaluateArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    println!("device: {dev}");
    let (g, origin) = load_generator(a.weights.as_deref(), &dev.device)?;
    println!("generator: {origin}");
    let id_net = load_identity_net(&dev.device)?;
    let side = g.config.size as u32;
    match a.action {
        EvaluateAction::Fid {
            real,
            count,
            truncation,
        } => {
            let mut real_emb = Vec::new();
            for chunk in real.chunks(32) {
                let imgs = chunk
                    .iter()
                    .map(|p| {
                        load_photo(p)
                            .map(|i| image::imageops::resize(&i, side, side, FilterType::Lanczos3))
                            .with_context(|| format!("reading {}", p.display()))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                real_emb.extend(id_net.embed(&imgs));
            }
            let avg = g.truncation_latent();
            let mut fake_emb = Vec::new();
            for start in (0..count).step_by(16) {
                let n = 16.min(count - start);
                let w = g.truncate(g.map(g.seeded_z(start as u64, n)), truncation, &avg);
                let image = g
                    .synthesize(g.broadcast(w), &NoiseMode::Stored, None, &[])?
                    .image;
                fake_emb.extend(id_net.embed(&tensor_to_rgb_images(image)));
            }
            let half = real_emb.len() / 2;
            println!(
                "identity-space Fréchet distance, {count} generated (ψ {truncation}) vs {} real: {:.4}",
                real_emb.len(),
                frechet_distance(&fake_emb, &real_emb)
            );
            println!(
                "  for scale, real vs real ({half} vs {}): {:.4}",
                real_emb.len() - half,
                frechet_distance(&real_emb[..half], &real_emb[half..])
            );
            let fake_half = &fake_emb[..half.min(fake_emb.len())];
            println!(
                "  generated vs real at the same sample size ({} vs {half}): {:.4}",
                fake_half.len(),
                frechet_distance(fake_half, &real_emb[half..])
            );
        }
        EvaluateAction::Edits {
            codes,
            directions,
            amount,
        } => {
            if codes.len() < 2 {
                bail!("give codes of at least two different people");
            }
            let set_path = directions
                .or_else(bundled_directions)
                .context("no direction set: pass --directions SET.safetensors")?;
            let set = DirectionSet::load(&set_path)?;
            set.check(&g)?;
            let noise = NoiseMode::Stored;
            let faces = codes
                .iter()
                .map(|p| Codes::load(p, &g.identity, &dev.device))
                .collect::<Result<Vec<_>, _>>()?;
            let recon: Vec<_> = faces
                .iter()
                .map(|c| Ok(tensor_to_rgb_images(reconstruct(&g, c, &noise)?).remove(0)))
                .collect::<anyhow::Result<_>>()?;
            let emb = id_net.embed(&recon);
            let dist =
                |a: &[f32], b: &[f32]| 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
            let mut between = Vec::new();
            for i in 0..emb.len() {
                for j in i + 1..emb.len() {
                    between.push(dist(&emb[i], &emb[j]));
                }
            }
            let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
            let people = mean(&between);
            println!(
                "identity distance between different people: mean {people:.3}, min {:.3} ({} pairs)",
                between.iter().cloned().fold(f32::INFINITY, f32::min),
                between.len()
            );
            for (k, d) in set.directions.iter().enumerate() {
                let mut edited = Vec::with_capacity(2 * faces.len());
                for c in &faces {
                    for s in [-amount, amount] {
                        let w = set.apply(&g, c.wplus.clone(), &[(k, s)])?;
                        edited.extend(tensor_to_rgb_images(edited_image(&g, c, w, &noise)?));
                    }
                }
                // one identity-network batch per direction; edits of face i sit at 2i, 2i + 1
                let ds: Vec<f32> = id_net
                    .embed(&edited)
                    .iter()
                    .enumerate()
                    .map(|(i, e)| dist(e, &emb[i / 2]))
                    .collect();
                let (m, worst) = (mean(&ds), ds.iter().cloned().fold(0.0, f32::max));
                println!(
                    "  {:<16} ±{amount}: mean {m:.3}, max {worst:.3}  {}",
                    d.info.name,
                    if worst < people {
                        "keeps identity"
                    } else {
                        "CHANGES identity"
                    }
                );
            }
        }
    }
    Ok(())
}
