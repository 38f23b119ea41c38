//! Composing a named set from computed ones: pick directions by their computed name
//! ("sefa 3"), give them a human name, and optionally flip their sign (so that + means "more
//! of the attribute"), narrow the w+ layers they move and set the slider range.
//!
//! A pick is written `OLD=NEW[,layers=A..B][,range=R][,flip]`, e.g.
//! `sefa 3=Age,layers=2..6,range=4,flip`; `2:sefa 3` takes `sefa 3` from the second set given
//! (names repeat across sets computed on different layers).

use std::ops::Range;

use super::{Direction, DirectionError, DirectionSet};

/// `a..b` (half-open) or a single layer `a`.
pub fn parse_layers(s: &str) -> Result<Range<usize>, String> {
    let bad = || format!("`{s}` is not a layer range like 0..4");
    match s.split_once("..") {
        Some((a, b)) => {
            Ok(a.trim().parse().map_err(|_| bad())?..b.trim().parse().map_err(|_| bad())?)
        }
        None => {
            let i: usize = s.trim().parse().map_err(|_| bad())?;
            Ok(i..i + 1)
        }
    }
}

/// Which sign of a picked direction the slider's positive end follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Keep,
    Flip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub from: String,
    pub name: String,
    pub layers: Option<Range<usize>>,
    /// Symmetric slider range `-r … r`.
    pub range: Option<f32>,
    pub sign: Sign,
}

