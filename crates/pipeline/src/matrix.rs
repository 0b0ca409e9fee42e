//! Matrix expansion with GitHub's rules: the product of the vectors (first key
//! outermost), then `exclude` (a combination goes when it has every key/value of an
//! exclude entry), then `include` (an entry extends every remaining combination whose
//! original values it agrees with — it may overwrite values added by earlier
//! includes, never original ones — and becomes a combination of its own when it
//! extends none). At most 256 combinations.

use andon_expr::{Object, Value, deep_eq as same};

/// The most jobs one matrix may produce.
pub const MAX_JOBS: usize = 256;

fn entries(v: &Value, what: &str) -> Result<Vec<Object>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .items
            .iter()
            .map(|x| match x {
                Value::Object(o) => Ok((**o).clone()),
                other => {
                    Err(format!("matrix {what} entries must be mappings, found {}", other.kind()))
                }
            })
            .collect(),
        other => {
            Err(format!("matrix {what} must be a sequence of mappings, found {}", other.kind()))
        }
    }
}

/// One combination: its values, and which keys came from the vectors.
struct Combo {
    values: Object,
    original: Vec<String>,
}

/// Expands a matrix (an object of vectors plus `include`/`exclude`) into its
/// combinations, in order.
pub fn expand(matrix: &Object) -> Result<Vec<Object>, String> {
    let mut vectors: Vec<(&str, &[Value])> = Vec::new();
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for (k, v) in matrix.iter() {
        if k.eq_ignore_ascii_case("include") {
            include = entries(v, "include")?;
        } else if k.eq_ignore_ascii_case("exclude") {
            exclude = entries(v, "exclude")?;
        } else {
            match v {
                Value::Array(a) if a.items.is_empty() => {
                    return Err(format!("Matrix vector '{k}' does not contain any values"));
                }
                Value::Array(a) => vectors.push((k, &a.items)),
                other => {
                    return Err(format!(
                        "Matrix vector '{k}' must be a sequence, found {}",
                        other.kind()
                    ));
                }
            }
        }
    }
    let product: usize = vectors
        .iter()
        .map(|(_, v)| v.len())
        .try_fold(1usize, usize::checked_mul)
        .unwrap_or(usize::MAX);
    if product > MAX_JOBS * 64 {
        return Err(format!("the matrix produces {product} combinations, more than {MAX_JOBS}"));
    }
    for e in &exclude {
        for (k, _) in e.iter() {
            if !vectors.iter().any(|(name, _)| name.eq_ignore_ascii_case(k)) {
                return Err(format!(
                    "Matrix exclude key '{k}' does not match any key within the matrix"
                ));
            }
        }
    }
    let mut combos: Vec<Combo> = Vec::new();
    if !vectors.is_empty() {
        let mut idx = vec![0usize; vectors.len()];
        'product: loop {
            let mut values = Object::new();
            for (n, (k, v)) in vectors.iter().enumerate() {
                values.insert(*k, v[idx[n]].clone());
            }
            let excluded = exclude
                .iter()
                .any(|e| e.iter().all(|(k, v)| values.get(k).is_some_and(|x| same(x, v))));
            if !excluded {
                combos.push(Combo {
                    values,
                    original: vectors.iter().map(|(k, _)| k.to_string()).collect(),
                });
            }
            // The last key varies fastest.
            let mut n = vectors.len();
            loop {
                if n == 0 {
                    break 'product;
                }
                n -= 1;
                idx[n] += 1;
                if idx[n] < vectors[n].1.len() {
                    break;
                }
                idx[n] = 0;
            }
        }
    }
    let base = combos.len();
    for entry in include {
        let mut extended = false;
        for c in combos[..base].iter_mut() {
            let agrees = entry.iter().all(|(k, v)| {
                !c.original.iter().any(|o| o.eq_ignore_ascii_case(k))
                    || c.values.get(k).is_some_and(|x| same(x, v))
            });
            if agrees {
                for (k, v) in entry.iter() {
                    if !c.original.iter().any(|o| o.eq_ignore_ascii_case(k)) {
                        c.values.insert(k, v.clone());
                    }
                }
                extended = true;
            }
        }
        if !extended {
            combos.push(Combo { values: entry, original: Vec::new() });
        }
    }
    if combos.len() > MAX_JOBS {
        return Err(format!(
            "Strategy produced {} jobs; a matrix may produce at most {MAX_JOBS}",
            combos.len()
        ));
    }
    Ok(combos.into_iter().map(|c| c.values).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(json: &str) -> Object {
        match andon_expr::parse_json(json).unwrap() {
            Value::Object(o) => (*o).clone(),
            _ => Object::new(),
        }
    }

    fn show(combos: &[Object]) -> Vec<String> {
        combos.iter().map(|c| Value::from(c.clone()).to_json()).collect()
    }

    #[test]
    fn product_then_exclude_then_include() {
        // GitHub's documented example.
        let got = expand(&m(r#"{"fruit": ["apple", "pear"], "animal": ["cat", "dog"], "include": [
            {"color": "green"}, {"color": "pink", "animal": "cat"}, {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"}, {"fruit": "banana", "animal": "cat"}]}"#))
        .unwrap();
        assert_eq!(
            show(&got),
            [
                r#"{"fruit":"apple","animal":"cat","color":"pink","shape":"circle"}"#,
                r#"{"fruit":"apple","animal":"dog","color":"green","shape":"circle"}"#,
                r#"{"fruit":"pear","animal":"cat","color":"pink"}"#,
                r#"{"fruit":"pear","animal":"dog","color":"green"}"#,
                r#"{"fruit":"banana"}"#,
                r#"{"fruit":"banana","animal":"cat"}"#,
            ]
        );
        let got = expand(&m(r#"{"os": ["linux", "windows"], "node": [14, 16, 18],
            "exclude": [{"os": "windows", "node": 14}, {"node": 18}],
            "include": [{"os": "windows", "node": 14, "experimental": true}]}"#))
        .unwrap();
        assert_eq!(
            show(&got),
            [
                r#"{"os":"linux","node":14}"#,
                r#"{"os":"linux","node":16}"#,
                r#"{"os":"windows","node":16}"#,
                r#"{"os":"windows","node":14,"experimental":true}"#,
            ],
            "include comes after exclude: an excluded combination can come back"
        );
    }

    #[test]
    fn include_only_and_object_values() {
        let got = expand(&m(r#"{"include": [{"a": 1}, {"a": 2}]}"#)).unwrap();
        assert_eq!(show(&got), [r#"{"a":1}"#, r#"{"a":2}"#]);
        let got =
            expand(&m(r#"{"cfg": [{"x": 1}, {"x": 2}], "exclude": [{"cfg": {"x": 2}}]}"#)).unwrap();
        assert_eq!(show(&got), [r#"{"cfg":{"x":1}}"#]);
    }

    #[test]
    fn limits_and_errors() {
        let big: Vec<String> = (0..17).map(|i| i.to_string()).collect();
        let json = format!(r#"{{"a": [{}], "b": [{}]}}"#, big.join(","), big.join(","));
        assert_eq!(
            expand(&m(&json)).unwrap_err(),
            "Strategy produced 289 jobs; a matrix may produce at most 256"
        );
        assert_eq!(
            expand(&m(r#"{"a": []}"#)).unwrap_err(),
            "Matrix vector 'a' does not contain any values"
        );
        assert_eq!(
            expand(&m(r#"{"a": [1], "exclude": [{"b": 1}]}"#)).unwrap_err(),
            "Matrix exclude key 'b' does not match any key within the matrix"
        );
        assert!(expand(&m(r#"{"a": 1}"#)).is_err());
    }
}
