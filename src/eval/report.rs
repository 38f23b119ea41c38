//! The evaluation report: a Markdown table (FSE Table 1's column order: SSIM, PSNR, MSE,
//! LPIPS, ID, then seconds per image) with a row per method, the per-image rows, the edits, and
//! a CSV with one row per image × method plus a mean row per method.

use std::fmt::Write;

use super::{AttributeRow, EditRow, InversionRow, Method};

#[derive(Debug, Default)]
pub struct Report {
    pub inversions: Vec<InversionRow>,
    pub edits: Vec<EditRow>,
    /// Attribute sliders: does the attribute follow the slider.
    pub attributes: Vec<AttributeRow>,
    /// Clips reconstructed frame by frame.
    pub videos: Vec<super::VideoRow>,
    /// Images that could not be opened, with the reason.
    pub skipped: Vec<String>,
}

/// A row's figures as text, in the table's column order.
fn cells(r: &InversionRow) -> [String; 6] {
    [
        format!("{:.4}", r.ssim),
        format!("{:.2}", r.psnr),
        format!("{:.5}", r.mse),
        lpips_text(r.lpips, 4),
        format!("{:.3}", r.id),
        format!("{:.2}", r.seconds),
    ]
}

/// One row's figures in a line (for progress output).
pub fn summary(r: &InversionRow) -> String {
    let [ssim, psnr, mse, lpips, id, s] = cells(r);
    format!("SSIM {ssim} PSNR {psnr} MSE {mse} LPIPS {lpips} ID {id} {s} s")
}

fn lpips_text(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.digits$}"))
}

impl Report {
    /// The methods in the order they first appear.
    fn methods(&self) -> Vec<Method> {
        let mut out = Vec::new();
        for r in &self.inversions {
            if !out.contains(&r.method) {
                out.push(r.method);
            }
        }
        out
    }

    /// The mean row of `method` over its images (`image` = "mean"); LPIPS only when every
    /// image has it.
    pub fn mean(&self, method: Method) -> Option<InversionRow> {
        let rows: Vec<&InversionRow> = self
            .inversions
            .iter()
            .filter(|r| r.method == method)
            .collect();
        if rows.is_empty() {
            return None;
        }
        let n = rows.len() as f64;
        let avg = |f: fn(&InversionRow) -> f64| rows.iter().map(|r| f(r)).sum::<f64>() / n;
        let lpips: Option<Vec<f64>> = rows.iter().map(|r| r.lpips).collect();
        Some(InversionRow {
            image: "mean".into(),
            method,
            ssim: avg(|r| r.ssim),
            psnr: avg(|r| r.psnr),
            mse: avg(|r| r.mse),
            lpips: lpips.map(|v| v.iter().sum::<f64>() / n),
            id: avg(|r| r.id),
            seconds: avg(|r| r.seconds),
        })
    }

