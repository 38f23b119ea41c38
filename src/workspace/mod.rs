//! What a user has open — the models and the photos with their edits — and one method per
//! user action. The CLI subcommands and the editor's engine are thin front ends over this:
//! every pipeline (framing, inversion, edits, mixing, paste-back, personalization, export,
//! sessions) is written here once.

pub mod delta;
pub mod directions_job;
mod editability;
pub mod export_job;
mod models;
pub mod personalize;
pub mod photo;
mod seed_face;
pub mod session;
pub mod video_job;

use std::path::Path;

use anyhow::{Context, bail};
use burn::tensor::Tensor;

use crate::device::ComputeDevice;
use crate::edit::{Codes, feature_edit, inversion, mixing};
use crate::face::{FaceDetector, Framing, paste_back};
use crate::imaging::{grid, load_photo, rgb_images_to_tensor, tensor_to_rgb_images};
use crate::metrics::{Quality, quality};
use crate::model::encoder::FeatureStyleEncoder;
use crate::model::{Generator, NoiseMode};
use crate::model_source::ModelOrigin;

pub use directions_job::{
    ComputedDirections, DirectionMethod, DirectionsJob, FaceSource, InterFaceGanSettings,
};
pub use editability::Editability;
pub use export_job::ExportJob;
pub use models::{ActiveDirections, LoadedEncoder, LoadedGenerator};
pub use personalize::{PersonalizeSettings, PivotSource, TuningJob, TuningOutcome};
pub use photo::{FaceChoice, OpenPhoto, Personalization, PhotoId};
pub use seed_face::{SeedFace, SeedMix};
pub use video_job::{VideoJob, VideoMix, VideoProgress, VideoReport, VideoSettings, VideoStage};

/// The photo, its reconstruction and how close they are.
pub struct Reconstruction {
    pub target: image::RgbImage,
    pub image: image::RgbImage,
    pub quality: Quality,
}

/// A mixing result that can become an editable face.
#[derive(Debug, Clone, PartialEq)]
pub enum MixPane {
    /// G(w_B, F_A)
    LatentBFeatureA,
    /// G(w_A, F_B)
    LatentAFeatureB,
    /// A with B's w+ entries `layers`.
    StyleMix(std::ops::Range<usize>),
}

/// What a sweep clip moves.
#[derive(Debug, Clone, PartialEq)]
pub enum Sweep {
    /// Slider `index` from `range.0` to `range.1`.
    Slider { index: usize, range: (f32, f32) },
    /// From this face to face `with`: the whole codes, or the w+ entries `layers`.
    Mix {
        with: PhotoId,
        layers: Option<std::ops::Range<usize>>,
    },
}

/// The four panes of FSE Fig. 7 for photos A and B.
pub struct MixPanes {
    /// G(w_A, F_A)
    pub a: image::RgbImage,
    /// G(w_B, F_A): B's latent with A's features.
    pub latent_b_feature_a: image::RgbImage,
    /// G(w_A, F_B)
    pub latent_a_feature_b: image::RgbImage,
    /// G(w_B, F_B)
    pub b: image::RgbImage,
}

impl MixPanes {
    /// A | G(w_B, F_A) | G(w_A, F_B) | B in one row.
    pub fn row(&self) -> image::RgbImage {
        grid(
            &[
                self.a.clone(),
                self.latent_b_feature_a.clone(),
                self.latent_a_feature_b.clone(),
                self.b.clone(),
            ],
            4,
        )
    }
}

pub struct Workspace {
    pub device: ComputeDevice,
    generator: Option<LoadedGenerator>,
    encoder: Result<LoadedEncoder, String>,
    directions: Option<ActiveDirections>,
    detector: Option<FaceDetector>,
    photos: Vec<OpenPhoto>,
    next_id: u64,
    /// The noise every pane is drawn with (the generator's stored maps unless a front end
    /// asks otherwise, e.g. the CLI's `--noise`).
    pub noise: NoiseMode,
}

