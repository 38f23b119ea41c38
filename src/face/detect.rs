//! Face detection with five landmarks (MTCNN): an image pyramid through P-Net, candidate
//! boxes merged by non-maximum suppression and regressed, refined on 24² crops by R-Net, then
//! scored, regressed and given landmarks on 48² crops by O-Net.

use std::path::Path;

use burn::tensor::{Device, Tensor};
use image::RgbImage;
use image::imageops::FilterType;

use crate::model::loader::{tensor_from_vec, tensor_to_vec};
use crate::model::mtcnn::{ONet, PNet, RNet};
use crate::weights::{self, WeightsError};

/// A detected face in image pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Face {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    pub score: f32,
    /// Left eye, right eye, nose, left and right mouth corners (as seen in the image), `[x, y]`.
    pub landmarks: [[f32; 2]; 5],
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    b: [f32; 4],
    score: f32,
    reg: [f32; 4],
}

/// Detection settings (the published MTCNN defaults).
const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.7];
const PYRAMID_FACTOR: f32 = 0.709;
/// Detection runs on a copy whose long side is at most this (portraits, not crowds).
const DETECT_SIDE: u32 = 1024;

fn sort_largest_first(faces: &mut [Face]) {
    let area = |f: &Face| (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]);
    faces.sort_by(|a, b| area(b).total_cmp(&area(a)));
}

#[derive(Clone, Copy, PartialEq)]
enum Overlap {
    Union,
    Min,
}

fn iou(a: &[f32; 4], b: &[f32; 4], mode: Overlap) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0] + 1.0).max(0.0) * (r[3] - r[1] + 1.0).max(0.0);
    let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = w * h;
    match mode {
        Overlap::Union => inter / (area(a) + area(b) - inter),
        Overlap::Min => inter / area(a).min(area(b)),
    }
}

fn nms(mut c: Vec<Candidate>, threshold: f32, mode: Overlap) -> Vec<Candidate> {
    c.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Candidate> = Vec::new();
    for cand in c {
        if keep.iter().all(|k| iou(&k.b, &cand.b, mode) <= threshold) {
            keep.push(cand);
        }
    }
    keep
}

fn regress(c: &mut Candidate) {
    let w = c.b[2] - c.b[0] + 1.0;
    let h = c.b[3] - c.b[1] + 1.0;
    c.b = [
        c.b[0] + c.reg[0] * w,
        c.b[1] + c.reg[1] * h,
        c.b[2] + c.reg[2] * w,
        c.b[3] + c.reg[3] * h,
    ];
}

fn square(c: &mut Candidate) {
    let (w, h) = (c.b[2] - c.b[0], c.b[3] - c.b[1]);
    let l = w.max(h);
    let (x1, y1) = (c.b[0] + w * 0.5 - l * 0.5, c.b[1] + h * 0.5 - l * 0.5);
    c.b = [x1, y1, x1 + l, y1 + l];
}

/// `(x − 127.5) / 128`, `[B,3,H,W]`.
fn to_input(images: &[RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = images[0].dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut v = vec![0f32; images.len() * 3 * h * w];
    for (i, img) in images.iter().enumerate() {
        for (x, y, p) in img.enumerate_pixels() {
            for c in 0..3 {
                v[((i * 3 + c) * h + y as usize) * w + x as usize] =
                    (p.0[c] as f32 - 127.5) / 128.0;
            }
        }
    }
    tensor_from_vec(v, [images.len(), 3, h, w], device)
}

/// The box region (zero outside the image) resized to `side`².
fn crop(img: &RgbImage, b: &[f32; 4], side: u32) -> RgbImage {
    let (x1, y1) = (b[0].floor() as i64, b[1].floor() as i64);
    let (w, h) = (
        ((b[2] - b[0]).round() as i64 + 1).max(1),
        ((b[3] - b[1]).round() as i64 + 1).max(1),
    );
    let region = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (sx, sy) = (x1 + x as i64, y1 + y as i64);
        if sx >= 0 && sy >= 0 && (sx as u32) < img.width() && (sy as u32) < img.height() {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            image::Rgb([0, 0, 0])
        }
    });
    image::imageops::resize(&region, side, side, FilterType::Triangle)
}

#[derive(Clone)]
pub struct FaceDetector {
    pnet: PNet,
    rnet: RNet,
    onet: ONet,
    device: Device,
}

