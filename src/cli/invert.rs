use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::common::{ModelArgs, open_workspace, parse_noise, save_pngs};
use crate::device::DeviceChoice;
use crate::edit::inversion;
use crate::face::Framing;
use crate::imaging::{rgb_images_to_tensor, tensor_to_rgb_images};
use crate::model::loader::tensor_to_vec;
use crate::weights::{self, TensorStore};

#[derive(Args, Debug)]
pub struct InvertArgs {
    /// Face photos (FFHQ-aligned works best; others are centre-cropped to a square).
    pub photos: Vec<PathBuf>,
    /// Output directory: `<name>.codes.safetensors`, `<name>_recon.png`, `<name>_input.png`.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub models: ModelArgs,
    /// Exact check: a safetensors `image` [B,3,H,W] in [-1,1] already at the encoder's input size.
    #[arg(long)]
    pub input_tensor: Option<PathBuf>,
    /// Noise: const (stored buffers, default), random, none, or a safetensors FILE with noise_0…
    #[arg(long, default_value = "const")]
    pub noise: String,
    /// With --input-tensor: write `wplus`, `feature` and `image` here.
    #[arg(long)]
    pub raw: Option<PathBuf>,
    /// Photos encoded together.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
}

pub fn run(a: InvertArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let framing = match a.input_tensor {
        Some(_) => Framing::CenterCrop,
        None => a.models.framing,
    };
    let m = &a.models;
    let mut ws = open_workspace(choice, m.weights.as_deref(), m.encoder.as_deref(), framing)?;
    let device = &ws.burn_device().clone();
    let (g, e) = (ws.generator()?, ws.encoder()?);
    let noise = parse_noise(&a.noise, None, g, 0, device)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;

    if let Some(x) = &a.input_tensor {
        let st = weights::read_safetensors(x)?;
        let image = super::common::stored_tensor::<4>(&st, "image", device)?
            .with_context(|| format!("{}: no `image` tensor", x.display()))?;
        let side = e.config.input_resolution;
        if image.dims()[2] != side || image.dims()[3] != side {
            bail!(
                "{}: `image` is {:?}, the encoder takes {side}×{side}",
                x.display(),
                image.dims()
            );
        }
        let codes = inversion::encode(g, e, image)?;
        let recon = inversion::reconstruct(g, &codes, &noise)?;
        if let Some(raw) = &a.raw {
            let mut out = TensorStore::new(raw);
            out.insert_f32(
                "wplus",
                codes.wplus.dims().to_vec(),
                &tensor_to_vec(codes.wplus.clone()),
            );
            out.insert_f32(
                "feature",
                codes.feature.dims().to_vec(),
                &tensor_to_vec(codes.feature.clone()),
            );
            out.insert_f32(
                "image",
                recon.dims().to_vec(),
                &tensor_to_vec(recon.clone()),
            );
            weights::write_safetensors(&out, raw)?;
            println!("raw tensors → {}", raw.display());
        }
        return save_pngs(&tensor_to_rgb_images(recon), &a.out);
    }

    if a.photos.is_empty() {
        bail!("no photos given");
    }
    ws.noise = noise;
    let perceptual = crate::model_source::load_reporting_perceptual(device);
    let perceptual_label = perceptual.key();
    let identity = crate::model_source::load_identity_net(device).ok();
    let mut summary = Summary::default();
    let opened = ws.open_photos(&a.photos, framing, a.batch)?;
    let mut failures = Vec::new();
    let ids: Vec<_> = opened
        .into_iter()
        .filter_map(|r| r.map_err(|e| failures.push(format!("{e:#}"))).ok())
        .collect();
    let names = unique_stems(
        ids.iter()
            .map(|&id| ws.photo(id).map(|p| p.path.as_path()).expect("open")),
    );
    for (&id, stem) in ids.iter().zip(&names) {
        let photo = ws.photo(id)?;
        if photo.face.aligned.is_none() && framing == Framing::Auto {
            eprintln!(
                "{}: no face found, using the centre square as it is",
                photo.path.display()
            );
        }
        let out = |suffix: &str| a.out.join(format!("{stem}{suffix}"));
        let r = ws.reconstruction(id)?;
        ws.export_codes(id, &out(".codes.safetensors"))?;
        crate::workspace::save_png(&r.image, &out("_recon.png"))?;
        crate::workspace::save_png(&r.target, &out("_input.png"))?;
        // perceptual distance when a network is available (see weights/README.md)
        let lp = perceptual
            .per_sample(
                rgb_images_to_tensor(std::slice::from_ref(&r.image), device),
                rgb_images_to_tensor(std::slice::from_ref(&r.target), device),
            )
            .map(|l| tensor_to_vec(l)[0]);
        let id_sim = identity.as_ref().map(|n| n.similarity(&r.image, &r.target));
        summary.add(&r.quality, lp, id_sim);
        let lp = lp
            .map(|l| format!("  {perceptual_label} {l:.4}"))
            .unwrap_or_default();
        let id_text = id_sim.map(|s| format!("  ID {s:.3}")).unwrap_or_default();
        println!(
            "{}: PSNR {:.2} dB  SSIM {:.4}  MSE {:.5}{lp}{id_text}  → {}",
            photo.path.display(),
            r.quality.psnr,
            r.quality.ssim,
            r.quality.mse,
            out(".codes.safetensors").display()
        );
    }
    summary.print(perceptual_label);
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("failed: {f}");
        }
        bail!("{} of {} photos failed", failures.len(), a.photos.len());
    }
    Ok(())
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "photo".into())
}