impl Workspace {
    /// An empty workspace on `device`: no models, no photos.
    pub fn new(device: ComputeDevice) -> Self {
        Self {
            device,
            generator: None,
            encoder: Err("no generator is loaded".into()),
            directions: None,
            detector: None,
            photos: Vec::new(),
            next_id: 0,
            noise: NoiseMode::Stored,
        }
    }

    pub fn burn_device(&self) -> &burn::tensor::Device {
        &self.device.device
    }

    /// The base generator (as loaded, never tuned).
    pub fn generator(&self) -> anyhow::Result<&Generator> {
        self.generator
            .as_ref()
            .map(|g| &g.generator)
            .context("no generator is loaded")
    }

    pub fn generator_origin(&self) -> Option<&ModelOrigin> {
        self.generator.as_ref().map(|g| &g.origin)
    }

    pub fn encoder(&self) -> anyhow::Result<&FeatureStyleEncoder> {
        self.encoder
            .as_ref()
            .map(|e| &e.encoder)
            .map_err(|e| anyhow::anyhow!("cannot invert photos: {e}"))
    }

    pub fn encoder_origin(&self) -> Option<&ModelOrigin> {
        self.encoder.as_ref().ok().map(|e| &e.origin)
    }

    pub fn directions(&self) -> Option<&ActiveDirections> {
        self.directions.as_ref()
    }

    pub fn photos(&self) -> &[OpenPhoto] {
        &self.photos
    }

    pub fn photo(&self, id: PhotoId) -> anyhow::Result<&OpenPhoto> {
        self.photos
            .iter()
            .find(|p| p.id == id)
            .context("that photo is not open any more")
    }

    fn photo_mut(&mut self, id: PhotoId) -> anyhow::Result<&mut OpenPhoto> {
        self.photos
            .iter_mut()
            .find(|p| p.id == id)
            .context("that photo is not open any more")
    }

    /// Sliders of the active direction set (0 without one).
    pub fn slider_count(&self) -> usize {
        self.directions
            .as_ref()
            .map_or(0, |d| d.set.directions.len())
    }

    /// The active direction set, or why there is none.
    fn active_set(&self) -> anyhow::Result<&crate::edit::directions::DirectionSet> {
        Ok(&self
            .directions
            .as_ref()
            .context("no directions are loaded")?
            .set)
    }

    /// The generator that draws this photo: its personalized one, else the base.
    pub fn generator_for(&self, id: PhotoId) -> anyhow::Result<&Generator> {
        let photo = self.photo(id)?;
        match &photo.personalization {
            Some(p) => Ok(&p.generator),
            None => self.generator(),
        }
    }

    /// The side photos are framed at (see [`inversion::photo_side`]).
    fn photo_side(&self) -> anyhow::Result<u32> {
        Ok(inversion::photo_side(self.generator()?, self.encoder()?) as u32)
    }

    // ---- photos ---------------------------------------------------------------------------

    /// Opens a photo: face number `face` is framed (`Framing::Auto`: detected and
    /// FFHQ-aligned, else the centre square) and inverted by the encoder.
    pub fn open_photo(
        &mut self,
        path: &Path,
        framing: Framing,
        face: usize,
    ) -> anyhow::Result<PhotoId> {
        let framed = self.frame_photo(path, framing, face)?;
        Ok(self.invert_and_add(vec![framed], framing)?.remove(0))
    }

