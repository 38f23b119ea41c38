//! The headless command line: every GUI action as a subcommand.

mod align;
mod bench;
mod bench_all;
mod common;
mod convert;
mod directions;
mod edit;
mod eval;
mod evaluate;
mod invert;
mod lpips;
mod mix;
mod personalize;
mod render;
mod session;
mod video;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::device::DeviceChoice;

#[derive(Parser, Debug)]
#[command(
    name = "facestyle",
    version,
    about = "Face editor: Feature-Style encoder inversion, semantic edits and pivotal tuning on StyleGAN2"
)]
pub struct Cli {
    /// Compute backend: auto (GPU if a hardware adapter exists, else CPU), gpu, cpu.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, global = true)]
    pub device: DeviceChoice,
    /// Replace output files that exist already (without it, an existing output is an error).
    #[arg(long, global = true)]
    pub force: bool,
    /// Photos, or session files (`.facestyle`), to open in the editor (when no subcommand is given).
    pub photos: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render images from seeds or from a latents file (w+ or z), with feature tap/injection.
    Render(render::RenderArgs),
    /// Detect the face and FFHQ-align photos (crops + landmarks JSON).
    Align(align::AlignArgs),
    /// Invert photos with the Feature-Style encoder: codes + reconstruction + PSNR/SSIM/MSE.
    Invert(invert::InvertArgs),
    /// Mix two faces' latent and feature codes: G(w_B, F_A) and G(w_A, F_B).
    Mix(mix::MixArgs),
    /// Compute, import and list semantic directions.
    Directions(directions::DirectionsArgs),
    /// Apply slider values to a face's codes (Eq. 1 keeps the feature code consistent).
    Edit(edit::EditArgs),
    /// Personalize: pivotal tuning of the generator to one photo (or several together).
    Personalize(personalize::PersonalizeArgs),
    /// LPIPS distance between two images (needs trunk and head weights).
    Lpips(lpips::LpipsArgs),
    /// Convert a PyTorch checkpoint (.pt/.pth) to safetensors without running Python.
    Convert(convert::ConvertArgs),
    /// Quality figures: identity-space Fréchet distance, identity kept by edits.
    Evaluate(evaluate::EvaluateArgs),
    /// Inversion and editing report of a folder of photos (FSE Table 1's figures per method).
    Eval(eval::EvalArgs),
    /// Session files: every open photo with its codes, sliders and personalization.
    Session(session::SessionArgs),
    /// Edit a video frame by frame: steady face crops, encoder inversion, the same edit on
    /// every frame, pasted back (MP4, GIF, WebP or a folder of frames).
    Video(video::VideoArgs),
    /// Print timing figures.
    Bench(bench::BenchArgs),
}

/// Runs a subcommand; the error is printed by `main` as one line.
pub fn run(command: Command, device: DeviceChoice) -> anyhow::Result<()> {
    match command {
        Command::Render(a) => render::run(a, device),
        Command::Align(a) => align::run(a, device),
        Command::Invert(a) => invert::run(a, device),
        Command::Mix(a) => mix::run(a, device),
        Command::Lpips(a) => lpips::run(a, device),
        Command::Personalize(a) => personalize::run(a, device),
        Command::Directions(a) => directions::run(a, device),
        Command::Edit(a) => edit::run(a, device),
        Command::Convert(a) => convert::run(a),
        Command::Evaluate(a) => evaluate::run(a, device),
        Command::Eval(a) => eval::run(a, device),
        Command::Bench(a) => bench::run(a, device),
        Command::Session(a) => session::run(a, device),
        Command::Video(a) => video::run(a, device),
    }
}