/// Means over every inverted photo, printed as the last line.
#[derive(Default)]
struct Summary {
    n: usize,
    psnr: f64,
    ssim: f64,
    mse: f64,
    lpips: Option<f64>,
    id: Option<f64>,
}

impl Summary {
    fn add(&mut self, q: &crate::metrics::Quality, lpips: Option<f32>, id: Option<f32>) {
        self.n += 1;
        self.psnr += q.psnr;
        self.ssim += q.ssim;
        self.mse += q.mse;
        if let Some(l) = lpips {
            *self.lpips.get_or_insert(0.0) += l as f64;
        }
        if let Some(s) = id {
            *self.id.get_or_insert(0.0) += s as f64;
        }
    }

    fn print(&self, perceptual_label: &str) {
        if self.n < 2 {
            return;
        }
        let n = self.n as f64;
        let lp = self
            .lpips
            .map(|l| format!("  {perceptual_label} {:.4}", l / n))
            .unwrap_or_default();
        let id = self
            .id
            .map(|s| format!("  ID {:.3}", s / n))
            .unwrap_or_default();
        println!(
            "mean over {} photos: PSNR {:.2} dB  SSIM {:.4}  MSE {:.5}{lp}{id}",
            self.n,
            self.psnr / n,
            self.ssim / n,
            self.mse / n
        );
    }
}

/// Output names for the photos: their file stems, with `-2`, `-3` … added where two photos
/// share one (`a/x.jpg` and `b/x.png`), so no output overwrites another.
fn unique_stems<'a>(paths: impl Iterator<Item = &'a Path>) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    paths
        .map(|p| {
            let base = stem(p);
            let name = (1..)
                .map(|n| {
                    if n == 1 {
                        base.clone()
                    } else {
                        format!("{base}-{n}")
                    }
                })
                .find(|n| used.insert(n.clone()))
                .expect("some name is free");
            if name != base {
                println!(
                    "{}: written as {name} (another photo is named {base})",
                    p.display()
                );
            }
            name
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_with_one_name_get_distinct_outputs() {
        let paths = [
            Path::new("a/x.jpg"),
            Path::new("b/x.png"),
            Path::new("y.jpg"),
            Path::new("c/x.webp"),
        ];
        assert_eq!(
            unique_stems(paths.into_iter()),
            vec!["x", "x-2", "y", "x-3"]
        );
    }
}