    /// Opens several photos (the largest face of each), encoding `batch` at a time. Each
    /// photo that cannot be read is an error of its own; the others open.
    pub fn open_photos(
        &mut self,
        paths: &[std::path::PathBuf],
        framing: Framing,
        batch: usize,
    ) -> anyhow::Result<Vec<anyhow::Result<PhotoId>>> {
        let mut results: Vec<anyhow::Result<PhotoId>> = Vec::new();
        let mut framed = Vec::new();
        let mut slots = Vec::new();
        for p in paths {
            match self.frame_photo(p, framing, 0) {
                Ok(f) => {
                    slots.push(results.len());
                    results.push(Err(anyhow::anyhow!("not inverted")));
                    framed.push(f);
                }
                Err(e) => results.push(Err(e.context(p.display().to_string()))),
            }
        }
        let mut ids = Vec::new();
        let mut rest = framed.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<_> = rest.by_ref().take(batch.max(1)).collect();
            ids.extend(self.invert_and_add(chunk, framing)?);
        }
        for (slot, id) in slots.into_iter().zip(ids) {
            results[slot] = Ok(id);
        }
        Ok(results)
    }

    fn frame_photo(
        &self,
        path: &Path,
        framing: Framing,
        face: usize,
    ) -> anyhow::Result<photo::FramedPhoto> {
        let side = self.photo_side()?;
        let detector = match framing {
            Framing::Auto => self.detector.as_ref(),
            Framing::CenterCrop => None,
        };
        photo::read_and_frame(path, side, framing, detector, face)
    }

    /// Encodes framed photos in one batch and opens them.
    fn invert_and_add(
        &mut self,
        framed: Vec<photo::FramedPhoto>,
        framing: Framing,
    ) -> anyhow::Result<Vec<PhotoId>> {
        let crops: Vec<image::RgbImage> = framed.iter().map(|f| f.crop.clone()).collect();
        let (target, codes) = self.invert_crops(&crops)?;
        Ok(framed
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                self.add_photo(OpenPhoto {
                    id: PhotoId(0),
                    path: f.path,
                    digest: f.digest,
                    framing,
                    face: f.face,
                    target: Some(target.clone().narrow(0, i, 1)),
                    codes: codes.select(i),
                    sliders: Vec::new(),
                    personalization: None,
                    residual: Default::default(),
                })
            })
            .collect())
    }

    /// Opens a codes file (from `invert` or an export): its photo is found through the path
    /// and alignment it records, when they are at hand, for paste-back and personalization.
    pub fn open_codes(&mut self, path: &Path) -> anyhow::Result<PhotoId> {
        let g = self.generator()?;
        let codes = Codes::load(path, &g.identity, self.burn_device())?.select(0);
        let recorded = crate::edit::codes::photo_alignment(path)?;
        let (photo_path, aligned) = match recorded {
            Some((p, a)) => (p, Some(a)),
            None => (path.to_path_buf(), None),
        };
        let side = g.config.size as u32;
        let target = match &aligned {
            Some(a) if photo_path.exists() => {
                let crop = photo::reframe(&photo_path, side, Some(a))?.crop;
                Some(rgb_images_to_tensor(&[crop], self.burn_device()))
            }
            _ => None,
        };
        let digest = photo::file_digest(&photo_path).unwrap_or_default();
        Ok(self.add_photo(OpenPhoto {
            id: PhotoId(0),
            path: photo_path,
            digest,
            framing: Framing::Auto,
            face: FaceChoice {
                found: usize::from(aligned.is_some()),
                index: 0,
                aligned: aligned.filter(|_| target.is_some()),
            },
            target,
            codes,
            sliders: Vec::new(),
            personalization: None,
            residual: Default::default(),
        }))
    }

    /// Inverts framed crops (at the photo side) in one batch: (targets at the generator's
    /// side, codes).
    fn invert_crops(&self, crops: &[image::RgbImage]) -> anyhow::Result<(Tensor<4>, Codes)> {
        invert_crops(
            self.generator()?,
            self.encoder()?,
            crops,
            self.burn_device(),
        )
    }

    fn add_photo(&mut self, mut photo: OpenPhoto) -> PhotoId {
        photo.id = PhotoId(self.next_id);
        self.next_id += 1;
        let n = self.slider_count();
        photo.sliders.resize(n, 0.0);
        let id = photo.id;
        self.photos.push(photo);
        id
    }

    /// Opens a face that has no photo file (drawn from a seed, mixed from two photos) with
    /// these codes: it is edited, personalized and exported like a photo; its "photo" is its
    /// own reconstruction.
    pub fn open_generated(&mut self, codes: Codes, name: &str) -> anyhow::Result<PhotoId> {
        let g = self.generator()?;
        let target = inversion::reconstruct(g, &codes, &self.noise)?;
        Ok(self.add_photo(OpenPhoto {
            id: PhotoId(0),
            path: name.into(),
            digest: String::new(),
            framing: Framing::CenterCrop,
            face: FaceChoice {
                found: 0,
                index: 0,
                aligned: None,
            },
            target: Some(target),
            codes,
            sliders: Vec::new(),
            personalization: None,
            residual: Default::default(),
        }))
    }

    /// A mixing pane of photos A and B as a new editable face.
    pub fn open_mix_pane(
        &mut self,
        a: PhotoId,
        b: PhotoId,
        pane: MixPane,
    ) -> anyhow::Result<PhotoId> {
        let (ca, cb) = (self.photo(a)?.codes.clone(), self.photo(b)?.codes.clone());
        let (na, nb) = (self.photo(a)?.name(), self.photo(b)?.name());
        let (codes, name) = match pane {
            MixPane::LatentBFeatureA => (
                Codes {
                    wplus: cb.wplus,
                    ..ca
                },
                format!("w of {nb}, F of {na}"),
            ),
            MixPane::LatentAFeatureB => (
                Codes {
                    wplus: ca.wplus,
                    ..cb
                },
                format!("w of {na}, F of {nb}"),
            ),
            MixPane::StyleMix(layers) => {
                let g = self.generator()?;
                let w = mixing::style_mixed_wplus(g, &ca.wplus, &cb.wplus, layers.clone())?;
                (
                    feature_edit::corrected_codes(g, &ca, w, &self.noise)?,
                    format!("{na} with entries {}..{} of {nb}", layers.start, layers.end),
                )
            }
        };
        self.open_generated(codes, &name)
    }

    /// Closes a photo (its personalization goes with it).
    pub fn close_photo(&mut self, id: PhotoId) -> anyhow::Result<()> {
        let i = self
            .photos
            .iter()
            .position(|p| p.id == id)
            .context("that photo is not open any more")?;
        self.photos.remove(i);
        Ok(())
    }

    /// G(w+, F) of the photo with its generator, beside the photo.
    pub fn reconstruction(&self, id: PhotoId) -> anyhow::Result<Reconstruction> {
        let photo = self.photo(id)?;
        let g = self.generator_for(id)?;
        let recon = inversion::reconstruct(g, photo.active_codes(), &self.noise)?;
        let image = tensor_to_rgb_images(recon).remove(0);
        let target = tensor_to_rgb_images(photo.target()?.clone()).remove(0);
        Ok(Reconstruction {
            quality: quality(&image, &target),
            image,
            target,
        })
    }

    // ---- sliders (Eq. 1) ------------------------------------------------------------------

    /// Sets slider `index` of the photo's active set.
    pub fn set_slider(&mut self, id: PhotoId, index: usize, value: f32) -> anyhow::Result<()> {
        let n = self.slider_count();
        if index >= n {
            bail!("there is no slider {index} (the set has {n})");
        }
        if !value.is_finite() {
            bail!("a slider value must be a finite number");
        }
        self.photo_mut(id)?.sliders[index] = value;
        Ok(())
    }

    /// Sets every slider given as (index, value); the others go back to 0.
    pub fn set_sliders(&mut self, id: PhotoId, values: &[(usize, f32)]) -> anyhow::Result<()> {
        let n = self.slider_count();
        if let Some((i, _)) = values.iter().find(|(i, _)| *i >= n) {
            bail!("there is no slider {i} (the set has {n})");
        }
        let photo = self.photo_mut(id)?;
        photo.sliders = vec![0.0; n];
        for &(i, v) in values {
            photo.sliders[i] = v;
        }
        Ok(())
    }

    /// Sliders given by direction name (`name=value` as typed on the command line).
    pub fn set_sliders_by_name(
        &mut self,
        id: PhotoId,
        values: &[(String, f32)],
    ) -> anyhow::Result<()> {
        let set = self.active_set()?;
        let pairs = values
            .iter()
            .map(|(name, v)| Ok((set.index_of(name)?, *v)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.set_sliders(id, &pairs)
    }

    /// The frames of a sweep: the photo edited with slider `index` at `frames` evenly spaced
    /// values from `from` to `to` (the other sliders as they are; the slider is left as it
    /// was).
    pub fn sweep(
        &mut self,
        id: PhotoId,
        index: usize,
        (from, to): (f32, f32),
        frames: usize,
    ) -> anyhow::Result<Vec<image::RgbImage>> {
        if frames < 2 {
            bail!("a sweep needs at least 2 frames");
        }
        let kept = self.photo(id)?.sliders.get(index).copied().unwrap_or(0.0);
        let mut out = Vec::with_capacity(frames);
        for i in 0..frames {
            let value = from + (to - from) * i as f32 / (frames - 1) as f32;
            if let Err(e) = self.set_slider(id, index, value) {
                self.set_slider(id, index, kept).ok();
                return Err(e);
            }
            out.push(self.edited(id)?);
        }
        self.set_slider(id, index, kept)?;
        Ok(out)
    }

    /// The edited face: G(w̃, F̃) with the photo's generator, in one synthesis (Eq. 1's
    /// residual F − G^K(w) is kept per face).
    pub fn edited(&self, id: PhotoId) -> anyhow::Result<image::RgbImage> {
        self.edited_at(id, None)
    }

    /// [`Workspace::edited`] at `preview_side` pixels at most (a preview while a slider is
    /// dragged on a large model), or full size.
    pub fn edited_at(
        &self,
        id: PhotoId,
        preview_side: Option<usize>,
    ) -> anyhow::Result<image::RgbImage> {
        let photo = self.photo(id)?;
        let g = self.generator_for(id)?;
        let codes = photo.active_codes();
        let sliders = photo.slider_pairs();
        let img = if sliders.is_empty() {
            inversion::reconstruct(g, codes, &self.noise)?
        } else {
            let w = self.active_set()?.apply(g, codes.wplus.clone(), &sliders)?;
            let residual = photo.active_residual(g, &self.noise)?;
            feature_edit::edited_image_with_residual(
                g,
                w,
                residual,
                codes.k,
                &self.noise,
                preview_side,
            )?
        };
        Ok(tensor_to_rgb_images(img).remove(0))
    }

    /// The whole photo with `face` (the photo's aligned crop as edited) pasted back.
    pub fn paste_into_photo(
        &self,
        id: PhotoId,
        face: &image::RgbImage,
    ) -> anyhow::Result<image::RgbImage> {
        let photo = self.photo(id)?;
        let aligned = photo.face.aligned.as_ref().with_context(|| {
            format!(
                "no face was aligned in {}: export the crop instead",
                photo.name()
            )
        })?;
        let original = load_photo(&photo.path)?;
        Ok(paste_back(&original, face, &aligned.quad))
    }

    // ---- mixing ---------------------------------------------------------------------------

    /// Feature/latent mixing (FSE Fig. 7) of two photos' encoder codes on the base generator.
    pub fn mix(&self, a: PhotoId, b: PhotoId) -> anyhow::Result<MixPanes> {
        let (ca, cb) = (&self.photo(a)?.codes, &self.photo(b)?.codes);
        let m = mixing::mix(self.generator()?, ca, cb, &self.noise)?;
        let one = |t| tensor_to_rgb_images(t).remove(0);
        Ok(MixPanes {
            a: one(m.recon_a),
            latent_b_feature_a: one(m.latent_b_feature_a),
            latent_a_feature_b: one(m.latent_a_feature_b),
            b: one(m.recon_b),
        })
    }

    /// Style mixing: w+ entries `layers` of B into A (A's F follows by Eq. 1), base generator.
    pub fn style_mix(
        &self,
        a: PhotoId,
        b: PhotoId,
        layers: std::ops::Range<usize>,
    ) -> anyhow::Result<image::RgbImage> {
        let (ca, cb) = (&self.photo(a)?.codes, &self.photo(b)?.codes);
        let img = mixing::style_mix(self.generator()?, ca, cb, layers, &self.noise)?;
        Ok(tensor_to_rgb_images(img).remove(0))
    }

    // ---- random faces ---------------------------------------------------------------------

    /// Faces drawn from seeds `seed … seed+count−1` at truncation ψ.
    pub fn render_seeds(
        &self,
        seed: u64,
        count: usize,
        truncation: f32,
    ) -> anyhow::Result<Vec<image::RgbImage>> {
        if count == 0 {
            bail!("ask for at least one face");
        }
        let g = self.generator()?;
        let out = g.synthesize(
            g.seeded_wplus(seed, count, truncation),
            &self.noise,
            None,
            &[],
        )?;
        Ok(tensor_to_rgb_images(out.image))
    }

    // ---- personalization ------------------------------------------------------------------

    /// Goes back to the base generator for this photo (and the photos tuned with it).
    pub fn revert(&mut self, id: PhotoId) -> anyhow::Result<bool> {
        Ok(!self.take_personalization(id)?.is_empty())
    }

    /// Reverts like [`Workspace::revert`] and hands over what it took: the personalization of
    /// this photo and of the open photos tuned with it (empty when it is not personalized),
    /// which [`Workspace::restore_personalization`] puts back.
    pub fn take_personalization(
        &mut self,
        id: PhotoId,
    ) -> anyhow::Result<Vec<(PhotoId, Personalization)>> {
        let tuned_with = match &self.photo(id)?.personalization {
            Some(p) => p.tuned_with.clone(),
            None => return Ok(Vec::new()),
        };
        Ok(self
            .photos
            .iter_mut()
            .filter(|p| tuned_with.contains(&p.id))
            .filter_map(|p| Some((p.id, p.personalization.take()?)))
            .collect())
    }

    /// Puts personalizations taken by [`Workspace::take_personalization`] back (undo of a
    /// revert); refused, changing nothing, when one of their photos was closed since.
    pub fn restore_personalization(
        &mut self,
        kept: Vec<(PhotoId, Personalization)>,
    ) -> anyhow::Result<()> {
        if kept.iter().any(|(id, _)| self.photo(*id).is_err()) {
            bail!("a photo of that personalization was closed since");
        }
        for (id, p) in kept {
            self.photo_mut(id)?.personalization = Some(p);
        }
        Ok(())
    }

    // ---- export ---------------------------------------------------------------------------

    /// Writes the edited crop (atomically; the overwrite policy of `safe_write` applies).
    pub fn export_edited(&self, id: PhotoId, path: &Path) -> anyhow::Result<()> {
        save_png(&self.edited(id)?, path)
    }

    /// Writes the whole photo with the edited face pasted back.
    pub fn export_full(&self, id: PhotoId, path: &Path) -> anyhow::Result<()> {
        let full = self.paste_into_photo(id, &self.edited(id)?)?;
        save_png(&full, path)
    }

    /// The frames of a mix moving from this photo's face to `other`'s on the base generator:
    /// `layers` None blends the whole codes (w+ and F), Some blends those w+ entries only (F
    /// follows by Eq. 1, as in a layer-range mix).
    pub fn mix_sweep(
        &self,
        id: PhotoId,
        other: PhotoId,
        layers: Option<std::ops::Range<usize>>,
        frames: usize,
    ) -> anyhow::Result<Vec<image::RgbImage>> {
        if frames < 2 {
            bail!("a sweep needs at least 2 frames");
        }
        let g = self.generator()?;
        let (a, b) = (&self.photo(id)?.codes, &self.photo(other)?.codes);
        if a.k != b.k {
            bail!("the two faces' codes are injected at different layers");
        }
        let residual = match &layers {
            Some(_) => Some(feature_edit::feature_residual(g, a, &self.noise)?),
            None => None,
        };
        let mut out = Vec::with_capacity(frames);
        for i in 0..frames {
            let t = i as f32 / (frames - 1) as f32;
            let img = match (&layers, &residual) {
                (Some(layers), Some(r)) => {
                    let w = mixing::blended_wplus(g, &a.wplus, &b.wplus, layers.clone(), t)?;
                    feature_edit::edited_image_with_residual(
                        g,
                        w,
                        r.clone(),
                        a.k,
                        &self.noise,
                        None,
                    )?
                }
                _ => {
                    let blend = Codes {
                        wplus: a.wplus.clone() * (1.0 - t) + b.wplus.clone() * t,
                        feature: a.feature.clone() * (1.0 - t) + b.feature.clone() * t,
                        k: a.k,
                    };
                    inversion::reconstruct(g, &blend, &self.noise)?
                }
            };
            out.push(tensor_to_rgb_images(img).remove(0));
        }
        Ok(out)
    }

    /// Writes a sweep clip of the photo — a slider moving or a mix toward another face —
    /// forward and back so it loops, `frame_ms` a frame, in the format the path names (GIF,
    /// MP4, WebP, a folder of frames); with `whole_photo`, each frame is the photo with the
    /// face pasted back. Returns how many frames it holds.
    pub fn export_sweep(
        &mut self,
        id: PhotoId,
        sweep: Sweep,
        (frames, frame_ms): (usize, u32),
        whole_photo: bool,
        path: &Path,
    ) -> anyhow::Result<usize> {
        if crate::video::ClipFormat::of(path)? != crate::video::ClipFormat::Frames {
            crate::safe_write::check_target(path).with_context(|| format!("{}", path.display()))?;
        }
        let faces = match sweep {
            Sweep::Slider { index, range } => self.sweep(id, index, range, frames)?,
            Sweep::Mix { with, layers } => self.mix_sweep(id, with, layers, frames)?,
        };
        let back = faces
            .iter()
            .rev()
            .skip(1)
            .take(faces.len().saturating_sub(2));
        let mut looped: Vec<image::RgbImage> = faces.iter().chain(back).cloned().collect();
        if whole_photo {
            looped = looped
                .iter()
                .map(|f| self.paste_into_photo(id, f))
                .collect::<anyhow::Result<_>>()?;
        }
        let n = looped.len();
        crate::video::write_clip(
            path,
            &crate::video::Clip {
                frames: looped,
                fps: 1000.0 / frame_ms.max(1) as f32,
            },
        )?;
        Ok(n)
    }

    /// The slider range of direction `index` of the active set.
    pub fn slider_range(&self, index: usize) -> anyhow::Result<(f32, f32)> {
        let set = self.active_set()?;
        set.directions
            .get(index)
            .map(|d| d.info.range)
            .with_context(|| format!("there is no slider {index}"))
    }

    /// Writes the photo's codes (with its path and alignment, for paste-back from any folder).
    pub fn export_codes(&self, id: PhotoId, path: &Path) -> anyhow::Result<()> {
        use crate::edit::codes::{ALIGNMENT_KEY, PHOTO_KEY};
        let photo = self.photo(id)?;
        let mut meta = vec![(PHOTO_KEY, photo.path.display().to_string())];
        if let Some(al) = &photo.face.aligned {
            meta.push((ALIGNMENT_KEY, serde_json::to_string(al)?));
        }
        photo
            .active_codes()
            .save_with(path, &self.generator()?.identity, &meta)?;
        Ok(())
    }
}

/// Inverts framed crops (at the photo side) in one batch: (targets at the generator's side,
/// codes).
fn invert_crops(
    g: &Generator,
    e: &FeatureStyleEncoder,
    crops: &[image::RgbImage],
    device: &burn::tensor::Device,
) -> anyhow::Result<(Tensor<4>, Codes)> {
    let (input, target) = inversion::split_framed(g, e, rgb_images_to_tensor(crops, device));
    Ok((target, inversion::encode(g, e, input)?))
}

/// Encodes `img` as its extension says and writes it atomically, naming the file on failure.
pub fn save_png(img: &image::RgbImage, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::safe_write::save_image(img, path).with_context(|| format!("writing {}", path.display()))
}
