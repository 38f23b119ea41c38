//! Animated GIF and WebP clips. Both are decoded by the `image` crate; GIF is encoded by it
//! too, and animated WebP is assembled here from lossless frames (`image` writes still WebP
//! only): a VP8X header with the animation flag, an ANIM chunk, and one ANMF chunk per frame.

use std::io::Cursor;

use anyhow::{Context, bail};
use image::{AnimationDecoder, Delay, DynamicImage, Frame, ImageDecoder, RgbImage};

use super::{Clip, check_decoded_size};

fn collect<'a>(frames: image::Frames<'a>, limit: usize) -> anyhow::Result<Clip> {
    let mut out = Vec::new();
    let mut total_ms = 0f64;
    for frame in frames.take(limit) {
        let frame = frame.context("a frame cannot be decoded")?;
        let (num, den) = frame.delay().numer_denom_ms();
        total_ms += num as f64 / den.max(1) as f64;
        let rgba = frame.into_buffer();
        check_decoded_size(out.len() + 1, rgba.width(), rgba.height())?;
        out.push(DynamicImage::ImageRgba8(rgba).to_rgb8());
    }
    let mean_ms = total_ms / out.len().max(1) as f64;
    Ok(Clip {
        fps: if mean_ms >= 1.0 {
            (1000.0 / mean_ms) as f32
        } else {
            super::DEFAULT_FPS
        },
        frames: out,
    })
}

/// The decoders allocate a canvas of the size the header claims: it is checked first, and
/// `image`'s default allocation limits apply.
fn guard(d: &mut impl ImageDecoder) -> anyhow::Result<()> {
    let (w, h) = d.dimensions();
    check_decoded_size(1, w, h)?;
    d.set_limits(image::Limits::default())?;
    Ok(())
}

pub fn decode_gif(bytes: &[u8], limit: usize) -> anyhow::Result<Clip> {
    let mut d =
        image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).context("not a readable GIF")?;
    guard(&mut d)?;
    collect(d.into_frames(), limit)
}

pub fn decode_webp(bytes: &[u8], limit: usize) -> anyhow::Result<Clip> {
    let mut d =
        image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).context("not a readable WebP")?;
    guard(&mut d)?;
    if !d.has_animation() {
        let img = DynamicImage::from_decoder(d).context("not a readable WebP")?;
        return Ok(Clip {
            frames: vec![img.to_rgb8()],
            fps: super::DEFAULT_FPS,
        });
    }
    collect(d.into_frames(), limit)
}

fn frame_ms(fps: f32) -> u32 {
    (1000.0 / fps.max(0.1)).round().clamp(1.0, 60_000.0) as u32
}

/// A looping GIF (256 colours per frame).
pub fn encode_gif(clip: &Clip) -> anyhow::Result<Vec<u8>> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let ms = frame_ms(clip.fps);
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite)?;
        for f in &clip.frames {
            let rgba = DynamicImage::ImageRgb8(f.clone()).to_rgba8();
            encoder.encode_frame(Frame::from_parts(
                rgba,
                0,
                0,
                Delay::from_numer_denom_ms(ms, 1),
            ))?;
        }
    }
    Ok(bytes)
}

fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes()[..3]);
}

fn put_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], payload: &[u8]) {
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    if payload.len() % 2 == 1 {
        out.push(0);
    }
}

/// The VP8L chunk (header included) of a still lossless WebP file.
fn lossless_chunk(img: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut file = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut file).encode(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    // RIFF <size> WEBP, then chunks: fourcc, little-endian size, payload padded to even.
    let mut at = 12;
    while at + 8 <= file.len() {
        let size = u32::from_le_bytes(file[at + 4..at + 8].try_into()?) as usize;
        let end = (at + 8 + size + size % 2).min(file.len());
        if &file[at..at + 4] == b"VP8L" {
            return Ok(file[at..end].to_vec());
        }
        at = end;
    }
    bail!("the WebP encoder wrote no lossless frame")
}

/// A looping animated WebP of lossless frames.
pub fn encode_webp(clip: &Clip) -> anyhow::Result<Vec<u8>> {
    let (w, h) = clip.size();
    if w == 0 || h == 0 || w > 1 << 14 || h > 1 << 14 {
        bail!("WebP frames must be 1 to 16384 pixels wide and high ({w}×{h} given)");
    }
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![0x02, 0, 0, 0]; // flags: animation
    put_u24(&mut vp8x, w - 1);
    put_u24(&mut vp8x, h - 1);
    put_chunk(&mut body, b"VP8X", &vp8x);
    // background colour (BGRA) and loop count 0 = forever
    put_chunk(&mut body, b"ANIM", &[0, 0, 0, 255, 0, 0]);
    let ms = frame_ms(clip.fps);
    for f in &clip.frames {
        let mut anmf = Vec::new();
        put_u24(&mut anmf, 0); // x / 2
        put_u24(&mut anmf, 0); // y / 2
        put_u24(&mut anmf, w - 1);
        put_u24(&mut anmf, h - 1);
        put_u24(&mut anmf, ms);
        anmf.push(0x02); // no blending, no disposal: each frame covers the canvas
        anmf.extend(lossless_chunk(f)?);
        put_chunk(&mut body, b"ANMF", &anmf);
    }
    let size = u32::try_from(body.len())
        .ok()
        .filter(|s| *s < u32::MAX - 1)
        .context("the clip is too long for one WebP file (4 GiB): write MP4 or fewer frames")?;
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&size.to_le_bytes());
    out.extend(body);
    Ok(out)
}