impl Pick {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut parts = spec.split(',').map(str::trim);
        let head = parts.next().unwrap_or_default();
        let Some((from, name)) = head.split_once('=') else {
            return Err(format!(
                "`{spec}`: a pick starts with OLD=NEW (e.g. `sefa 3=Age`)"
            ));
        };
        let (from, name) = (from.trim(), name.trim());
        if from.is_empty() || name.is_empty() {
            return Err(format!("`{spec}`: empty direction name"));
        }
        let mut pick = Pick {
            from: from.into(),
            name: name.into(),
            layers: None,
            range: None,
            sign: Sign::Keep,
        };
        for part in parts {
            match part.split_once('=') {
                Some(("layers", v)) => {
                    pick.layers = Some(parse_layers(v)?);
                }
                Some(("range", v)) => {
                    let r: f32 = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{spec}`: range `{v}` is not a number"))?;
                    if !(r.is_finite() && r > 0.0) {
                        return Err(format!("`{spec}`: range must be positive"));
                    }
                    pick.range = Some(r);
                }
                None if part == "flip" => pick.sign = Sign::Flip,
                _ => {
                    return Err(format!(
                        "`{spec}`: unknown option `{part}` (layers=A..B, range=R, flip)"
                    ));
                }
            }
        }
        Ok(pick)
    }
}

/// A new set holding the picked directions, renamed, in the order given. Every source set
/// must belong to the same generator (same owner and shape).
pub fn pick(sources: &[DirectionSet], picks: &[Pick]) -> Result<DirectionSet, DirectionError> {
    let Some(first) = sources.first() else {
        return Err(DirectionError::Mismatch(
            "no direction set to pick from".into(),
        ));
    };
    for s in sources {
        if s.owner != first.owner || s.style_dim != first.style_dim || s.n_latent != first.n_latent
        {
            return Err(DirectionError::Mismatch(
                "the sets belong to different generators; pick from one generator's sets".into(),
            ));
        }
    }
    let mut out = DirectionSet::new(first.owner.clone(), first.style_dim, first.n_latent);
    for p in picks {
        if out.directions.iter().any(|d| d.info.name == p.name) {
            return Err(DirectionError::Mismatch(format!(
                "two picks are named `{}`",
                p.name
            )));
        }
        let qualified = p
            .from
            .split_once(':')
            .and_then(|(n, name)| Some((n.trim().parse::<usize>().ok()?, name.trim())));
        let (candidates, wanted) = match qualified {
            Some((n, name)) => {
                let set = n
                    .checked_sub(1)
                    .and_then(|i| sources.get(i))
                    .ok_or_else(|| {
                        DirectionError::Mismatch(format!(
                            "`{}`: there are {} sets",
                            p.from,
                            sources.len()
                        ))
                    })?;
                (std::slice::from_ref(set), name)
            }
            None => (sources, p.from.as_str()),
        };
        let source = candidates
            .iter()
            .find_map(|s| s.directions.iter().find(|d| d.info.name == wanted))
            .ok_or_else(|| {
                let names: Vec<_> = sources
                    .iter()
                    .flat_map(|s| s.directions.iter().map(|d| d.info.name.as_str()))
                    .collect();
                DirectionError::Unknown(p.from.clone(), names.join(", "))
            })?;
        let mut d: Direction = source.clone();
        d.info.source = format!("{} (picked as `{}`)", d.info.source, p.from);
        d.info.name = p.name.clone();
        if let Some(l) = &p.layers {
            d.info.layers = l.clone();
        }
        if let Some(r) = p.range {
            d.info.range = (-r, r);
        }
        if p.sign == Sign::Flip {
            d.vector.iter_mut().for_each(|v| *v = -*v);
        }
        out.push(d)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::directions::{DirectionInfo, Owner};

    fn set(owner: &str) -> DirectionSet {
        let mut s = DirectionSet::new(Owner::Generator(owner.into()), 2, 3);
        for (i, v) in [[1.0, 0.0], [0.0, 1.0]].iter().enumerate() {
            s.push(Direction {
                info: DirectionInfo {
                    name: format!("sefa {i}"),
                    layers: 0..3,
                    range: (-3.0, 3.0),
                    source: "SeFa".into(),
                },
                vector: v.to_vec(),
            })
            .unwrap();
        }
        s
    }

    #[test]
    fn parses_options() {
        let p = Pick::parse("sefa 3 = Age, layers=2..6, range=4, flip").unwrap();
        assert_eq!(p.from, "sefa 3");
        assert_eq!(p.name, "Age");
        assert_eq!(p.layers, Some(2..6));
        assert_eq!(p.range, Some(4.0));
        assert_eq!(p.sign, Sign::Flip);
        assert!(Pick::parse("sefa 3").is_err());
        assert!(Pick::parse("sefa 3=Age,range=-1").is_err());
        assert!(Pick::parse("sefa 3=Age,bogus").is_err());
    }

    #[test]
    fn renames_flips_and_narrows() {
        let picks = [
            Pick::parse("sefa 1=Smile,flip,layers=1..2,range=5").unwrap(),
            Pick::parse("sefa 0=Pose").unwrap(),
        ];
        let s = pick(&[set("g")], &picks).unwrap();
        assert_eq!(s.directions[0].info.name, "Smile");
        assert_eq!(s.directions[0].vector, vec![0.0, -1.0]);
        assert_eq!(s.directions[0].info.layers, 1..2);
        assert_eq!(s.directions[0].info.range, (-5.0, 5.0));
        assert_eq!(s.directions[1].vector, vec![1.0, 0.0]);
        assert_eq!(s.directions[1].info.layers, 0..3);
    }

    #[test]
    fn refuses_unknown_duplicate_and_foreign() {
        let unknown = pick(&[set("g")], &[Pick::parse("sefa 9=X").unwrap()]);
        assert!(unknown.unwrap_err().to_string().contains("sefa 0, sefa 1"));
        let twice = [
            Pick::parse("sefa 0=X").unwrap(),
            Pick::parse("sefa 1=X").unwrap(),
        ];
        assert!(pick(&[set("g")], &twice).is_err());
        let foreign = pick(&[set("g"), set("h")], &[Pick::parse("sefa 0=X").unwrap()]);
        assert!(foreign.is_err());
        assert!(pick(&[set("g")], &[Pick::parse("2:sefa 0=X").unwrap()]).is_err());
    }

    #[test]
    fn set_qualifier_picks_from_that_set() {
        let mut second = set("g");
        second.directions[0].vector = vec![0.5, 0.5];
        let s = pick(&[set("g"), second], &[Pick::parse("2:sefa 0=X").unwrap()]).unwrap();
        assert_eq!(s.directions[0].vector, vec![0.5, 0.5]);
    }
}