impl FaceDetector {
    /// Loads `pnet`, `rnet`, `onet` `.safetensors` from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, WeightsError> {
        let st = |n: &str| weights::read_safetensors(&dir.join(format!("{n}.safetensors")));
        Ok(Self {
            pnet: PNet::load(&st("pnet")?, device)?,
            rnet: RNet::load(&st("rnet")?, device)?,
            onet: ONet::load(&st("onet")?, device)?,
            device: device.clone(),
        })
    }

    /// Faces in `photo`, largest first.
    pub fn detect(&self, photo: &RgbImage) -> Vec<Face> {
        let long = photo.width().max(photo.height());
        let scale_back = (long as f32 / DETECT_SIDE as f32).max(1.0);
        let small;
        let img = if scale_back > 1.0 {
            let (w, h) = (
                (photo.width() as f32 / scale_back) as u32,
                (photo.height() as f32 / scale_back) as u32,
            );
            small = image::imageops::thumbnail(photo, w.max(1), h.max(1));
            &small
        } else {
            photo
        };
        // Faces smaller than a tenth of the short side are not what a portrait editor wants.
        let min_face = (img.width().min(img.height()) as f32 / 10.0).max(20.0);
        let mut faces = self.detect_at(img, min_face);
        for f in &mut faces {
            f.bbox.iter_mut().for_each(|v| *v *= scale_back);
            f.landmarks
                .iter_mut()
                .flatten()
                .for_each(|v| *v *= scale_back);
        }
        sort_largest_first(&mut faces);
        faces
    }

    /// The face of the previous video frame found again in `photo`: O-Net alone on its box
    /// (landmarks, score and the box moved to where the face is now), as trackers built on
    /// MTCNN do. `None` when the box holds no face any more (then run [`FaceDetector::detect`]).
    pub fn follow(&self, photo: &RgbImage, previous: &Face) -> Option<Face> {
        let mut c = Candidate {
            b: previous.bbox,
            score: previous.score,
            reg: [0.0; 4],
        };
        // on the square box, as the cascade gives O-Net its boxes
        square(&mut c);
        let reach = 2.0 * photo.width().max(photo.height()) as f32;
        let side = c.b[2] - c.b[0];
        if !c.b.iter().all(|v| v.is_finite()) || side > reach || side < 12.0 {
            return None;
        }
        self.output_faces(photo, &[c]).pop().map(|(_, face)| face)
    }

    fn detect_at(&self, img: &RgbImage, min_face: f32) -> Vec<Face> {
        let (w, h) = (img.width() as f32, img.height() as f32);
        let mut scale = 12.0 / min_face;
        let mut candidates = Vec::new();
        while w.min(h) * scale >= 12.0 {
            let (sw, sh) = ((w * scale).ceil() as u32, (h * scale).ceil() as u32);
            let scaled = image::imageops::resize(img, sw, sh, FilterType::Triangle);
            let (prob, reg) = self.pnet.forward(to_input(&[scaled], &self.device));
            let [_, gh, gw] = prob.dims();
            let prob = tensor_to_vec(prob);
            let reg = tensor_to_vec(reg);
            let mut found = Vec::new();
            for y in 0..gh {
                for x in 0..gw {
                    let p = prob[y * gw + x];
                    if p >= THRESHOLDS[0] {
                        let r = |k: usize| reg[(k * gh + y) * gw + x];
                        found.push(Candidate {
                            b: [
                                ((2 * x + 1) as f32 / scale).floor(),
                                ((2 * y + 1) as f32 / scale).floor(),
                                ((2 * x + 12) as f32 / scale).floor(),
                                ((2 * y + 12) as f32 / scale).floor(),
                            ],
                            score: p,
                            reg: [r(0), r(1), r(2), r(3)],
                        });
                    }
                }
            }
            candidates.extend(nms(found, 0.5, Overlap::Union));
            scale *= PYRAMID_FACTOR;
        }
        let mut boxes = nms(candidates, 0.7, Overlap::Union);
        boxes.iter_mut().for_each(|c| {
            regress(c);
            square(c);
        });
        // R-Net on 24² crops.
        boxes = self.refine(img, boxes);
        // O-Net on 48² crops: scores, boxes, landmarks.
        if boxes.is_empty() {
            return Vec::new();
        }
        let (kept, mut faces): (Vec<Candidate>, Vec<Face>) =
            self.output_faces(img, &boxes).into_iter().unzip();
        let survivors = nms(kept, 0.7, Overlap::Min);
        faces.retain(|f| survivors.iter().any(|s| s.b == f.bbox));
        faces
    }

    /// O-Net on the 48² crops of `boxes`: for each box it accepts, the box moved by its
    /// regression and the face (score, landmarks read in the box as given).
    fn output_faces(&self, img: &RgbImage, boxes: &[Candidate]) -> Vec<(Candidate, Face)> {
        let crops: Vec<RgbImage> = boxes.iter().map(|c| crop(img, &c.b, 48)).collect();
        let (prob, reg, marks) = self.onet.forward(to_input(&crops, &self.device));
        let (prob, reg, marks) = (
            tensor_to_vec(prob),
            tensor_to_vec(reg),
            tensor_to_vec(marks),
        );
        let mut out = Vec::new();
        for (i, c) in boxes.iter().enumerate() {
            if prob[i] < THRESHOLDS[2] {
                continue;
            }
            let (bw, bh) = (c.b[2] - c.b[0] + 1.0, c.b[3] - c.b[1] + 1.0);
            let lm = &marks[i * 10..i * 10 + 10];
            let landmarks = std::array::from_fn(|k| [c.b[0] + bw * lm[k], c.b[1] + bh * lm[k + 5]]);
            let mut cand = Candidate {
                b: c.b,
                score: prob[i],
                reg: [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]],
            };
            regress(&mut cand);
            out.push((
                cand,
                Face {
                    bbox: cand.b,
                    score: cand.score,
                    landmarks,
                },
            ));
        }
        out
    }

    fn refine(&self, img: &RgbImage, boxes: Vec<Candidate>) -> Vec<Candidate> {
        if boxes.is_empty() {
            return boxes;
        }
        let crops: Vec<RgbImage> = boxes.iter().map(|c| crop(img, &c.b, 24)).collect();
        let (prob, reg) = self.rnet.forward(to_input(&crops, &self.device));
        let (prob, reg) = (tensor_to_vec(prob), tensor_to_vec(reg));
        let passed = boxes
            .iter()
            .enumerate()
            .filter(|(i, _)| prob[*i] >= THRESHOLDS[1])
            .map(|(i, c)| Candidate {
                b: c.b,
                score: prob[i],
                reg: [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]],
            })
            .collect();
        let mut out = nms(passed, 0.7, Overlap::Union);
        out.iter_mut().for_each(|c| {
            regress(c);
            square(c);
        });
        out
    }
}
