//! SeFa (closed-form factorization): the eigenvectors of AᵀA, A = the modulation (style)
//! weights of the chosen layers stacked, are the directions in W that change those layers'
//! styles the most.

use std::ops::Range;

use super::eigen::symmetric_eigen;
use super::set::{Direction, DirectionInfo};
use crate::model::Generator;
use crate::model::equal_linear::EqualLinear;
use crate::model::loader::tensor_to_vec;

/// The modulation layers that read w+ entry `i`: conv1 (0), to_rgb1 (1), convs[m] (m+1),
/// to_rgbs[j] (2j+3).
fn modulations_reading<'g>(g: &'g Generator, layers: &Range<usize>) -> Vec<&'g EqualLinear> {
    let mut out = Vec::new();
    let mut take = |i: usize, e| {
        if layers.contains(&i) {
            out.push(e);
        }
    };
    take(0, &g.conv1.conv.modulation);
    take(1, &g.to_rgb1.conv.modulation);
    for (m, c) in g.convs.iter().enumerate() {
        take(m + 1, &c.conv.modulation);
    }
    for (j, t) in g.to_rgbs.iter().enumerate() {
        take(2 * j + 3, &t.conv.modulation);
    }
    out
}

/// The top `count` SeFa directions (unit vectors in W) for w+ `layers`, with eigenvalues.
pub fn sefa(g: &Generator, layers: Range<usize>, count: usize) -> (Vec<Direction>, Vec<f64>) {
    let s = g.config.style_dim;
    let mut gram = vec![0f64; s * s];
    for m in modulations_reading(g, &layers) {
        let w = tensor_to_vec(m.weight.val()); // [C_in, S]
        for row in w.chunks_exact(s) {
            for a in 0..s {
                let ra = row[a] as f64;
                for b in 0..s {
                    gram[a * s + b] += ra * row[b] as f64;
                }
            }
        }
    }
    let (values, vectors) = symmetric_eigen(&gram, s);
    let directions = vectors
        .into_iter()
        .take(count)
        .enumerate()
        .map(|(i, v)| Direction {
            info: DirectionInfo {
                name: format!("sefa {i}"),
                layers: layers.clone(),
                range: (-5.0, 5.0),
                source: format!(
                    "SeFa eigenvector {i} of layers {}..{}",
                    layers.start, layers.end
                ),
            },
            vector: v.into_iter().map(|x| x as f32).collect(),
        })
        .collect();
    (directions, values.into_iter().take(count).collect())
}
