//! Steady crops for video. Landmarks found frame by frame jitter, and so does each frame's
//! FFHQ crop square: an edited face pasted back would wobble. The square is described by its
//! centre, side and angle, short gaps (the face lost for a few frames) are bridged by
//! interpolation, and each quantity is smoothed over time with a Gaussian (as "Stitch it in
//! Time" does), the side on a log scale and the angle unwrapped.

use serde::Serialize;

use crate::face::Quad;

/// A crop square as the quantities that are smoothed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropPose {
    pub centre: [f32; 2],
    pub side: f32,
    /// Radians, of the square's x axis.
    pub angle: f32,
}

impl CropPose {
    pub fn of(q: &Quad) -> Self {
        let c =
            q.0.iter()
                .fold([0.0, 0.0], |a, p| [a[0] + p[0] / 4.0, a[1] + p[1] / 4.0]);
        // corners: top-left, bottom-left, bottom-right, top-right; x = (top-right − top-left)/2
        let x = [(q.0[3][0] - q.0[0][0]) / 2.0, (q.0[3][1] - q.0[0][1]) / 2.0];
        Self {
            centre: c,
            side: 2.0 * x[0].hypot(x[1]),
            angle: x[1].atan2(x[0]),
        }
    }

    pub fn quad(&self) -> Quad {
        let r = self.side / 2.0;
        let x = [r * self.angle.cos(), r * self.angle.sin()];
        let y = [-x[1], x[0]];
        let c = self.centre;
        Quad([
            [c[0] - x[0] - y[0], c[1] - x[1] - y[1]],
            [c[0] - x[0] + y[0], c[1] - x[1] + y[1]],
            [c[0] + x[0] + y[0], c[1] + x[1] + y[1]],
            [c[0] + x[0] - y[0], c[1] + x[1] - y[1]],
        ])
    }

    fn lerp(&self, o: &Self, t: f32) -> Self {
        let l = |a: f32, b: f32| a + (b - a) * t;
        Self {
            centre: [
                l(self.centre[0], o.centre[0]),
                l(self.centre[1], o.centre[1]),
            ],
            side: (l(self.side.ln(), o.side.ln())).exp(),
            angle: l(self.angle, o.angle),
        }
    }
}

/// How the crops of a clip are steadied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Steadying {
    /// Standard deviation of the temporal Gaussian, in frames (0: no smoothing).
    pub sigma: f32,
    /// Gaps of at most this many frames without a face are bridged; longer ones pass through.
    pub max_gap: usize,
}

impl Default for Steadying {
    fn default() -> Self {
        Self {
            sigma: 2.0,
            max_gap: 5,
        }
    }
}

/// Whether crops `frames_apart` frames apart can be one face moving: the centre moved less than
/// half a side (times √frames_apart). Otherwise the track is cut between them — another face
/// took over — and nothing is bridged or smoothed across the cut.
fn same_face(a: &CropPose, b: &CropPose, frames_apart: usize) -> bool {
    let moved = (a.centre[0] - b.centre[0]).hypot(a.centre[1] - b.centre[1]);
    moved < 0.5 * a.side.max(b.side) * (frames_apart.max(1) as f32).sqrt()
}

/// Angles made continuous along a run (no jumps of 2π).
fn unwrap_angles(poses: &mut [CropPose]) {
    for i in 1..poses.len() {
        let prev = poses[i - 1].angle;
        let mut a = poses[i].angle;
        while a - prev > std::f32::consts::PI {
            a -= std::f32::consts::TAU;
        }
        while a - prev < -std::f32::consts::PI {
            a += std::f32::consts::TAU;
        }
        poses[i].angle = a;
    }
}

