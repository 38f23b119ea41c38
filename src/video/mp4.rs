//! MP4 with H.264 video, both ways, with no system library: OpenH264 (compiled from source by
//! cargo) turns frames into NAL units and back, the `mp4` crate reads and writes the container.
//! MP4 stores each NAL unit behind its length and keeps the parameter sets (SPS, PPS) in the
//! track header; OpenH264 speaks Annex B (start codes, parameter sets in the stream), so both
//! directions convert.

use std::io::Cursor;

use anyhow::{Context, anyhow, bail};
use image::RgbImage;
use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, QpRange, RateControlMode};
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};

use super::{Clip, check_decoded_size};

const START_CODE: [u8; 4] = [0, 0, 0, 1];
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_IDR: u8 = 5;

fn rgb_of(yuv: &openh264::decoder::DecodedYUV<'_>) -> RgbImage {
    let (w, h) = yuv.dimensions();
    let mut rgb = vec![0u8; w * h * 3];
    yuv.write_rgb8(&mut rgb);
    RgbImage::from_raw(w as u32, h as u32, rgb).expect("w·h·3 bytes")
}

/// Decodes the first H.264 track (at most `limit` frames).
pub fn decode(bytes: &[u8], limit: usize) -> anyhow::Result<Clip> {
    let mut reader = ::mp4::Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64)
        .map_err(|e| anyhow!("not a readable MP4 ({e})"))?;
    let track = reader
        .tracks()
        .values()
        .find(|t| matches!(t.media_type(), Ok(::mp4::MediaType::H264)))
        .context(
            "the MP4 has no H.264 video track: convert it to H.264, a GIF or a folder of frames",
        )?;
    let id = track.track_id();
    let samples = track.sample_count();
    // samples per second from the media header directly (the crate's own duration divides
    // by a timescale a damaged file may give as 0)
    let (ticks, timescale) = (
        track.trak.mdia.mdhd.duration as f64,
        track.trak.mdia.mdhd.timescale as f64,
    );
    let fps = (samples as f64 * timescale / ticks) as f32;
    let fps = if fps.is_finite() && fps > 0.0 {
        fps
    } else {
        super::DEFAULT_FPS
    };
    check_decoded_size(
        (samples as usize).min(limit),
        track.width() as u32,
        track.height() as u32,
    )?;
    let avcc = &track
        .trak
        .mdia
        .minf
        .stbl
        .stsd
        .avc1
        .as_ref()
        .context("the H.264 track has no avc1 description")?
        .avcc;
    let length_size = (avcc.length_size_minus_one & 3) as usize + 1;
    let mut parameter_sets = Vec::new();
    for nal in avcc
        .sequence_parameter_sets
        .iter()
        .chain(&avcc.picture_parameter_sets)
    {
        parameter_sets.extend_from_slice(&START_CODE);
        parameter_sets.extend_from_slice(&nal.bytes);
    }
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| anyhow!("the H.264 decoder did not start ({e})"))?;
    let mut frames = Vec::new();
    let mut first_error = None;
    let mut packet = Vec::new();
    for i in 1..=samples {
        if frames.len() >= limit {
            break;
        }
        let Some(sample) = reader
            .read_sample(id, i)
            .map_err(|e| anyhow!("sample {i} cannot be read ({e})"))?
        else {
            continue;
        };
        packet.clear();
        if i == 1 || sample.is_sync {
            packet.extend_from_slice(&parameter_sets);
        }
        let mut rest: &[u8] = &sample.bytes;
        while rest.len() >= length_size {
            let n = rest[..length_size]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            rest = &rest[length_size..];
            if n > rest.len() {
                bail!("sample {i} is truncated");
            }
            packet.extend_from_slice(&START_CODE);
            packet.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        match decoder.decode(&packet) {
            Ok(Some(yuv)) => {
                let frame = rgb_of(&yuv);
                if frames.is_empty() {
                    // the stream's own size, not the container's claim
                    check_decoded_size(
                        (samples as usize).min(limit),
                        frame.width(),
                        frame.height(),
                    )?;
                }
                frames.push(frame);
            }
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(format!("sample {i}: {e}"));
            }
        }
    }
    if frames.len() < limit {
        let rest = decoder
            .flush_remaining()
            .map_err(|e| anyhow!("the H.264 decoder failed at the end ({e})"))?;
        frames.extend(rest.iter().map(rgb_of).take(limit - frames.len()));
    }
    if frames.is_empty() {
        bail!(
            "no frame could be decoded ({})",
            first_error.unwrap_or_else(|| "the track is empty".into())
        );
    }
    Ok(Clip { frames, fps })
}

