use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::common::parse_noise;
use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::Codes;
use crate::edit::mixing::{mix, style_mix};
use crate::imaging::{grid, tensor_to_rgb_images};
use crate::model_source::load_generator;

#[derive(Args, Debug)]
pub struct MixArgs {
    /// Codes of face A (from `invert`).
    pub a: PathBuf,
    /// Codes of face B.
    pub b: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// The generator the codes were made with (default: the bundled model).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value = "const")]
    pub noise: String,
    /// Also classic style mixing: these w+ layers of B into A (e.g. 0..4 coarse, 4..8 middle).
    #[arg(long, value_parser = crate::edit::directions::pick::parse_layers)]
    pub layers: Option<std::ops::Range<usize>>,
}

pub fn run(a: MixArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    println!("device: {dev}");
    let (g, origin) = load_generator(a.weights.as_deref(), &dev.device)?;
    println!("generator: {origin}");
    let load = |p: &PathBuf| Codes::load(p, &g.identity, &dev.device).map(|c| c.select(0));
    let (ca, cb) = (load(&a.a)?, load(&a.b)?);
    let noise = parse_noise(&a.noise, None, &g, 0, &dev.device)?;
    let m = mix(&g, &ca, &cb, &noise)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut row = Vec::new();
    for (name, t) in [
        ("recon_a", m.recon_a),
        ("latent_b_feature_a", m.latent_b_feature_a),
        ("latent_a_feature_b", m.latent_a_feature_b),
        ("recon_b", m.recon_b),
    ] {
        let img = tensor_to_rgb_images(t).remove(0);
        crate::safe_write::save_image(&img, &a.out.join(format!("{name}.png")))?;
        row.push(img);
    }
    crate::safe_write::save_image(&grid(&row, 4), &a.out.join("mix.png"))?;
    if let Some(layers) = a.layers {
        let img = tensor_to_rgb_images(style_mix(&g, &ca, &cb, layers.clone(), &noise)?).remove(0);
        let name = format!("style_mix_{}_{}.png", layers.start, layers.end);
        crate::safe_write::save_image(&img, &a.out.join(&name))?;
        println!(
            "A with B's layers {layers:?} → {}",
            a.out.join(name).display()
        );
    }
    println!(
        "A | G(w_B, F_A) | G(w_A, F_B) | B → {}",
        a.out.join("mix.png").display()
    );
    Ok(())
}
