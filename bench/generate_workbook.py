"""Generate the full-size benchmark workbook: 18 release tabs, 17,500 release rows, `Statistics`.

    python -m bench.generate_workbook OUT.xlsx [--seed N]

Deterministic for a given seed. Values follow the real 2025 tab's proportions: ~85% of rows with
a Spotify album link (hyperlink or `=HYPERLINK` formula, many with `?si=`), a few track/artist
links, ~93% Bandcamp links, genres drawn from a few thousand distinct names, debut/reissue fills,
vocal-style variants, a few string or empty dates, releases repeated across a year's tabs and one
repeated row per tab, and an "Unannounced Projects" block under each table.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
from datetime import date, timedelta
from pathlib import Path

from tests.support.workbooks import ReleaseSpec, save_workbook

# (tab, release rows): 18 tabs, 17,500 rows in all.
TABS: tuple[tuple[str, int], ...] = (
    ("2025 Prog-metal", 2556),
    ("2025 Prog-rock", 700),
    ("2024 Prog-metal", 2400),
    ("2024 Prog-rock", 650),
    ("2023 Prog-metal", 2100),
    ("2023 Prog-rock", 600),
    ("2022 Prog-metal", 1800),
    ("2022 Prog-rock", 500),
    ("2021 Prog-metal", 1500),
    ("2021 Prog-rock", 450),
    ("2020 Prog-metal", 1300),
    ("2020 Prog-rock", 400),
    ("2020 Reissues & Special Release", 60),
    ("2019 Prog-metal", 1100),
    ("2019 Prog-rock", 350),
    ("2019 Reissues & Special Release", 4),
    ("2018", 600),
    ("2017", 430),
)
TOTAL_ROWS = sum(rows for _, rows in TABS)

_STYLES = (
    "Atmospheric", "Technical", "Melodic", "Progressive", "Avant-Garde", "Brutal", "Dissonant",
    "Symphonic", "Experimental", "Blackened", "Psychedelic", "Post", "Raw", "Funeral", "Cosmic",
    "Industrial", "Folk", "Doom", "Sludgy", "Jazzy", "Cinematic", "Ambient", "Epic", "Gothic",
    "Neo", "Old-School", "Chaotic", "Melancholic", "Space", "Occult", "Orchestral", "Tribal",
    "Electronic", "Acoustic", "Noise", "Drone", "Math", "Crust", "Groove", "Speed", "Harsh",
)  # fmt: skip
_BASES = (
    "Black metal", "Death metal", "Doom metal", "Prog-metal", "Post-metal", "Sludge metal",
    "Heavy metal", "Thrash metal", "Power metal", "Stoner metal", "Metalcore", "Deathcore",
    "Mathcore", "Grindcore", "Djent", "Blackgaze", "Post-Hardcore", "Post-Punk", "Post-rock",
    "Prog-rock", "Screamo", "Hardcore Punk", "Alt-metal", "Nu metal", "Gothic metal",
    "Folk metal", "Symphonic metal", "Jazz fusion", "Krautrock", "Art rock", "Shoegaze",
    "Space rock", "Noise rock", "Math rock", "Dark Ambient", "Synthwave", "Emoviolence",
    "Crossover thrash", "Grunge", "Indie rock", "Electronic", "Trip hop", "Neoclassical",
    "Drone", "Funeral Doom", "Death Doom metal", "Black 'n' Roll", "Djent-core", "Zeuhl",
    "Canterbury scene", "Chamber pop", "Avant-prog", "RIO", "Dungeon synth", "Blues rock",
    "Hard rock", "Desert rock", "Post",
)  # fmt: skip
_VOCALS = (
    ("Harsh", 500), ("Mixed", 273), ("Clean", 173), ("Instrumental", 47), ("Instru./Clean", 2),
    ("Mixed ", 2), ("Instru./Mixed", 1), ("Instru./Harsh", 1), ("", 1),
)  # fmt: skip
_COUNTRIES = (
    "US", "UK", "Germany", "France", "Sweden", "Finland", "Norway", "Poland", "Canada", "Italy",
    "Australia", "Japan", "Brazil", "Netherlands", "Greece", "Spain", "Tampa, FL", "Austin, TX",
    "Québec City, Canada", "London, UK", "Seattle, WA", "Portland, OR", "Chile", "Iceland",
)  # fmt: skip
_WORDS = (
    "Abyss", "Ascension", "Ash", "Astral", "Aurora", "Black", "Blood", "Bone", "Burning", "Cold",
    "Corporeal", "Cosmic", "Crown", "Crystal", "Dawn", "Dead", "Deep", "Dream", "Dust", "Echo",
    "Ember", "Empire", "Eternal", "Falling", "Fire", "Flesh", "Frost", "Furnace", "Ghost",
    "Glass", "Gold", "Grave", "Grey", "Hollow", "Horizon", "Iron", "Light", "Lunar", "Machine",
    "Mirror", "Moon", "Night", "Obsidian", "Ocean", "Pale", "Phantom", "Rain", "Raven", "Red",
    "River", "Ruin", "Salt", "Serpent", "Shadow", "Silent", "Silver", "Sky", "Smoke", "Solar",
    "Sorrow", "Star", "Stone", "Storm", "Sun", "Temple", "Thorn", "Throne", "Tide", "Veil",
    "Void", "Wake", "Wolf", "Wound", "Wraith", "Zenith",
)  # fmt: skip
_ID_ALPHABET = string.ascii_letters + string.digits


def genre_pool(rng: random.Random, size: int = 3000) -> list[str]:
    """A few thousand distinct genre names, with the real sheet's case and spelling variants."""
    names: list[str] = list(_BASES)
    seen = {name.casefold() for name in names}
    while len(names) < size:
        words = rng.sample(_STYLES, rng.choice((1, 1, 2)))
        name = " ".join([*words, rng.choice(_BASES)])
        if rng.random() < 0.05:
            name = name.lower()  # "melodic death metal" next to "Melodic Death metal"
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