/// Each frame's crop after bridging short gaps and smoothing; `None` where the face stays
/// lost (those frames pass through unchanged): a gap longer than `max_gap` keeps the crop of
/// each side for `max_gap` frames into it.
pub fn steady_track(found: &[Option<CropPose>], s: Steadying) -> Vec<Option<CropPose>> {
    let mut track = found.to_vec();
    // bridge gaps: between two found frames by interpolation, at the ends by holding
    let known: Vec<usize> = (0..track.len()).filter(|&i| track[i].is_some()).collect();
    for pair in known.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let same = same_face(
            track[a].as_ref().unwrap(),
            track[b].as_ref().unwrap(),
            b - a,
        );
        if b - a - 1 <= s.max_gap && same {
            let (pa, mut pb) = (track[a].unwrap(), track[b].unwrap());
            let mut two = [pa, pb];
            unwrap_angles(&mut two);
            pb = two[1];
            for (i, slot) in track.iter_mut().enumerate().take(b).skip(a + 1) {
                *slot = Some(pa.lerp(&pb, (i - a) as f32 / (b - a) as f32));
            }
        } else {
            // a long gap, or another face: each side's crop is kept for up to `max_gap` frames
            // into it (half the gap each when it is shorter)
            let hold = s.max_gap.min((b - a - 1) / 2);
            for i in a + 1..=a + hold {
                track[i] = track[a];
            }
            for i in b - hold..b {
                track[i] = track[b];
            }
        }
    }
    if let (Some(&first), Some(&last)) = (known.first(), known.last()) {
        for i in first.saturating_sub(s.max_gap)..first {
            track[i] = track[first];
        }
        for i in last + 1
            ..last
                .saturating_add(1)
                .saturating_add(s.max_gap)
                .min(track.len())
        {
            track[i] = track[last];
        }
    }
    if s.sigma <= 0.0 {
        return track;
    }
    // smooth each run of consecutive crops on its own
    let radius = ((3.0 * s.sigma).ceil() as usize).min(track.len());
    let weights: Vec<f32> = (0..=radius)
        .map(|d| (-0.5 * (d as f32 / s.sigma).powi(2)).exp())
        .collect();
    let mut out = vec![None; track.len()];
    let mut i = 0;
    while i < track.len() {
        if track[i].is_none() {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < track.len()
            && matches!((&track[i - 1], &track[i]), (Some(p), Some(q)) if same_face(p, q, 1))
        {
            i += 1;
        }
        let mut run: Vec<CropPose> = track[start..i].iter().map(|p| p.unwrap()).collect();
        unwrap_angles(&mut run);
        for (j, slot) in out[start..i].iter_mut().enumerate() {
            // a symmetric window, narrower near the run's ends: a one-sided one would pull
            // the crop of a moving face behind it there
            let r = radius.min(j).min(run.len() - 1 - j);
            let (lo, hi) = (j - r, j + r);
            let (mut sum, mut acc) = (0.0, [0.0f32; 4]);
            for (k, p) in run.iter().enumerate().take(hi + 1).skip(lo) {
                let wt = weights[k.abs_diff(j)];
                sum += wt;
                acc[0] += wt * p.centre[0];
                acc[1] += wt * p.centre[1];
                acc[2] += wt * p.side.ln();
                acc[3] += wt * p.angle;
            }
            *slot = Some(CropPose {
                centre: [acc[0] / sum, acc[1] / sum],
                side: (acc[2] / sum).exp(),
                angle: acc[3] / sum,
            });
        }
    }
    out
}

/// Shake of a crop track: the root mean square of each quantity's second difference over
/// consecutive frames (how much the motion changes from one frame to the next; steady motion,
/// a pan or a zoom, counts nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Jitter {
    /// Centre, in percent of the crop side.
    pub centre_percent: f32,
    /// Side, in percent (log scale).
    pub scale_percent: f32,
    pub angle_degrees: f32,
    /// Triples of consecutive frames measured.
    pub samples: usize,
}

