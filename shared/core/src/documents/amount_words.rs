//! Amounts in words, Russian and English, with the currency's units:
//! `25000.5 RUB` → "двадцать пять тысяч рублей 50 копеек" /
//! "twenty-five thousand rubles 50 kopecks". Used by `{AmountInWords}` and
//! `{AmountInWordsEn}` (amounts up to 10^15, as [`crate::money`] allows).

/// Grammatical gender of a Russian unit (one = "один" or "одна").
#[derive(Clone, Copy, PartialEq)]
enum Gender {
    Masculine,
    Feminine,
    Neuter,
}

/// A unit's three Russian forms: 1, 2–4, 5–20 (рубль, рубля, рублей).
struct Forms(&'static str, &'static str, &'static str, Gender);

const UNITS_RU: [&str; 20] = [
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
];
const TENS_RU: [&str; 10] = [
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
];
const HUNDREDS_RU: [&str; 10] = [
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
];
const SCALES_RU: [Forms; 4] = [
    Forms("тысяча", "тысячи", "тысяч", Gender::Feminine),
    Forms("миллион", "миллиона", "миллионов", Gender::Masculine),
    Forms("миллиард", "миллиарда", "миллиардов", Gender::Masculine),
    Forms("триллион", "триллиона", "триллионов", Gender::Masculine),
];

fn plural_ru(n: u64, f: &Forms) -> &'static str {
    let (d, h) = (n % 10, n % 100);
    if (11..=14).contains(&h) {
        f.2
    } else if d == 1 {
        f.0
    } else if (2..=4).contains(&d) {
        f.1
    } else {
        f.2
    }
}

fn triple_ru(n: u64, gender: Gender, out: &mut Vec<&'static str>) {
    let (h, rest) = (n / 100, n % 100);
    if h > 0 {
        out.push(HUNDREDS_RU[h as usize]);
    }
    if rest >= 20 {
        out.push(TENS_RU[(rest / 10) as usize]);
    }
    let u = if rest >= 20 { rest % 10 } else { rest };
    match (u, gender) {
        (0, _) => {}
        (1, Gender::Feminine) => out.push("одна"),
        (2, Gender::Feminine) => out.push("две"),
        (1, Gender::Neuter) => out.push("одно"),
        (u, _) => out.push(UNITS_RU[u as usize]),
    }
}

/// A whole number in Russian words, agreeing with a unit of `gender`.
fn number_ru(n: u64, gender: Gender) -> String {
    if n == 0 {
        return "ноль".into();
    }
    let mut groups = Vec::new();
    let mut m = n;
    while m > 0 {
        groups.push(m % 1000);
        m /= 1000;
    }
    let mut out: Vec<&'static str> = Vec::new();
    for (i, g) in groups.iter().enumerate().rev() {
        if *g == 0 {
            continue;
        }
        if i == 0 {
            triple_ru(*g, gender, &mut out);
        } else {
            let scale = &SCALES_RU[i - 1];
            triple_ru(*g, scale.3, &mut out);
            out.push(plural_ru(*g, scale));
        }
    }
    out.join(" ")
}

/// The Russian major and minor units of a currency.
fn currency_ru(code: &str) -> Option<(Forms, Forms)> {
    use Gender::*;
    Some(match code {
        "RUB" | "RUR" => (
            Forms("рубль", "рубля", "рублей", Masculine),
            Forms("копейка", "копейки", "копеек", Feminine),
        ),
        "USD" => (
            Forms("доллар США", "доллара США", "долларов США", Masculine),
            Forms("цент", "цента", "центов", Masculine),
        ),
        "EUR" => (
            Forms("евро", "евро", "евро", Neuter),
            Forms("цент", "цента", "центов", Masculine),
        ),
        _ => return None,
    })
}

/// Whole units and hundredths of an amount (rounded to the hundredth).
fn split(amount: f64) -> (u64, u64) {
    let cents = (amount.abs() * 100.0).round() as u64;
    (cents / 100, cents % 100)
}

