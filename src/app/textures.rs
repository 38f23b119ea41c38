//! GPU textures of the frames on screen, made again only when a frame changes.

use std::collections::HashMap;

use egui::{TextureHandle, TextureOptions};

use crate::engine::Frame;

#[derive(Default)]
pub struct Textures {
    /// name → (the key of the frame it shows, the texture)
    cache: HashMap<String, (u64, TextureHandle)>,
}

impl Textures {
    /// The texture `name` showing `frame`; `key` says which version of it (a frame id or a
    /// serial), so an unchanged frame is not uploaded again.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        key: u64,
        frame: &Frame,
    ) -> TextureHandle {
        if let Some((k, t)) = self.cache.get(name)
            && *k == key
        {
            return t.clone();
        }
        let img =
            egui::ColorImage::from_rgba_unmultiplied([frame.width, frame.height], &frame.rgba);
        let t = ctx.load_texture(name, img, TextureOptions::LINEAR);
        self.cache.insert(name.to_string(), (key, t.clone()));
        t
    }

    /// Forgets textures whose name starts with `prefix` (a closed photo's).
    pub fn forget(&mut self, prefix: &str) {
        self.cache.retain(|k, _| !k.starts_with(prefix));
    }
}

/// An image scaled to fit a square of `side` points.
pub fn square(texture: &TextureHandle, side: f32) -> egui::Image<'static> {
    egui::Image::new((texture.id(), egui::vec2(side, side)))
        .fit_to_exact_size(egui::vec2(side, side))
}
