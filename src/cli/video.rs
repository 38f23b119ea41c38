use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::common::open_workspace;
use crate::device::DeviceChoice;
use crate::edit::Codes;
use crate::face::Framing;
use crate::pti::{CancelToken, TuningConfig};
use crate::video::steady::Steadying;
use crate::video::{read_clip, write_clip};
use crate::workspace::{PersonalizeSettings, PivotSource, VideoMix, VideoSettings, Workspace};

#[derive(Args, Debug)]
pub struct VideoArgs {
    /// The clip: .mp4 (H.264), .gif, .webp, or a folder of frames (played in name order).
    pub input: PathBuf,
    /// The edited clip: .mp4, .gif, .webp, or a new folder for PNG frames. Same frames, size
    /// and rate as the input; audio is not carried over. A JSON report is written beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Generator weights (default: the bundled model).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Feature-Style encoder weights (default: bundled).
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    /// Direction set (default: the bundled one).
    #[arg(long)]
    pub directions: Option<PathBuf>,
    /// Slider settings applied to every frame, `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = super::common::parse_slider)]
    pub sliders: Vec<(String, f32)>,
    /// Another face's codes (from `invert`) mixed into every frame: its w+ entries
    /// `--mix-layers`, the feature code following by Eq. 1.
    #[arg(long, value_name = "CODES")]
    pub mix_with: Option<PathBuf>,
    /// The w+ entries taken from `--mix-with`, `START..END` (default: the second half, the
    /// fine styles: colour and texture).
    #[arg(long, value_name = "START..END")]
    pub mix_layers: Option<String>,
    /// Pivotal tuning on key frames together (multi-identity, locality regularization) before
    /// editing: slower, closer to the person.
    #[arg(long)]
    pub personalize: bool,
    /// Key frames tuned on with --personalize.
    #[arg(long, default_value_t = 3)]
    pub key_frames: usize,
    /// Tuning steps with --personalize.
    #[arg(long, default_value_t = 350)]
    pub steps_tune: usize,
    /// Frame rate of the output (default: the input's; 25 for a folder of frames).
    #[arg(long)]
    pub fps: Option<f32>,
    /// Read at most this many frames.
    #[arg(long)]
    pub max_frames: Option<usize>,
    /// Temporal smoothing of the face crop, σ in frames (0: off).
    #[arg(long, default_value_t = Steadying::default().sigma)]
    pub smooth: f32,
    /// Frames without a detected face that keep a nearby frame's crop.
    #[arg(long, default_value_t = Steadying::default().max_gap)]
    pub max_gap: usize,
    /// Frames inverted together.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Where the JSON report goes (default: beside the output, `NAME.report.json`).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// `START..END` within `n` entries.
pub(super) fn parse_layers(s: &str, n: usize) -> anyhow::Result<std::ops::Range<usize>> {
    let (a, b) = s
        .split_once("..")
        .with_context(|| format!("`{s}`: expected START..END"))?;
    let num = |t: &str| {
        t.trim()
            .parse::<usize>()
            .with_context(|| format!("`{t}` is not a layer number"))
    };
    let r = num(a)?..num(b)?;
    if r.is_empty() || r.end > n {
        bail!("layers {s}: the generator has w+ entries 0..{n}");
    }
    Ok(r)
}

fn settings(a: &VideoArgs, ws: &mut Workspace) -> anyhow::Result<VideoSettings> {
    match &a.directions {
        Some(p) => ws.load_directions(p)?,
        None => {
            if let Some(problem) = ws.use_bundled_directions()
                && !a.sliders.is_empty()
            {
                bail!("no direction set for --set: pass --directions SET.safetensors ({problem})");
            }
        }
    }
    let g = ws.generator()?;
    let mix = match &a.mix_with {
        None => None,
        Some(p) => {
            let n = g.config.n_latent();
            let layers = match &a.mix_layers {
                Some(s) => parse_layers(s, n)?,
                None => n / 2..n,
            };
            Some(VideoMix {
                codes: Codes::load(p, &g.identity, ws.burn_device())?.select(0),
                name: p.display().to_string(),
                layers,
            })
        }
    };
    let personalize = a.personalize.then(|| {
        (
            a.key_frames,
            PersonalizeSettings {
                pivot: PivotSource::Encoder,
                tuning: TuningConfig {
                    steps: a.steps_tune,
                    ..TuningConfig::default()
                },
                ..PersonalizeSettings::default()
            },
        )
    });
    if !(a.smooth.is_finite() && (0.0..=100.0).contains(&a.smooth)) {
        bail!("--smooth must be a number from 0 to 100 (frames)");
    }
    Ok(VideoSettings {
        sliders: a.sliders.clone(),
        mix,
        steadying: Steadying {
            sigma: a.smooth,
            max_gap: a.max_gap,
        },
        batch: a.batch,
        personalize,
    })
}

pub fn run(a: VideoArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    // fail on the output before any work
    crate::video::ClipFormat::of(&a.out)?;
    if !a.out.is_dir() {
        crate::safe_write::check_target(&a.out).with_context(|| a.out.display().to_string())?;
    }
    if let Some(fps) = a.fps
        && !(fps.is_finite() && fps > 0.0)
    {
        bail!("--fps must be a positive number");
    }
    let mut ws = open_workspace(
        choice,
        a.weights.as_deref(),
        a.encoder.as_deref(),
        Framing::Auto,
    )?;
    let settings = settings(&a, &mut ws)?;

    let t = Instant::now();
    let mut clip = read_clip(&a.input, a.max_frames)?;
    let decode = t.elapsed().as_secs_f64();
    if let Some(fps) = a.fps {
        clip.fps = fps;
    }
    let (w, h) = clip.size();
    println!(
        "{}: {} frames, {w}×{h}, {:.2} frames/s (audio, if any, is not carried over)",
        a.input.display(),
        clip.frames.len(),
        clip.fps
    );

    // Ctrl+C stops the job at its next frame or step; nothing has been written by then
    let cancel = CancelToken::default();
    let on_interrupt = cancel.clone();
    ctrlc::set_handler(move || on_interrupt.cancel()).ok();
    let started = Instant::now();
    let mut stage_started = Instant::now();
    let mut last_stage = None;
    // a progress line on a terminal; one line per stage in a log
    let terminal = std::io::stderr().is_terminal();
    let n = clip.frames.len() as f64;
    let (out, mut report) = ws.edit_video(clip, &settings, &cancel, |p| {
        if !terminal {
            if last_stage != Some(p.stage) {
                eprintln!("{} ({} s)", p.stage.label(), started.elapsed().as_secs());
                last_stage = Some(p.stage);
            }
            return;
        }
        if last_stage != Some(p.stage) {
            if last_stage.is_some() {
                eprintln!();
            }
            last_stage = Some(p.stage);
            stage_started = Instant::now();
        }
        let fraction = p.done as f64 / p.total.max(1) as f64;
        eprint!(
            "\r{:<22} {:>5}/{:<5} {:>3.0} %  {:.0} s",
            p.stage.label(),
            p.done,
            p.total,
            100.0 * fraction,
            started.elapsed().as_secs_f64()
        );
        let in_stage = stage_started.elapsed().as_secs_f64();
        if fraction > 0.0 && fraction < 1.0 {
            eprint!(", ETA {:.0} s   ", in_stage / fraction - in_stage);
        } else {
            eprint!("            ");
        }
        std::io::stderr().flush().ok();
    })?;
    if terminal {
        eprintln!();
    }
    if cancel.is_cancelled() {
        bail!("cancelled: nothing was written");
    }

    let t = Instant::now();
    write_clip(&a.out, &out)?;
    {
        let s = &mut report.seconds_per_frame;
        s.decode = decode / n;
        s.encode = t.elapsed().as_secs_f64() / n;
        s.total += s.decode + s.encode;
    }
    println!("edited clip → {}", a.out.display());

    let r = &report;
    println!(
        "faces: {} found, {} bridged, {} passed through · crop jitter (centre, % of side) {:.2} → {:.2}",
        r.faces_found,
        r.frames_bridged,
        r.frames_passed_through,
        r.jitter_detected.centre_percent,
        r.jitter_steadied.centre_percent
    );
    println!(
        "reconstruction: PSNR {:.2} dB, SSIM {:.3}{}",
        r.reconstruction.psnr,
        r.reconstruction.ssim,
        r.reconstruction
            .identity
            .map_or(String::new(), |i| format!(", identity {i:.3}"))
    );
    if let Some(c) = &r.identity_consistency {
        println!(
            "identity consistency (to the first frame): source {:.3}, reconstruction {:.3}, edit {:.3}",
            c.source, c.reconstruction, c.edit
        );
    }
    let s = &r.seconds_per_frame;
    println!(
        "{:.1} ms per frame ({:.1} frames/s): decode {:.1}, detect {:.1}, align {:.1}, personalize {:.1}, invert {:.1}, edit {:.1}, paste {:.1}, encode {:.1}",
        1e3 * s.total,
        1.0 / s.total.max(1e-9),
        1e3 * s.decode,
        1e3 * s.detect,
        1e3 * s.align,
        1e3 * s.personalize,
        1e3 * s.invert,
        1e3 * s.edit,
        1e3 * s.paste,
        1e3 * s.encode
    );
    let path = a
        .report
        .clone()
        .unwrap_or_else(|| crate::video::report_path(&a.out));
    crate::safe_write::write_atomically(&path, serde_json::to_string_pretty(&report)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("report → {}", path.display());
    Ok(())
}
