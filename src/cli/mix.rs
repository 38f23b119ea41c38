use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::common::{open_workspace, parse_noise};
use crate::device::DeviceChoice;
use crate::face::Framing;
use crate::workspace::save_png;

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
    let mut ws = open_workspace(choice, a.weights.as_deref(), None, Framing::CenterCrop)?;
    ws.noise = parse_noise(&a.noise, None, ws.generator()?, 0, ws.burn_device())?;
    let (ia, ib) = (ws.open_codes(&a.a)?, ws.open_codes(&a.b)?);
    let m = ws.mix(ia, ib)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for (name, img) in [
        ("recon_a", &m.a),
        ("latent_b_feature_a", &m.latent_b_feature_a),
        ("latent_a_feature_b", &m.latent_a_feature_b),
        ("recon_b", &m.b),
    ] {
        save_png(img, &a.out.join(format!("{name}.png")))?;
    }
    save_png(&m.row(), &a.out.join("mix.png"))?;
    if let Some(layers) = a.layers {
        let img = ws.style_mix(ia, ib, layers.clone())?;
        let name = format!("style_mix_{}_{}.png", layers.start, layers.end);
        save_png(&img, &a.out.join(&name))?;
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
