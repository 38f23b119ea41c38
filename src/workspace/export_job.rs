//! "Export all edits": every open photo's edited face and, for aligned faces, the whole photo
//! with it pasted back, written into a folder as a job (progress, cancel) that works on copies,
//! so the workspace stays usable. Existing files are never replaced: a taken name gets `-2`, `-3` ….

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Tensor;

use super::Workspace;
use crate::edit::{Codes, feature_edit, inversion};
use crate::face::{Quad, paste_back};
use crate::imaging::{load_photo, tensor_to_rgb_images};
use crate::model::{Generator, NoiseMode};
use crate::pti::CancelToken;

struct ExportItem {
    stem: String,
    generator: Arc<Generator>,
    codes: Codes,
    /// w̃ when a slider is set (else the codes are drawn as they are).
    edited_wplus: Option<Tensor<3>>,
    /// Eq. 1's residual F − G^K(w) when the editor has computed it already.
    residual: Option<Tensor<4>>,
    photo: PathBuf,
    quad: Option<Quad>,
}

pub struct ExportJob {
    dir: PathBuf,
    items: Vec<ExportItem>,
    noise: NoiseMode,
}

impl Workspace {
    pub fn prepare_export_all(&self, dir: &Path) -> anyhow::Result<ExportJob> {
        anyhow::ensure!(!self.photos.is_empty(), "no photos are open");
        let base = Arc::new(self.generator()?.clone());
        let mut items = Vec::new();
        for p in &self.photos {
            let generator = match &p.personalization {
                Some(pers) => pers.generator.clone(),
                None => base.clone(),
            };
            let codes = p.active_codes().clone();
            let sliders = p.slider_pairs();
            let edited_wplus = match (&self.directions, sliders.is_empty()) {
                (Some(d), false) => Some(d.set.apply(&generator, codes.wplus.clone(), &sliders)?),
                _ => None,
            };
            items.push(ExportItem {
                stem: p.stem(),
                generator,
                codes,
                edited_wplus,
                residual: p.cached_residual(),
                photo: p.path.clone(),
                quad: p.face.aligned.as_ref().map(|a| a.quad),
            });
        }
        Ok(ExportJob {
            dir: dir.to_path_buf(),
            items,
            noise: self.noise.clone(),
        })
    }
}

impl ExportJob {
    /// Writes the files; returns their paths. `on_progress` sees (photos done, photos).
    pub fn run(
        self,
        cancel: &CancelToken,
        mut on_progress: impl FnMut(usize, usize),
    ) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", self.dir.display()))?;
        let mut written = Vec::new();
        let n = self.items.len();
        for (i, item) in self.items.into_iter().enumerate() {
            if cancel.is_cancelled() {
                anyhow::bail!("export cancelled after {i} of {n} photos");
            }
            let g = &item.generator;
            let img = match item.edited_wplus {
                Some(w) => {
                    let residual = match item.residual {
                        Some(r) => r,
                        None => feature_edit::feature_residual(g, &item.codes, &self.noise)?,
                    };
                    let k = item.codes.k;
                    feature_edit::edited_image_with_residual(g, w, residual, k, &self.noise, None)?
                }
                None => inversion::reconstruct(g, &item.codes, &self.noise)?,
            };
            let face = tensor_to_rgb_images(img).remove(0);
            let crop = free_name(&self.dir, &format!("{}_edited", item.stem));
            super::save_png(&face, &crop)?;
            written.push(crop);
            if let Some(quad) = item.quad {
                let full = paste_back(&load_photo(&item.photo)?, &face, &quad);
                let path = free_name(&self.dir, &format!("{}_edited_full", item.stem));
                super::save_png(&full, &path)?;
                written.push(path);
            }
            on_progress(i + 1, n);
        }
        Ok(written)
    }
}

/// `dir/stem.png`, or `stem-2.png`, `stem-3.png` … when taken.
fn free_name(dir: &Path, stem: &str) -> PathBuf {
    (1..)
        .map(|k| match k {
            1 => dir.join(format!("{stem}.png")),
            k => dir.join(format!("{stem}-{k}.png")),
        })
        .find(|p| !p.exists())
        .expect("some name is free")
}