/// The NAL units of an Annex B stream (without their start codes).
fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let mut end = starts.get(k + 1).map_or(stream.len(), |&n| n - 3);
            // a 4-byte start code leaves its leading zero at the end of the previous unit
            while end > s && stream[end - 1] == 0 && k + 1 < starts.len() {
                end -= 1;
            }
            &stream[s..end]
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// Encodes the clip as H.264 in an MP4 (frames of odd width or height lose their last column
/// or row: H.264's 4:2:0 needs even sides).
pub fn encode(clip: &Clip) -> anyhow::Result<Vec<u8>> {
    let (w, h) = clip.size();
    let (w, h) = (w & !1, h & !1);
    if w < 16 || h < 16 || w > 8192 || h > 8192 {
        bail!("MP4 frames must be 16 to 8192 pixels wide and high ({w}×{h} given)");
    }
    let fps = clip.fps.clamp(0.01, 240.0);
    // about 0.3 bit per pixel: faces stay sharp at the model's sizes
    let bitrate = ((w * h) as f32 * fps.max(1.0) * 0.3).clamp(200_000.0, 50_000_000.0) as u32;
    let config = EncoderConfig::new()
        .skip_frames(false)
        .rate_control_mode(RateControlMode::Off)
        .qp(QpRange::new(16, 24))
        .max_frame_rate(FrameRate::from_hz(fps))
        .bitrate(BitRate::from_bps(bitrate));
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| anyhow!("the H.264 encoder did not start ({e})"))?;
    let (mut sps, mut pps) = (None, None);
    let mut samples = Vec::with_capacity(clip.frames.len());
    for (i, frame) in clip.frames.iter().enumerate() {
        let cropped;
        let frame = if frame.dimensions() == (w, h) {
            frame
        } else {
            cropped = image::imageops::crop_imm(frame, 0, 0, w, h).to_image();
            &cropped
        };
        let yuv =
            YUVBuffer::from_rgb8_source(RgbSliceU8::new(frame.as_raw(), (w as usize, h as usize)));
        let stream = encoder
            .encode(&yuv)
            .map_err(|e| anyhow!("frame {i} could not be encoded ({e})"))?
            .to_vec();
        let mut sample = Vec::new();
        let mut sync = false;
        for nal in nal_units(&stream) {
            match nal[0] & 0x1f {
                NAL_SPS => {
                    sps.get_or_insert_with(|| nal.to_vec());
                }
                NAL_PPS => {
                    pps.get_or_insert_with(|| nal.to_vec());
                }
                t => {
                    sync |= t == NAL_IDR;
                    sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    sample.extend_from_slice(nal);
                }
            }
        }
        if sample.is_empty() {
            bail!("the encoder dropped frame {i}");
        }
        samples.push((sample, sync));
    }
    let (Some(sps), Some(pps)) = (sps, pps) else {
        bail!("the encoder wrote no parameter sets");
    };
    let brands = ["isom", "iso2", "avc1", "mp41"].map(|b| b.parse().expect("four letters"));
    let config = ::mp4::Mp4Config {
        major_brand: brands[0],
        minor_version: 512,
        compatible_brands: brands.to_vec(),
        timescale: 1000,
    };
    let mp4_error = |e: ::mp4::Error| anyhow!("writing the MP4 container ({e})");
    let mut writer =
        ::mp4::Mp4Writer::write_start(Cursor::new(Vec::new()), &config).map_err(mp4_error)?;
    // a timescale of 1000 ticks per frame keeps fractional rates (29.97) exact
    let timescale = ((fps * 1000.0).round() as u32).max(1);
    writer
        .add_track(&::mp4::TrackConfig {
            track_type: ::mp4::TrackType::Video,
            timescale,
            language: "und".into(),
            media_conf: ::mp4::MediaConfig::AvcConfig(::mp4::AvcConfig {
                width: w as u16,
                height: h as u16,
                seq_param_set: sps,
                pic_param_set: pps,
            }),
        })
        .map_err(mp4_error)?;
    for (i, (bytes, sync)) in samples.into_iter().enumerate() {
        writer
            .write_sample(
                1,
                &::mp4::Mp4Sample {
                    start_time: i as u64 * 1000,
                    duration: 1000,
                    rendering_offset: 0,
                    is_sync: sync,
                    bytes: bytes.into(),
                },
            )
            .map_err(mp4_error)?;
    }
    writer.write_end().map_err(mp4_error)?;
    Ok(writer.into_writer().into_inner())
}