def generate_tabs(seed: int = 2025) -> dict[str, list[ReleaseSpec]]:
    rng = random.Random(seed)
    genres = genre_pool(rng)
    # A few hundred common genres carry most rows, as in the real sheet.
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(genres))]
    vocal_names = [name for name, _ in _VOCALS]
    vocal_weights = [weight for _, weight in _VOCALS]
    tabs: dict[str, list[ReleaseSpec]] = {}
    previous_metal: list[ReleaseSpec] = []
    for tab, count in TABS:
        year = int(tab[:4])
        rows: list[ReleaseSpec] = []
        for _ in range(count - 1):
            if previous_metal and "Prog-rock" in tab and rng.random() < 0.03:
                rows.append(rng.choice(previous_metal))  # the same album in both of a year's lists
                continue
            rows.append(
                _release(
                    rng,
                    year=year,
                    reissue_tab="Reissues" in tab,
                    genres=rng.choices(genres, weights, k=rng.choice((1, 1, 2, 2, 3, 4))),
                    vocal=rng.choices(vocal_names, vocal_weights)[0],
                )
            )
        if rows:
            rows.append(rows[rng.randrange(len(rows))])  # one row listed twice in the same tab
        rows.sort(key=_sort_key)
        tabs[tab] = rows
        previous_metal = rows if "Prog-metal" in tab else []
    return tabs


def _sort_key(spec: ReleaseSpec) -> tuple[int, str]:
    value = spec.release_date
    return (value.toordinal() if isinstance(value, date) else 10**7, str(spec.artist or ""))


def _release(
    rng: random.Random, *, year: int, reissue_tab: bool, genres: list[str], vocal: str
) -> ReleaseSpec:
    artist = " ".join(rng.sample(_WORDS, rng.choice((1, 2, 2, 3))))
    album = " ".join(rng.sample(_WORDS, rng.choice((1, 2, 3))))
    roll = rng.random()
    release_date: date | str | None
    if roll < 0.985:
        release_date = date(year, 1, 1) + timedelta(days=rng.randrange(365))
    elif roll < 0.99:
        release_date = date(year, rng.randint(1, 12), 1).strftime("%B %Y")
    elif roll < 0.995:
        release_date = str(year)
    else:
        release_date = None
    slug = artist.lower().replace(" ", "")
    spotify = ""
    if rng.random() < 0.85:
        spotify_id = "".join(rng.choices(_ID_ALPHABET, k=22))
        kind = "album" if rng.random() < 0.99 else rng.choice(("track", "artist"))
        spotify = f"https://open.spotify.com/{kind}/{spotify_id}"
        if rng.random() < 0.75:
            spotify += "?si=" + "".join(rng.choices(_ID_ALPHABET, k=22))
    youtube = ""
    if rng.random() < 0.2:
        youtube = "https://www.youtube.com/watch?v=" + "".join(rng.choices(_ID_ALPHABET, k=11))
    return ReleaseSpec(
        artist=artist,
        album=album,
        release_date=release_date,
        length="LP" if rng.random() < 0.84 else "EP",
        debut=rng.random() < 0.18,
        reissue=reissue_tab or rng.random() < 0.025,
        genres=", ".join(dict.fromkeys(genres)),
        vocal_style=vocal,
        country=rng.choice(_COUNTRIES),
        spotify=spotify,
        bandcamp=(
            f"https://{slug}.bandcamp.com/album/{album.lower().replace(' ', '-')}"
            if rng.random() < 0.93
            else ""
        ),
        youtube=youtube,
        link_style="formula" if rng.random() < 0.21 else "hyperlink",
        length_fill="FFFFFFFF" if rng.random() < 0.014 else None,
    )


def _unannounced(rng: random.Random) -> tuple[ReleaseSpec, ...]:
    return tuple(
        ReleaseSpec(
            " ".join(rng.sample(_WORDS, 2)),
            None if rng.random() < 0.7 else " ".join(rng.sample(_WORDS, 2)),
            "TBA",
            genres="Prog-metal, Death metal",
            vocal_style=None,
            country=None,
        )
        for _ in range(17)
    )


def generate(path: Path, *, seed: int = 2025) -> Path:
    """Write the benchmark workbook to `path` and return it."""
    tabs = generate_tabs(seed)
    return save_workbook(path, tabs, unannounced=_unannounced(random.Random(seed + 1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the benchmark workbook.")
    parser.add_argument("out", type=Path, help="where to write the .xlsx")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    generate(args.out, seed=args.seed)
    size = args.out.stat().st_size
    print(f"{args.out}: {len(TABS)} release tabs, {TOTAL_ROWS} rows, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
