//! How well edits of inverted faces carry out the true edit, on generated faces where it is
//! known: for x = G(w) and a direction d, the encoder's inversion of x edited by Eq. 1 should
//! equal G(w + α·d). The measure of `training/editability.py`, in the app's own pipeline
//! (8-bit faces, the editor's Eq. 1 path).

use super::Workspace;
use crate::edit::feature_edit::edited_image;
use crate::edit::inversion;
use crate::imaging::tensor_to_rgb_images;
use crate::metrics::{mse, psnr_from_mse};

/// One direction at one amount, averaged over the faces.
#[derive(Debug, Clone)]
pub struct Editability {
    pub direction: String,
    pub amount: f32,
    /// ‖edited inversion − inversion‖ / ‖G(w + α·d) − G(w)‖: 1 = the edit is carried out in
    /// full; a feature code that holds too much mutes edits below 1.
    pub strength: f64,
    /// PSNR (dB) of the edited inversion against the true edit.
    pub edit_psnr: f64,
}

/// ‖a − b‖ over all pixels and channels (on [0,1]).
fn distance(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    (mse(a, b) * (a.width() * a.height() * 3) as f64).sqrt()
}

impl Workspace {
    /// Editability of the active direction set at ±`amount` over `faces` generated faces
    /// (seeds 0…faces−1, untruncated, as `training/editability.py` draws them).
    pub fn editability(&self, faces: usize, amount: f32) -> anyhow::Result<Vec<Editability>> {
        let g = self.generator()?;
        let set = self.active_set()?;
        let w = g.seeded_wplus(0, faces.max(1), 1.0);
        let x = tensor_to_rgb_images(g.synthesize(w.clone(), &self.noise, None, &[])?.image);
        let (_, codes) = self.invert_crops(&x)?;
        let recon = tensor_to_rgb_images(inversion::reconstruct(g, &codes, &self.noise)?);
        let mut out = Vec::new();
        for (k, d) in set.directions.iter().enumerate() {
            for alpha in [-amount, amount] {
                let truth_w = set.apply(g, w.clone(), &[(k, alpha)])?;
                let truth =
                    tensor_to_rgb_images(g.synthesize(truth_w, &self.noise, None, &[])?.image);
                let edited_w = set.apply(g, codes.wplus.clone(), &[(k, alpha)])?;
                let edited = tensor_to_rgb_images(edited_image(g, &codes, edited_w, &self.noise)?);
                let n = x.len() as f64;
                let (mut strength, mut psnr) = (0.0, 0.0);
                for i in 0..x.len() {
                    let true_change = distance(&truth[i], &x[i]).max(1e-12);
                    strength += distance(&edited[i], &recon[i]) / true_change / n;
                    psnr += psnr_from_mse(mse(&edited[i], &truth[i])) / n;
                }
                out.push(Editability {
                    direction: d.info.name.clone(),
                    amount: alpha,
                    strength,
                    edit_psnr: psnr,
                });
            }
        }
        Ok(out)
    }
}