pub fn jitter(track: &[Option<CropPose>]) -> Jitter {
    let (mut c, mut s, mut a, mut n) = (0f64, 0f64, 0f64, 0usize);
    for w in track.windows(3) {
        let (Some(p0), Some(p1), Some(p2)) = (w[0], w[1], w[2]) else {
            continue;
        };
        let mut three = [p0, p1, p2];
        unwrap_angles(&mut three);
        let [p0, p1, p2] = three;
        let d = |f: &dyn Fn(&CropPose) -> f32| (f(&p2) - 2.0 * f(&p1) + f(&p0)) as f64;
        let dx = d(&|p| p.centre[0]) / p1.side as f64;
        let dy = d(&|p| p.centre[1]) / p1.side as f64;
        c += dx * dx + dy * dy;
        s += d(&|p| p.side.ln()).powi(2);
        a += d(&|p| p.angle).powi(2);
        n += 1;
    }
    if n == 0 {
        return Jitter::default();
    }
    let rms = |v: f64| (v / n as f64).sqrt() as f32;
    Jitter {
        centre_percent: 100.0 * rms(c),
        scale_percent: 100.0 * rms(s),
        angle_degrees: rms(a).to_degrees(),
        samples: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pose(i: usize, noise: f32) -> CropPose {
        let t = i as f32;
        // a smooth pan, zoom and turn, plus alternating noise
        let wob = if i.is_multiple_of(2) { noise } else { -noise };
        CropPose {
            centre: [100.0 + 2.0 * t + wob, 80.0 + t],
            side: 120.0 * (1.0 + 0.01 * t),
            angle: 0.02 * t,
        }
    }

    #[test]
    fn pose_and_quad_round_trip() {
        let p = CropPose {
            centre: [50.0, 60.0],
            side: 30.0,
            angle: 0.3,
        };
        let q = CropPose::of(&p.quad());
        assert!((q.centre[0] - 50.0).abs() < 1e-4 && (q.centre[1] - 60.0).abs() < 1e-4);
        assert!((q.side - 30.0).abs() < 1e-4 && (q.angle - 0.3).abs() < 1e-5);
        // and the FFHQ square of real landmarks keeps its corners
        let lm = [
            [40.0, 50.0],
            [70.0, 48.0],
            [55.0, 65.0],
            [45.0, 80.0],
            [68.0, 79.0],
        ];
        let ffhq = Quad::ffhq(&lm);
        let back = CropPose::of(&ffhq).quad();
        for (a, b) in ffhq.0.iter().zip(back.0.iter()) {
            assert!((a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3);
        }
    }

    #[test]
    fn smooth_motion_has_no_jitter_and_noise_is_reduced() {
        let clean: Vec<_> = (0..40).map(|i| Some(pose(i, 0.0))).collect();
        assert!(jitter(&clean).centre_percent < 1e-3);
        let noisy: Vec<_> = (0..40).map(|i| Some(pose(i, 3.0))).collect();
        let before = jitter(&noisy);
        // alternating ±3 px on a side growing from 120 to 167 px: second differences of 12 px,
        // about 8.5 % of the side
        assert!((before.centre_percent - 8.5).abs() < 1.0, "{before:?}");
        let after = jitter(&steady_track(&noisy, Steadying::default()));
        assert!(
            after.centre_percent < before.centre_percent / 5.0,
            "{after:?}"
        );
        // the smoothed path stays on the true one away from the ends
        let smoothed = steady_track(&noisy, Steadying::default());
        let mid = smoothed[20].unwrap();
        assert!((mid.centre[0] - pose(20, 0.0).centre[0]).abs() < 0.5);
    }

    #[test]
    fn another_face_cuts_the_track() {
        // face A on frames 0..10, face B (far away) on 10..20, no gap between them
        let t: Vec<_> = (0..20)
            .map(|i| {
                let mut p = pose(i, 0.0);
                if i >= 10 {
                    p.centre[0] += 400.0;
                }
                Some(p)
            })
            .collect();
        let s = steady_track(&t, Steadying::default());
        for (i, p) in s.iter().enumerate() {
            let truth = t[i].unwrap().centre[0];
            assert!(
                (p.unwrap().centre[0] - truth).abs() < 1.0,
                "frame {i} left its face"
            );
        }
        // and across a short gap: no crop halfway between the two
        let mut gap = t.clone();
        gap[9] = None;
        gap[10] = None;
        let s = steady_track(
            &gap,
            Steadying {
                sigma: 0.0,
                max_gap: 5,
            },
        );
        assert_eq!(s[9].unwrap().centre, t[8].unwrap().centre);
        assert_eq!(s[10].unwrap().centre, t[11].unwrap().centre);
    }

    #[test]
    fn short_gaps_are_bridged_and_long_ones_kept() {
        let mut t: Vec<_> = (0..30).map(|i| Some(pose(i, 0.0))).collect();
        for slot in &mut t[5..8] {
            *slot = None;
        }
        for slot in &mut t[15..25] {
            *slot = None;
        }
        let s = steady_track(
            &t,
            Steadying {
                sigma: 0.0,
                max_gap: 5,
            },
        );
        assert!(s[5..8].iter().all(Option::is_some));
        let mid = s[6].unwrap();
        assert!((mid.centre[0] - pose(6, 0.0).centre[0]).abs() < 1e-3);
        // a 10-frame gap: 5 held after the face was lost, 5 before it is found again, none left
        assert!(s[15..25].iter().all(Option::is_some));
        let long: Vec<_> = (0..40)
            .map(|i| (!(10..30).contains(&i)).then(|| pose(i, 0.0)))
            .collect();
        let s = steady_track(
            &long,
            Steadying {
                sigma: 1.0,
                max_gap: 3,
            },
        );
        assert_eq!(s.iter().filter(|p| p.is_none()).count(), 20 - 6);
    }
}
