//! Sets of accepted HTTP statuses, written as hopwatch's `expect.status`:
//! a class (`2xx`) for each whole hundred, codes for the rest.

use super::model::Value;

/// The lowest and highest status hopwatch accepts in `expect.status`.
pub(crate) const FIRST: u16 = 100;
pub(crate) const LAST: u16 = 599;

/// Accepted or not, for each status from [`FIRST`] to [`LAST`].
pub(crate) type Allowed = Vec<bool>;

/// Every status, or none.
pub(crate) fn every(on: bool) -> Allowed {
    vec![on; usize::from(LAST - FIRST + 1)]
}

/// Accepts `from..=to` (clamped to the statuses hopwatch knows).
pub(crate) fn allow(allowed: &mut Allowed, from: u16, to: u16) {
    for code in from.max(FIRST)..=to.min(LAST) {
        allowed[usize::from(code - FIRST)] = true;
    }
}

/// The set as `expect.status`.
pub(crate) fn value(allowed: &[bool]) -> Value {
    let mut items = Vec::new();
    for (class, hundred) in allowed.chunks(100).enumerate() {
        let class = class + 1;
        if hundred.iter().all(|a| *a) {
            items.push(Value::Str(format!("{class}xx")));
        } else {
            for (n, _) in hundred.iter().enumerate().filter(|(_, a)| **a) {
                items.push(Value::int(i64::try_from(class * 100 + n).unwrap_or(0)));
            }
        }
    }
    Value::List(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hundreds_become_classes() {
        let mut allowed = every(false);
        allow(&mut allowed, 200, 299);
        allow(&mut allowed, 301, 302);
        allow(&mut allowed, 0, 99);
        let want = Value::List(vec![
            Value::Str("2xx".into()),
            Value::int(301),
            Value::int(302),
        ]);
        assert_eq!(value(&allowed), want);
    }
}