/// The amount in Russian words with the currency's units (an unknown
/// currency: its code after the words, hundredths as a fraction).
pub fn amount_in_words_ru(amount: f64, currency: &str) -> String {
    let (whole, cents) = split(amount);
    let minus = if amount < 0.0 && (whole, cents) != (0, 0) {
        "минус "
    } else {
        ""
    };
    match currency_ru(currency) {
        Some((major, minor)) => format!(
            "{minus}{} {} {cents:02} {}",
            number_ru(whole, major.3),
            plural_ru(whole, &major),
            plural_ru(cents, &minor)
        ),
        None => format!(
            "{minus}{} {cents:02}/100 {currency}",
            number_ru(whole, Gender::Masculine)
        )
        .trim_end()
        .to_string(),
    }
}

const UNITS_EN: [&str; 20] = [
    "",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS_EN: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES_EN: [&str; 4] = ["thousand", "million", "billion", "trillion"];

fn triple_en(n: u64) -> String {
    let (h, rest) = (n / 100, n % 100);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{} hundred", UNITS_EN[h as usize]));
    }
    if rest >= 20 {
        let u = rest % 10;
        parts.push(if u > 0 {
            format!("{}-{}", TENS_EN[(rest / 10) as usize], UNITS_EN[u as usize])
        } else {
            TENS_EN[(rest / 10) as usize].to_string()
        });
    } else if rest > 0 {
        parts.push(UNITS_EN[rest as usize].to_string());
    }
    parts.join(" ")
}

/// A whole number in English words.
fn number_en(n: u64) -> String {
    if n == 0 {
        return "zero".into();
    }
    let mut groups = Vec::new();
    let mut m = n;
    while m > 0 {
        groups.push(m % 1000);
        m /= 1000;
    }
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate().rev() {
        if *g == 0 {
            continue;
        }
        let words = triple_en(*g);
        out.push(if i == 0 {
            words
        } else {
            format!("{words} {}", SCALES_EN[i - 1])
        });
    }
    out.join(" ")
}

/// The English names (singular, plural) of a currency's units.
fn currency_en(code: &str) -> Option<[&'static str; 4]> {
    Some(match code {
        "RUB" | "RUR" => ["ruble", "rubles", "kopeck", "kopecks"],
        "USD" => ["US dollar", "US dollars", "cent", "cents"],
        "EUR" => ["euro", "euros", "cent", "cents"],
        _ => return None,
    })
}

/// The amount in English words with the currency's units.
pub fn amount_in_words_en(amount: f64, currency: &str) -> String {
    let (whole, cents) = split(amount);
    let minus = if amount < 0.0 && (whole, cents) != (0, 0) {
        "minus "
    } else {
        ""
    };
    match currency_en(currency) {
        Some([one, many, c_one, c_many]) => format!(
            "{minus}{} {} {cents:02} {}",
            number_en(whole),
            if whole == 1 { one } else { many },
            if cents == 1 { c_one } else { c_many }
        ),
        None => format!("{minus}{} {cents:02}/100 {currency}", number_en(whole))
            .trim_end()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_words_agree_in_gender_and_number() {
        assert_eq!(
            amount_in_words_ru(25000.0, "RUB"),
            "двадцать пять тысяч рублей 00 копеек"
        );
        assert_eq!(
            amount_in_words_ru(1_221_001.21, "RUB"),
            "один миллион двести двадцать одна тысяча один рубль 21 копейка"
        );
        assert_eq!(
            amount_in_words_ru(2_002.02, "RUB"),
            "две тысячи два рубля 02 копейки"
        );
        assert_eq!(
            amount_in_words_ru(111_000_000.0, "RUB"),
            "сто одиннадцать миллионов рублей 00 копеек"
        );
        assert_eq!(amount_in_words_ru(0.0, "RUB"), "ноль рублей 00 копеек");
        assert_eq!(amount_in_words_ru(1.0, "EUR"), "одно евро 00 центов");
        assert_eq!(amount_in_words_ru(12.5, "XYZ"), "двенадцать 50/100 XYZ");
    }

    #[test]
    fn english_words_have_hyphens_scales_and_plurals() {
        assert_eq!(
            amount_in_words_en(25000.0, "RUB"),
            "twenty-five thousand rubles 00 kopecks"
        );
        assert_eq!(
            amount_in_words_en(1_000_101.01, "USD"),
            "one million one hundred one US dollars 01 cent"
        );
        assert_eq!(amount_in_words_en(1.0, "EUR"), "one euro 00 cents");
        assert_eq!(
            amount_in_words_en(-3.0, "USD"),
            "minus three US dollars 00 cents"
        );
    }
}
