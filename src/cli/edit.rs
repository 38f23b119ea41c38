use std::path::PathBuf;

use clap::Args;

use super::common::{open_workspace, parse_noise, save_pngs};
use crate::device::DeviceChoice;
use crate::face::Framing;
use crate::workspace::Sweep;

#[derive(Args, Debug)]
pub struct EditArgs {
    /// Codes of the face (from `invert`).
    pub codes: PathBuf,
    /// Slider settings, `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::common::parse_slider)]
    pub sliders: Vec<(String, f32)>,
    /// Direction set (default: the bundled one).
    #[arg(long)]
    pub directions: Option<PathBuf>,
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value = "const")]
    pub noise: String,
    /// A clip instead of one image: slider NAME moving from LO to HI and back, looping, e.g.
    /// `--sweep "Smile=-2.8:2.8" --out smile.gif` (.gif, .mp4, .webp or a new folder).
    #[arg(long, value_name = "NAME=LO:HI", value_parser = parse_sweep)]
    pub sweep: Option<(String, f32, f32)>,
    /// A clip of a mix moving from this face to the face of these codes (and back): the whole
    /// codes blended, or with --sweep-layers only those w+ entries (F follows by Eq. 1).
    #[arg(long, value_name = "CODES", conflicts_with = "sweep")]
    pub sweep_to: Option<PathBuf>,
    /// The w+ entries a --sweep-to mix moves, `START..END`.
    #[arg(long, value_name = "START..END", requires = "sweep_to")]
    pub sweep_layers: Option<String>,
    /// Frames from LO to HI in a sweep.
    #[arg(long, default_value_t = 24)]
    pub frames: usize,
    /// Milliseconds each frame of a sweep is shown.
    #[arg(long, default_value_t = 80)]
    pub frame_ms: u32,
    /// Sweep frames of the whole photo with the face pasted back (codes made from a photo).
    #[arg(long)]
    pub whole_photo: bool,
    #[arg(long)]
    pub out: PathBuf,
}

/// `NAME=LO:HI`.
fn parse_sweep(s: &str) -> Result<(String, f32, f32), String> {
    let (name, range) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("`{s}`: expected NAME=LO:HI"))?;
    let (lo, hi) = range
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected NAME=LO:HI"))?;
    let number = |t: &str| {
        t.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("`{t}` is not a number"))
    };
    Ok((name.trim().to_string(), number(lo)?, number(hi)?))
}

pub fn run(a: EditArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let mut ws = open_workspace(choice, a.weights.as_deref(), None, Framing::CenterCrop)?;
    match &a.directions {
        Some(p) => ws.load_directions(p)?,
        None => {
            if let Some(problem) = ws.use_bundled_directions() {
                anyhow::bail!("no direction set: pass --directions SET.safetensors ({problem})");
            }
        }
    }
    ws.noise = parse_noise(&a.noise, None, ws.generator()?, 0, ws.burn_device())?;
    let id = ws.open_codes(&a.codes)?;
    ws.set_sliders_by_name(id, &a.sliders)?;
    let sweep = match (&a.sweep, &a.sweep_to) {
        (Some((name, lo, hi)), _) => Some((
            Sweep::Slider {
                index: ws.directions().map_or(Ok(0), |d| d.set.index_of(name))?,
                range: (*lo, *hi),
            },
            format!("{name} {lo:+} → {hi:+} and back"),
        )),
        (None, Some(other)) => {
            let n = ws.generator()?.config.n_latent();
            let layers = a
                .sweep_layers
                .as_deref()
                .map(|s| super::video::parse_layers(s, n))
                .transpose()?;
            let with = ws.open_codes(other)?;
            let what = match &layers {
                Some(l) => format!("w+ entries {}..{} of", l.start, l.end),
                None => "a blend".into(),
            };
            Some((
                Sweep::Mix { with, layers },
                format!("{what} {} and back", other.display()),
            ))
        }
        (None, None) => {
            if a.whole_photo {
                anyhow::bail!("--whole-photo goes with --sweep or --sweep-to");
            }
            None
        }
    };
    if let Some((sweep, what)) = sweep {
        let n = ws.export_sweep(id, sweep, (a.frames, a.frame_ms), a.whole_photo, &a.out)?;
        println!("{what}, {n} frames → {}", a.out.display());
        return Ok(());
    }
    let edited = ws.edited(id)?;
    save_pngs(std::slice::from_ref(&edited), &a.out)?;
    // Codes made from an aligned photo: also the whole photo with the edited face pasted back.
    if ws.photo(id)?.face.aligned.is_some() {
        let stem = a
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = a.out.with_file_name(format!("{stem}_full.png"));
        match ws.paste_into_photo(id, &edited) {
            Ok(full) => {
                crate::workspace::save_png(&full, &path)?;
                println!("whole photo with the edited face → {}", path.display());
            }
            Err(e) => eprintln!("no paste-back: {e:#}"),
        }
    }
    Ok(())
}
