"""The tables of bench/quality.py: scikit-learn's bundled sets and seeded generated tables that look like real ones.

Every generator takes a ``numpy.random.Generator`` (seeded by the task, not by the bench seed: the table is
the same on every run; the bench seed moves deepfit's split and initialisation) and returns a DataFrame whose
label column is ``target``. Each docstring says what signal the target carries, so a score can be read
against what is learnable. Nothing is downloaded; the text corpora live in ``bench/quality_text.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # classification | regression (the text tasks say text-classification)
    make: Callable[[], pd.DataFrame]
    tests: str  # what the task tests, one line (docs/quality.md)
    small: bool = False  # part of --quick


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax_draw(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)


def _cities(rng: np.random.Generator, n_levels: int = 150) -> list[str]:
    syllables = ["ber", "lin", "mar", "sei", "ton", "ville", "ham", "port", "ford", "dale", "ria", "vik", "sk", "ano"]
    names: set[str] = set()
    while len(names) < n_levels:
        names.add("".join(rng.choice(syllables, size=rng.integers(2, 4))).capitalize())
    return sorted(names)


def _zipf_levels(rng: np.random.Generator, levels: list[str], n: int) -> np.ndarray:
    """Indices into ``levels`` with a long tail (a few big cities, many small ones)."""
    weights = 1.0 / np.arange(1, len(levels) + 1) ** 0.9
    return rng.choice(len(levels), size=n, p=weights / weights.sum())


def _mask(rng: np.random.Generator, values: np.ndarray | pd.Series, rate: float) -> pd.Series:
    s = (
        pd.Series(values).astype(object)
        if not np.issubdtype(np.asarray(values).dtype, np.number)
        else pd.Series(values, dtype=float)
    )
    s[rng.random(len(s)) < rate] = np.nan
    return s


def _dates(rng: np.random.Generator, start: str, days: int, n: int) -> pd.DatetimeIndex:
    return pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), unit="D")


# ---------------------------------------------------------------- scikit-learn's bundled sets
def _bundled(name: str) -> Callable[[], pd.DataFrame]:
    def make() -> pd.DataFrame:
        from deepfit.data.builtin import load_builtin

        return load_builtin(name)  # the same frame as data.source: builtin:<name>

    return make


# ---------------------------------------------------------------- generated tables
def churn() -> pd.DataFrame:
    """5,000 customers, 3 classes (stays / downgrades / leaves).

    Signal: leaving rises with support calls, days since the last login (a date column: the model must read
    the date), having no contract and a per-city effect (150 cities, sd 0.8 on the logit); downgrading rises
    with the monthly charge and falls with tenure. Missing cells: age 10 %, data_gb 8 %, last_login 3 %.
    """
    rng, n = _rng(101), 5000
    cities = _cities(rng)
    city = _zipf_levels(rng, cities, n)
    city_effect = rng.normal(0, 0.8, len(cities))
    tenure = np.minimum(rng.exponential(24, n), 120).round()
    charges = rng.normal(60, 20, n).clip(10, 150).round(2)
    contract = rng.random(n) < 0.5
    calls = rng.poisson(1.5, n)
    today = pd.Timestamp("2025-06-30")
    idle_days = rng.exponential(20, n).round()
    last_login = today - pd.to_timedelta(idle_days, unit="D")
    signup = today - pd.to_timedelta(tenure * 30.4 + rng.integers(0, 30, n), unit="D")
    age = rng.normal(45, 14, n).clip(18, 90).round()
    data_gb = rng.lognormal(1.5, 1.0, n).round(2)
    leave = -1.5 + 0.6 * calls + 0.04 * idle_days - 1.2 * contract - 0.02 * tenure + city_effect[city]
    down = -0.5 + 0.03 * (charges - 60) - 0.01 * tenure
    label = _softmax_draw(rng, np.stack([np.zeros(n), down, leave], axis=1))
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charge": charges,
            "city": np.array(cities)[city],
            "has_contract": np.where(contract, "yes", "no"),
            "paperless_billing": np.where(rng.random(n) < 0.6, "yes", "no"),
            "support_calls": calls,
            "signup_date": signup.strftime("%Y-%m-%d"),
            "last_login": _mask(rng, last_login.strftime("%Y-%m-%d"), 0.03),
            "age": _mask(rng, age, 0.10),
            "data_gb": _mask(rng, data_gb, 0.08),
            "target": np.array(["stays", "downgrades", "leaves"])[label],
        }
    )


def taxi_trips() -> pd.DataFrame:
    """8,000 trips, regression of the duration in minutes.

    Signal: duration = distance x minutes-per-km, where minutes-per-km depends on the hour of the pickup
    datetime (rush hours 7-9 and 16-19 are 1.8x slower) and on the weekday (weekends faster), plus a
    per-zone congestion factor (120 zones) and lognormal noise. Distance is heavy-tailed (lognormal).
    """
    rng, n = _rng(102), 8000
    pickup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, n), unit="min")
    hour, weekend = pickup.hour.to_numpy(), pickup.dayofweek.to_numpy() >= 5
    rush = ((hour >= 7) & (hour <= 9)) | ((hour >= 16) & (hour <= 19))
    zones = [f"Z{i:03d}" for i in range(120)]
    zone = _zipf_levels(rng, zones, n)
    congestion = rng.lognormal(0, 0.25, len(zones))
    distance = rng.lognormal(1.0, 0.8, n).round(2)
    per_km = 2.0 * np.where(rush & ~weekend, 1.8, 1.0) * np.where(weekend, 0.8, 1.0) * congestion[zone]
    duration = distance * per_km * rng.lognormal(0, 0.15, n) + 3
    return pd.DataFrame(
        {
            "pickup_datetime": pickup.strftime("%Y-%m-%d %H:%M"),
            "pickup_zone": np.array(zones)[zone],
            "distance_km": distance,
            "passengers": rng.integers(1, 5, n),
            "payment": rng.choice(["card", "cash", "app"], n),
            "target": duration.round(1),
        }
    )


def store_sales() -> pd.DataFrame:
    """3,000 store-days, regression of sales; the target depends on the date.

    Signal: sales = store base (25 stores) x weekday profile (Saturday +40 %, Sunday -30 %) x yearly season
    (December +50 %) x a linear trend over the 3 years x 1.25 on promotion days, plus 8 % noise.
    Temperature is weakly related (through the season) and adds no signal of its own.
    """
    rng, n = _rng(103), 3000
    date = _dates(rng, "2022-01-01", 3 * 365, n)
    store = rng.integers(0, 25, n)
    base = rng.lognormal(7, 0.4, 25)
    dow = np.array([1.0, 0.95, 1.0, 1.05, 1.15, 1.4, 0.7])[date.dayofweek]
    season = 1 + 0.2 * np.sin(2 * np.pi * (date.dayofyear.to_numpy() - 80) / 365) + 0.5 * (date.month == 12)
    trend = 1 + 0.15 * (date - date.min()).days.to_numpy() / 365
    promo = rng.random(n) < 0.2
    sales = base[store] * dow * season * trend * np.where(promo, 1.25, 1.0) * rng.normal(1, 0.08, n)
    temperature = 12 - 10 * np.cos(2 * np.pi * (date.dayofyear.to_numpy() - 15) / 365) + rng.normal(0, 4, n)
    return pd.DataFrame(
        {
            "date": date.strftime("%Y-%m-%d"),
            "store": [f"store_{s:02d}" for s in store],
            "promotion": np.where(promo, "yes", "no"),
            "temperature": temperature.round(1),
            "target": sales.round(2),
        }
    )


def house_prices() -> pd.DataFrame:
    """4,000 houses, regression of the price; high-cardinality city, skewed numerics, missing cells.

    Signal: log price = city level (150 cities, sd 0.35) + 0.8 log(area) + 0.05 rooms - 0.004 age
    + 0.15 garden + noise (sd 0.15); the target is the price itself (skewed). Area is lognormal;
    lot_size is heavy-tailed and irrelevant beyond area. 12 % of year_built, 6 % of rooms are missing.
    """
    rng, n = _rng(104), 4000
    cities = _cities(rng)
    city = _zipf_levels(rng, cities, n)
    level = rng.normal(12, 0.35, len(cities))
    area = rng.lognormal(4.6, 0.35, n)
    rooms = np.clip((area / 25 + rng.normal(0, 1, n)).round(), 1, 12)
    year = rng.integers(1900, 2024, n)
    garden = rng.random(n) < 0.4
    log_price = level[city] + 0.8 * (np.log(area) - 4.6) + 0.05 * rooms - 0.004 * (2024 - year) + 0.15 * garden
    return pd.DataFrame(
        {
            "city": np.array(cities)[city],
            "area_m2": area.round(1),
            "rooms": _mask(rng, rooms, 0.06),
            "year_built": _mask(rng, year, 0.12),
            "garden": np.where(garden, "yes", "no"),
            "lot_size": (area * rng.pareto(1.5, n) * 3).round(1),
            "target": np.exp(log_price + rng.normal(0, 0.15, n)).round(-2),
        }
    )


def fraud() -> pd.DataFrame:
    """10,000 card transactions, 3 % fraud (binary, imbalanced), 10 irrelevant features.

    Signal: fraud logit rises with log amount, at night (hour 0-5), for 3 of 30 merchant categories and for
    young accounts; noise_0..noise_9 are independent of the label.
    """
    rng, n = _rng(105), 10000
    amount = rng.lognormal(3.5, 1.2, n)
    hour = rng.integers(0, 24, n)
    merchant = rng.integers(0, 30, n)
    account_days = rng.exponential(400, n).round()
    risky = np.isin(merchant, [3, 17, 22])
    logit = -4.8 + 0.6 * (np.log(amount) - 3.5) + 1.5 * (hour < 6) + 1.5 * risky - 0.003 * (account_days - 400)
    frame = pd.DataFrame(
        {
            "amount": amount.round(2),
            "hour": hour,
            "merchant_category": [f"mcc_{m:02d}" for m in merchant],
            "account_age_days": account_days,
            "transactions_24h": rng.poisson(2, n),
        }
    )
    for i in range(10):
        frame[f"noise_{i}"] = rng.standard_t(3, n).round(3)
    frame["target"] = np.where(rng.random(n) < _sigmoid(logit), "fraud", "ok")
    return frame


def tiny_clinical() -> pd.DataFrame:
    """150 patients, binary outcome; 4 of 8 features carry signal, 5 % of cells missing.

    Signal: logit = 1.2 z(biomarker_a) - 0.8 z(biomarker_b) + 0.04 (age - 55) + 0.9 smoker; the other
    four columns are noise.
    """
    rng, n = _rng(106), 150
    a, b = rng.lognormal(1, 0.5, n), rng.normal(100, 15, n)
    age, smoker = rng.normal(55, 12, n).round(), rng.random(n) < 0.3
    logit = 1.2 * (a - a.mean()) / a.std() - 0.8 * (b - 100) / 15 + 0.04 * (age - 55) + 0.9 * smoker
    frame = pd.DataFrame(
        {
            "biomarker_a": _mask(rng, a.round(3), 0.05),
            "biomarker_b": _mask(rng, b.round(1), 0.05),
            "age": age,
            "smoker": np.where(smoker, "yes", "no"),
            "site": rng.choice(["north", "south", "east"], n),
            "bmi": _mask(rng, rng.normal(26, 4, n).round(1), 0.05),
            "heart_rate": rng.normal(72, 9, n).round(),
            "cholesterol": rng.normal(200, 35, n).round(),
        }
    )
    frame["target"] = np.where(rng.random(n) < _sigmoid(logit), "event", "no_event")
    return frame


def interactions_large() -> pd.DataFrame:
    """60,000 rows, 20 numeric features, binary; the signal is non-linear (a linear model cannot see it).

    Signal: logit = 2 x0 x1 + 2 sin(2 x2) + 1.5 (|x3| - 0.8) + 1.2 [x4 > 0.5] x5; x6..x19 are noise;
    label noise comes from the logistic draw.
    """
    rng, n = _rng(107), 60000
    x = rng.normal(0, 1, (n, 20))
    logit = (
        2 * x[:, 0] * x[:, 1]
        + 2 * np.sin(2 * x[:, 2])
        + 1.5 * (np.abs(x[:, 3]) - 0.8)
        + 1.2 * (x[:, 4] > 0.5) * x[:, 5]
    )
    frame = pd.DataFrame(x.round(4), columns=[f"x{i}" for i in range(20)])
    frame["target"] = np.where(rng.random(n) < _sigmoid(logit), "yes", "no")
    return frame


def outlier_regression() -> pd.DataFrame:
    """1,500 rows, regression with outliers: 5 % of targets get 10x noise.

    Signal: y = 3 x0 - 2 x1 + x2^2 + 2 sin(x3) + noise (sd 1); x4..x7 are noise. The outliers are in every
    split, so the test R² is lower than the clean signal would allow for every method alike.
    """
    rng, n = _rng(108), 1500
    x = rng.normal(0, 1, (n, 8))
    y = 3 * x[:, 0] - 2 * x[:, 1] + x[:, 2] ** 2 + 2 * np.sin(x[:, 3]) + rng.normal(0, 1, n)
    outlier = rng.random(n) < 0.05
    y = y + outlier * rng.normal(0, 10, n)
    frame = pd.DataFrame(x.round(4), columns=[f"x{i}" for i in range(8)])
    frame["target"] = y.round(3)
    return frame


_GOOD = [
    "excellent",
    "great",
    "love",
    "perfect",
    "sturdy",
    "comfortable",
    "recommend",
    "happy",
    "fast",
    "beautiful",
    "works",
]
_BAD = ["broken", "poor", "refund", "cheap", "disappointed", "slow", "useless", "returned", "faulty", "waste", "awful"]
_NEUTRAL = [
    "the",
    "it",
    "this",
    "product",
    "arrived",
    "box",
    "bought",
    "for",
    "my",
    "with",
    "and",
    "was",
    "is",
    "after",
    "day",
    "week",
    "using",
    "colour",
    "size",
    "price",
    "delivery",
    "order",
    "item",
    "quality",
    "second",
    "time",
    "again",
    "kitchen",
    "office",
    "gift",
]


def reviews() -> pd.DataFrame:
    """2,000 product reviews in a wide table (7 columns beside the label: stays a table, not a text task).

    Signal: the label (positive / negative) follows the balance of good and bad words in review_text
    (mostly neutral words), plus a small effect of a verified purchase; price, category and the other
    columns add little. Tests a free-text column inside a table.
    """
    rng, n = _rng(109), 2000
    positive = rng.random(n) < 0.5
    texts = []
    for pos in positive:
        k = rng.integers(8, 25)
        p_good = 0.2 if pos else 0.07
        p_bad = 0.07 if pos else 0.2
        kind = rng.choice(3, size=k, p=[p_good, p_bad, 1 - p_good - p_bad])
        words = [rng.choice(_GOOD if t == 0 else _BAD if t == 1 else _NEUTRAL) for t in kind]
        texts.append(" ".join(words))
    verified = rng.random(n) < np.where(positive, 0.8, 0.6)
    return pd.DataFrame(
        {
            "review_text": texts,
            "category": rng.choice(["kitchen", "garden", "toys", "books", "audio", "sports", "tools", "baby"], n),
            "price": rng.lognormal(3, 0.9, n).round(2),
            "verified": np.where(verified, "yes", "no"),
            "helpful_votes": rng.poisson(3, n),
            "days_since_purchase": rng.integers(1, 400, n),
            "review_date": _dates(rng, "2024-01-01", 500, n).strftime("%Y-%m-%d"),
            "target": np.where(positive, "positive", "negative"),
        }
    )


def missing_informative() -> pd.DataFrame:
    """3,000 rows, regression; 25 % of cells missing at random and one column missing not at random.

    Signal: y = 2 x0 + x1 - 1.5 x2 + 0.5 x3 x4 + 3 [income missing] + noise (sd 1); income is missing when
    it is high (above its 70th percentile, 80 % of those), so the missingness itself carries signal.
    """
    rng, n = _rng(110), 3000
    x = rng.normal(0, 1, (n, 5))
    income = rng.lognormal(10, 0.6, n)
    hidden = (income > np.quantile(income, 0.7)) & (rng.random(n) < 0.8)
    y = 2 * x[:, 0] + x[:, 1] - 1.5 * x[:, 2] + 0.5 * x[:, 3] * x[:, 4] + 3 * hidden + rng.normal(0, 1, n)
    frame = pd.DataFrame({f"x{i}": _mask(rng, x[:, i].round(4), 0.25) for i in range(5)})
    frame["income"] = pd.Series(income.round(0)).mask(hidden)
    frame["target"] = y.round(3)
    return frame


def tasks() -> dict[str, Task]:
    """Every task of the suite, by name (text tasks included, from bench/quality_text.py)."""
    from quality_text import docstrings, man_pages

    suite = [
        Task("iris", "classification", _bundled("iris"), "150 rows, 3 balanced classes", True),
        Task("wine", "classification", _bundled("wine"), "178 rows, 13 numerics on very different scales", True),
        Task(
            "breast_cancer",
            "classification",
            _bundled("breast_cancer"),
            "30 correlated numerics, binary",
            True,
        ),
        Task("digits", "classification", _bundled("digits"), "1,797 8x8 images as 64 columns, 10 classes", True),
        Task("diabetes", "regression", _bundled("diabetes"), "442 rows, noisy regression (R² ~0.5 at best)", True),
        Task("tiny_clinical", "classification", tiny_clinical, "150 rows, missing cells, 4 noise columns", True),
        Task("outlier_regression", "regression", outlier_regression, "regression with 5 % outlier targets", True),
        Task("reviews", "classification", reviews, "a free-text column inside a wide table", True),
        Task("store_sales", "regression", store_sales, "target driven by the date (weekday, season, trend)"),
        Task("missing_informative", "regression", missing_informative, "25 % missing cells; informative missingness"),
        Task("house_prices", "regression", house_prices, "150-level city, skewed target and numerics, missing cells"),
        Task("churn", "classification", churn, "150-level city, yes/no, dates, missing cells, 3 classes"),
        Task("taxi_trips", "regression", taxi_trips, "datetime (hour, weekday) signal, 120 zones, heavy tails"),
        Task("fraud", "classification", fraud, "3 % positives, heavy-tailed amount, 10 irrelevant features"),
        Task("interactions_large", "classification", interactions_large, "60,000 rows, non-linear signal only"),
        Task("docstrings", "text-classification", docstrings, "docstrings of 6 installed packages, by package"),
        Task("man_pages", "text-classification", man_pages, "Debian man pages' descriptions, by section"),
    ]
    return {task.name: task for task in suite}