    /// The Markdown report; `header` comes first (what was evaluated, with which models).
    pub fn markdown(&self, header: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{header}");
        let head = "| SSIM ↑ | PSNR ↑ | MSE ↓ | LPIPS ↓ | ID ↑ | s/image ↓ |";
        let rule = "| ---: | ---: | ---: | ---: | ---: | ---: |";
        let figures = |r: &InversionRow| format!("| {} |", cells(r).join(" | "));
        let _ = writeln!(s, "\n## Inversion (mean over {} images)\n", self.images());
        let _ = writeln!(s, "| method {head}\n| --- {rule}");
        for m in self.methods() {
            if let Some(r) = self.mean(m) {
                let _ = writeln!(s, "| {} {}", m.name(), figures(&r));
            }
        }
        if !self.edits.is_empty() {
            let _ = writeln!(s, "\n## Edits\n");
            let _ = writeln!(
                s,
                "| direction | α | identity drift (photos) ↓ | strength (generated faces) | edit PSNR (generated) ↑ |\n| --- | ---: | ---: | ---: | ---: |"
            );
            for e in &self.edits {
                let _ = writeln!(
                    s,
                    "| {} | {:+} | {:.3} | {:.3} | {:.2} |",
                    e.direction, e.amount, e.id_drift, e.strength, e.edit_psnr
                );
            }
        }
        if !self.attributes.is_empty() {
            let _ = writeln!(s, "\n## Attribute sliders\n");
            let _ = writeln!(
                s,
                "Each face edited at {} evenly spaced values from the slider's minimum to its maximum and scored by the attribute networks; Spearman ρ of score against value (1 = rises at every step) and the score's change from minimum to maximum (probability; years for Age), means over faces.\n",
                7
            );
            let _ = writeln!(
                s,
                "| direction | ρ photos ↑ | change photos | ρ generated ↑ | change generated |\n| --- | ---: | ---: | ---: | ---: |"
            );
            for a in &self.attributes {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | {:+.3} | {:.2} | {:+.3} |",
                    a.direction, a.rho_photos, a.change_photos, a.rho_generated, a.change_generated
                );
            }
            if let Some(a) = self.attributes.first() {
                let _ = writeln!(
                    s,
                    "\n({} photos, {} generated faces.)",
                    a.photos, a.generated
                );
            }
        }
        if !self.videos.is_empty() {
            let _ = writeln!(
                s,
                "\n## Video (FSE Appendix C)\n\nEvery frame inverted by the encoder (steadied crops, no edit); identity consistency = mean identity similarity of each frame's face to the first frame's, of the source and of the reconstruction.\n"
            );
            let _ = writeln!(
                s,
                "| clip | frames | SSIM ↑ | PSNR ↑ | ID ↑ | consistency source | consistency reconstruction | crop jitter detected → steadied (% of side) | ms/frame |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            );
            let opt = |v: Option<f32>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
            for v in &self.videos {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.4} | {:.2} | {} | {} | {} | {:.2} → {:.2} | {:.1} |",
                    v.clip,
                    v.frames,
                    v.ssim,
                    v.psnr,
                    opt(v.id),
                    opt(v.consistency.map(|c| c.0)),
                    opt(v.consistency.map(|c| c.1)),
                    v.jitter.0,
                    v.jitter.1,
                    v.seconds_per_frame * 1e3
                );
            }
        }
        let _ = writeln!(s, "\n## Per image\n");
        let _ = writeln!(s, "| image | method {head}\n| --- | --- {rule}");
        for r in &self.inversions {
            let _ = writeln!(s, "| {} | {} {}", r.image, r.method.name(), figures(r));
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(s, "\nSkipped:\n");
            for k in &self.skipped {
                let _ = writeln!(s, "- {k}");
            }
        }
        s
    }

    fn images(&self) -> usize {
        let mut names: Vec<&str> = self.inversions.iter().map(|r| r.image.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }

    /// One row per image × method, then a mean row per method.
    pub fn csv(&self) -> String {
        let mut s = String::from("image,method,ssim,psnr,mse,lpips,id,seconds\n");
        let means: Vec<InversionRow> = self
            .methods()
            .into_iter()
            .filter_map(|m| self.mean(m))
            .collect();
        for r in self.inversions.iter().chain(&means) {
            let image = if r.image.contains([',', '"', '\n']) {
                format!("\"{}\"", r.image.replace('"', "\"\""))
            } else {
                r.image.clone()
            };
            let _ = writeln!(
                s,
                "{image},{},{:.6},{:.4},{:.8},{},{:.6},{:.4}",
                r.method.name(),
                r.ssim,
                r.psnr,
                r.mse,
                r.lpips.map_or_else(String::new, |v| format!("{v:.6}")),
                r.id,
                r.seconds
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(image: &str, method: Method, ssim: f64, lpips: Option<f64>) -> InversionRow {
        InversionRow {
            image: image.into(),
            method,
            ssim,
            psnr: 20.0,
            mse: 0.01,
            lpips,
            id: 0.5,
            seconds: 1.0,
        }
    }

    #[test]
    fn means_per_method_and_lpips_only_when_every_image_has_it() {
        let r = Report {
            inversions: vec![
                row("a.jpg", Method::Fse, 0.6, Some(0.2)),
                row("b,1.jpg", Method::Fse, 0.8, Some(0.4)),
                row("a.jpg", Method::Pti, 0.9, None),
                row("b,1.jpg", Method::Pti, 0.7, Some(0.1)),
            ],
            edits: Vec::new(),
            attributes: Vec::new(),
            videos: Vec::new(),
            skipped: vec!["c.jpg: no face".into()],
        };
        let fse = r.mean(Method::Fse).unwrap();
        assert!((fse.ssim - 0.7).abs() < 1e-12 && (fse.lpips.unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(r.mean(Method::Pti).unwrap().lpips, None);
        assert!(r.mean(Method::Project).is_none());
        let csv = r.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 4 + 2, "{csv}");
        assert!(
            lines[2].starts_with("\"b,1.jpg\",fse,0.800000"),
            "{}",
            lines[2]
        );
        assert!(lines[5].starts_with("mean,fse,0.700000"), "{}", lines[5]);
        assert!(lines[6].starts_with("mean,pti,0.800000,20.0000,0.01000000,,"));
        let md = r.markdown("# report");
        assert!(
            md.contains("| fse | 0.7000 | 20.00 | 0.01000 | 0.3000 | 0.500 | 1.00 |"),
            "{md}"
        );
        assert!(md.contains("| pti | 0.8000 | 20.00 | 0.01000 | n/a |"));
        assert!(md.contains("mean over 2 images") && md.contains("- c.jpg: no face"));
    }
}
