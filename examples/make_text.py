"""Write a small synthetic sentiment dataset: movie reviews made from templates and word lists.

    python examples/make_text.py                # examples/data/reviews.csv, 4,000 rows
    python examples/make_text.py --rows 20000 --out big.csv

Columns: ``review`` (the text), ``sentiment`` (positive / negative) and ``stars`` (1 to 5). What makes it
more than a keyword list: negation flips a clause ("was not good"), in "A but B" the clause after "but"
decides, some adjectives are rare (a few appear in the validation or test texts only), neutral filler
sentences carry no signal, words have typos, and 2 % of the labels are wrong. Templates repeat, so the
file also holds exact duplicates and a few identical texts with different labels, as real data does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SUBJECTS = [
    "the movie", "this film", "the plot", "the acting", "the soundtrack", "the ending", "the cast", "the story",
    "the script", "the cinematography", "the pacing", "this sequel", "the dialogue", "the lead actor", "the finale",
]  # fmt: skip
POSITIVE = [
    "good", "great", "excellent", "wonderful", "brilliant", "delightful", "superb", "charming", "moving",
    "fantastic", "enjoyable", "gripping", "beautiful", "clever", "fun", "memorable", "stunning", "heartfelt",
]  # fmt: skip
NEGATIVE = [
    "bad", "terrible", "awful", "boring", "dull", "weak", "disappointing", "tedious", "predictable", "clumsy",
    "bland", "lifeless", "messy", "forgettable", "painful", "sloppy", "pointless", "shallow",
]  # fmt: skip
RARE_POSITIVE = ["sublime", "riveting", "luminous", "exhilarating", "masterful"]
RARE_NEGATIVE = ["insipid", "turgid", "abysmal", "leaden", "grating"]
INTENSIFIERS = ["", "", "very", "really", "truly", "incredibly", "quite", "so", "rather", "extremely"]
BE = ["was", "is", "felt", "seemed"]
NEGATIONS = ["not", "never", "hardly", "not at all"]
FILLERS = [
    "we watched it on a sunday.", "my friend picked it.", "it runs about two hours.", "the theater was crowded.",
    "saw it last week.", "the popcorn was fine.", "i went in knowing nothing.", "it is based on a novel.",
    "my sister came along.", "there was a long queue.", "it was raining outside.", "we got there late.",
]  # fmt: skip
VERDICTS = {
    True: ["i loved it", "i would recommend it", "worth every minute", "i will watch it again"],
    False: ["i hated it", "i would not recommend it", "a waste of time", "i walked out early"],
}


def adjective(rng: np.random.Generator, positive: bool) -> str:
    common, rare = (POSITIVE, RARE_POSITIVE) if positive else (NEGATIVE, RARE_NEGATIVE)
    return str(rng.choice(rare if rng.random() < 0.04 else common))


def clause(rng: np.random.Generator, positive: bool) -> str:
    """A clause of the given sentiment, half the time by negating an adjective of the other one."""
    subject, be, very = rng.choice(SUBJECTS), rng.choice(BE), rng.choice(INTENSIFIERS)
    if rng.random() < 0.3:
        return f"{subject} {be} {rng.choice(NEGATIONS)} {very} {adjective(rng, not positive)}".replace("  ", " ")
    return f"{subject} {be} {very} {adjective(rng, positive)}".replace("  ", " ")


def review(rng: np.random.Generator, positive: bool) -> str:
    form = rng.integers(5)
    if form == 0:
        text = clause(rng, positive) + "."
    elif form == 1:  # the clause after "but" decides
        text = f"{clause(rng, not positive)}, but {clause(rng, positive)}."
    elif form == 2:
        text = f"{rng.choice(FILLERS)} {clause(rng, positive)}."
    elif form == 3:
        text = f"{clause(rng, positive)}. {rng.choice(VERDICTS[positive])}."
    else:
        text = f"{rng.choice(VERDICTS[positive])}. {clause(rng, positive)}. {rng.choice(FILLERS)}"
    return noisy(rng, text)


def noisy(rng: np.random.Generator, text: str) -> str:
    """Typos (two letters swapped), now and then a capital or an exclamation mark."""
    words = text.split()
    for i, word in enumerate(words):
        if len(word) > 3 and rng.random() < 0.03:
            j = int(rng.integers(len(word) - 1))
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    text = " ".join(words)
    if rng.random() < 0.2:
        text = text[0].upper() + text[1:]
    return text.rstrip(".") + "!!" if rng.random() < 0.1 else text


def make_reviews(rows: int = 4000, seed: int = 0, label_noise: float = 0.02) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    positive = rng.random(rows) < 0.5
    texts = [review(rng, bool(p)) for p in positive]
    strong = np.array([any(w in t for w in ("very", "truly", "incredibly", "extremely")) for t in texts])
    stars = np.where(positive, 4 + strong, 2 - strong)
    flip = rng.random(rows) < label_noise
    labels = np.where(positive ^ flip, "positive", "negative")
    return pd.DataFrame({"review": texts, "sentiment": labels, "stars": stars})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "reviews.csv")
    args = parser.parse_args()
    frame = make_reviews(args.rows, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(f"wrote {len(frame)} reviews to {args.out}")


if __name__ == "__main__":
    main()
