//! How numbers are written on screen: one place, used by the pages and checked by the tests.

use crate::model::{Measure, Unit};

/// Groups the integer part in thousands: `1234567.5` → `1,234,567.50`.
pub fn money(value: f64) -> String {
    let cents = (value * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}¥{}.{:02}", count((cents / 100) as f64), cents % 100)
}

/// Money as a Chinese reader expects a large amount: from ¥10,000 in 万 (ten thousands),
/// from ¥100,000,000 in 亿, with two decimals of that unit (`¥1,234.57万`, `¥3.20亿`);
/// smaller amounts as [`money`]. The exact amount goes beside it (a title).
pub fn money_zh(value: f64) -> String {
    // The unit is chosen after rounding: ¥9,999.995 is ¥1.00万, and 9,999.999万 is ¥1.00亿.
    if (value * 100.0).round().abs() < 1e6 {
        return money(value);
    }
    let (unit, hundredths) = match (value / 1e4 * 100.0).round() {
        wan if wan.abs() < 1e6 => ("万", wan),
        _ => ("亿", (value / 1e8 * 100.0).round()),
    };
    let hundredths = hundredths as i64;
    let sign = if hundredths < 0 { "-" } else { "" };
    let hundredths = hundredths.unsigned_abs();
    format!("{sign}¥{}.{:02}{unit}", count((hundredths / 100) as f64), hundredths % 100)
}

/// Money in `lang`: [`money_zh`] in Chinese, [`money`] in English.
pub fn money_in(lang: crate::i18n::Lang, value: f64) -> String {
    match lang {
        crate::i18n::Lang::Zh => money_zh(value),
        _ => money(value),
    }
}

/// A whole number grouped in thousands: `1234567` → `1,234,567`.
pub fn count(value: f64) -> String {
    let n = value.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if n < 0 { format!("-{grouped}") } else { grouped }
}

/// A share as a percentage with one decimal: `0.2346` → `23.5%`.
pub fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// A measure as shown on a KPI card in `lang` (large money in 万/亿 in Chinese); `—` when
/// it has no value.
pub fn measure_in(lang: crate::i18n::Lang, unit: Unit, m: &Measure) -> String {
    match (m.value, unit) {
        (Some(v), Unit::Money | Unit::Amount) => money_in(lang, v),
        _ => measure(unit, m),
    }
}

/// A measure as shown in a table, exactly; `—` when it has no value.
pub fn measure(unit: Unit, m: &Measure) -> String {
    match (m.value, unit) {
        (None, _) => "—".to_string(),
        (Some(v), Unit::Money | Unit::Amount) => money(v),
        (Some(v), Unit::Ratio) => percent(v),
        (Some(v), Unit::Count) => count(v),
        (Some(v), Unit::Number) => format!("{v:.2}"),
    }
}

/// The change from `before` to `now`: in percentage points for shares, relative otherwise.
pub fn change(unit: Unit, now: &Measure, before: &Measure) -> Option<(f64, String)> {
    let (now, before) = (now.value?, before.value?);
    match unit {
        Unit::Money | Unit::Count | Unit::Number | Unit::Amount => {
            if before == 0.0 {
                return None;
            }
            let rel = (now - before) / before.abs();
            Some((rel, format!("{:+.1}%", rel * 100.0)))
        }
        Unit::Ratio => {
            let pp = (now - before) * 100.0;
            Some((pp, format!("{pp:+.1} pp")))
        }
    }
}

/// Percent-encodes a query-string value (UTF-8; unreserved characters stay).
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A date `YYYY-MM-DD` (or a timestamp starting with one) as the language writes it:
/// `2026年6月30日`, `30 Jun 2026`; anything else as it is.
pub fn date(lang: crate::i18n::Lang, text: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let day = text.get(..10).unwrap_or(text);
    let parts: Vec<u32> = day.split('-').filter_map(|p| p.parse().ok()).collect();
    let [y, m, d] = parts[..] else {
        return text.to_string();
    };
    if !(1..=12).contains(&m) {
        return text.to_string();
    }
    let rest = text.get(10..).unwrap_or("");
    match lang {
        crate::i18n::Lang::Zh => format!("{y}年{m}月{d}日{rest}"),
        crate::i18n::Lang::En => format!("{d} {} {y}{rest}", MONTHS[(m - 1) as usize]),
    }
}

/// A link: `path` with the parameters that have a value, URL-encoded.
pub fn link(path: &str, params: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| format!("{k}={}", url_encode(v))))
        .collect();
    if query.is_empty() { path.to_string() } else { format!("{path}?{}", query.join("&")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_money_in_wan_and_yi_for_chinese_readers() {
        assert_eq!(money_zh(9_999.99), "¥9,999.99");
        assert_eq!(money_zh(10_000.0), "¥1.00万");
        assert_eq!(money_zh(12_345_678.9), "¥1,234.57万");
        assert_eq!(money_zh(99_999_999.0), "¥1.00亿");
        assert_eq!(money_zh(9_999.995), "¥1.00万");
        assert_eq!(money_zh(9_999.994), "¥9,999.99");
        assert_eq!(money_zh(320_000_000.0), "¥3.20亿");
        assert_eq!(money_zh(-45_678.0), "-¥4.57万");
        assert_eq!(money_in(crate::i18n::Lang::En, 320_000_000.0), "¥320,000,000.00");
        let m = Measure { numerator: 0, denominator: 1, value: Some(1_234_567.0), reason: None };
        assert_eq!(measure_in(crate::i18n::Lang::Zh, Unit::Money, &m), "¥123.46万");
        assert_eq!(measure_in(crate::i18n::Lang::Zh, Unit::Count, &m), "1,234,567");
    }

    #[test]
    fn money_groups_and_rounds() {
        assert_eq!(money(1234567.5), "¥1,234,567.50");
        assert_eq!(money(0.0), "¥0.00");
        assert_eq!(money(-12.345), "-¥12.35");
        assert_eq!(money(999.999), "¥1,000.00");
    }

    #[test]
    fn counts_group_in_thousands() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(-1000.0), "-1,000");
    }

    #[test]
    fn percent_has_one_decimal() {
        assert_eq!(percent(0.2345), "23.4%");
        assert_eq!(percent(1.0), "100.0%");
    }
}
