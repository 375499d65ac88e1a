"""The self-compassion break: the words a prompt offers, and how they rotate.

After Kristin Neff's self-compassion break (Neff, *Self-Compassion*, 2011; self-compassion.org,
"Self-Compassion Break"), every variant carries the three steps:

1. **mindfulness**: name the moment ("this is a moment of strain");
2. **common humanity**: "many people feel this; you are not alone in it";
3. **self-kindness**: "may I be kind to myself right now", with a soothing gesture (a hand
   on the heart) and, in most variants, slow breathing at about six breaths a minute
   (in for a count of five, out for a count of five), written in words.

The words describe, never grade (DESIGN.md, "What the care side must honour"): a prompt
shows no figures unless the user asks for them (``show_numbers``), and no text judges.

Pure: no clock, no randomness beyond a seeded :class:`random.Random`, no IO.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "BUTTON_OKAY",
    "BUTTON_TAKE_BREAK",
    "VARIANTS",
    "ButtonLabels",
    "Variant",
    "build_variants",
    "button_labels",
    "choose_variant",
    "guided_steps",
    "prompt_text",
]

BUTTON_TAKE_BREAK = "Take a break"
BUTTON_OKAY = "I'm okay"

_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Variant:
    """One wording of the break. ``breathing`` None: the variant offers no pacing."""

    title: str
    mindfulness: str
    humanity: str
    kindness: str
    gesture: str
    breathing: str | None = None


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "A moment for you",
        "This is a moment of strain.",
        "Many people feel this; you are not alone in it.",
        "May I be kind to myself right now.",
        "Place a hand on your heart and feel its warmth.",
        "Breathe in slowly while you count to five, and out while you count to five again.",
    ),
    Variant(
        "Pause here",
        "This is hard right now.",
        "Struggle is part of being human; others feel this too.",
        "May I give myself the kindness I need.",
        "Rest one hand over your heart and the other on your belly.",
    ),
    Variant(
        "A gentle pause",
        "Something here feels heavy, and it is okay to notice it.",
        "All around you, people are carrying days like this one.",
        "May I be patient with myself.",
        "Let a hand rest over your heart, as you might comfort a friend.",
        "Let each breath be slow: in for a count of five, out for a count of five, "
        "about six breaths a minute.",
    ),
    Variant(
        "Breathing room",
        "This is a stressful moment.",
        "You are not the only one; stress touches everyone.",
        "May I accept myself as I am in this moment.",
        "Place both hands over your heart and feel them rise and fall.",
        "Slow your breath until one breath in and out takes about ten seconds.",
    ),
    Variant(
        "Kindness, now",
        "Your body is working hard right now.",
        "Feeling stretched thin is something every person knows.",
        "May I speak to myself as I would to a good friend.",
        "Put a hand on your heart; notice the warmth and the gentle pressure.",
    ),
    Variant(
        "Notice, soften, allow",
        "Notice the tension; this is what strain feels like.",
        "People everywhere feel this way at times; it connects you with them.",
        "May I soften toward myself.",
        "Lay a hand on your heart, and let your jaw and brow soften.",
        "Breathe in gently through the nose, counting to five, and out, counting to five.",
    ),
    Variant(
        "You can pause",
        "This is a moment of pressure.",
        "Anyone in your place would feel it too.",
        "May I give myself the compassion I would give someone I love.",
        "Place a hand where it feels comforting: on your heart, your cheek or your arm.",
    ),
    Variant(
        "Be gentle with yourself",
        "Right now, things feel like a lot.",
        "Difficulty is part of every life; it is shared, not solitary.",
        "May I be gentle with myself.",
        "Rest a hand on your heart and feel it beneath your palm.",
        "Take a few long, unhurried breaths, about six in a minute.",
    ),
    Variant(
        "A breath for you",
        "This is uncomfortable, and noticing it is enough for now.",
        "Many people are meeting their own strain at this very moment.",
        "May I meet myself with understanding.",
        "Place a hand on your heart, as if holding something precious.",
        "Breathe out a little longer than you breathe in, slowly, a handful of times.",
    ),
    Variant(
        "Here and now",
        "This is a moment of stress, and moments pass.",
        "You share this with countless others; no one is spared such moments.",
        "May I be steady and kind with myself.",
        "Place your hand over your heart and let it rest there.",
        "Count five slow beats in and five slow beats out, about six breaths a minute.",
    ),
    Variant(
        "Care for yourself",
        "This is difficult.",
        "Everyone struggles sometimes; this is part of being human.",
        "May I offer myself some warmth.",
        "Hold one hand in the other, or place it gently on your heart.",
    ),
    Variant(
        "Take a kind moment",
        "Stress is here right now.",
        "People you know, and people you never will, have felt just this.",
        "May I treat myself with care.",
        "Place a hand on your heart and feel the steady warmth there.",
        "Let your breath settle into an easy rhythm, in for five, out for five.",
    ),
    Variant(
        "A little compassion",
        "This moment is asking a lot of you.",
        "You are not alone in this; others feel the same pull.",
        "May I be kind to myself, just as I am.",
        "Rest a hand on your heart; feel how it carries you.",
        "Breathe slowly, as if breathing in calm and breathing out tension.",
    ),
    Variant(
        "Return to yourself",
        "Notice it: this is a moment of strain.",
        "Strain is a shared human experience; many feel it today.",
        "May I hold this moment with kindness.",
        "Lay a warm hand on your heart.",
    ),
)

_THANKS: tuple[str, ...] = (
    "Thank you for taking this moment for yourself.",
    "Thank you for pausing. Carry a little of this kindness with you.",
    "Thank you. You can come back to this whenever you like.",
)

_DEFAULT_BREATHING = "Stay here for a few slow, easy breaths."


def _usable(phrases: Iterable[str]) -> list[str]:
    """User phrases fit for a prompt: stripped, non-empty, and without figures (a prompt
    shows no numbers unless the user turns them on)."""
    return [p.strip() for p in phrases if p.strip() and not _DIGIT.search(p)]


def build_variants(
    phrases_mindfulness: Iterable[str] = (),
    phrases_humanity: Iterable[str] = (),
    phrases_kindness: Iterable[str] = (),
    replace_builtin: bool = False,
) -> tuple[Variant, ...]:
    """The variants to rotate through, with the user's own phrases (``[prompts]``).

    The user's phrases make extra variants (as many as the longest list; a shorter list
    cycles, an empty one borrows the built-in wording), added after the built-in ones or,
    with ``replace_builtin``, in their place. Phrases containing digits are left out. If
    nothing usable remains, the built-in variants are used.
    """
    mind = _usable(phrases_mindfulness)
    human = _usable(phrases_humanity)
    kind = _usable(phrases_kindness)
    count = max(len(mind), len(human), len(kind))
    own: list[Variant] = []
    for i in range(count):
        base = VARIANTS[i % len(VARIANTS)]
        own.append(
            Variant(
                title="A moment for you",
                mindfulness=mind[i % len(mind)] if mind else base.mindfulness,
                humanity=human[i % len(human)] if human else base.humanity,
                kindness=kind[i % len(kind)] if kind else base.kindness,
                gesture=base.gesture,
                breathing=base.breathing,
            )
        )
    if replace_builtin and own:
        return tuple(own)
    return VARIANTS + tuple(own)


def choose_variant(
    day_index: int, used_today: set[int], rng_seed: int, count: int = len(VARIANTS)
) -> int:
    """The next variant index for today.

    Each day has its own order (a permutation of ``range(count)`` seeded by ``rng_seed``
    and ``day_index``, e.g. days since the epoch); the first index of that order not in
    ``used_today`` is chosen, so none repeats within a day. Only when every variant has
    been used that day does the order start over.
    """
    if count <= 0:
        raise ValueError("count must be positive")
    order = list(range(count))
    random.Random(rng_seed * 1_000_003 + day_index).shuffle(order)
    for index in order:
        if index not in used_today:
            return index
    return order[len(used_today) % count]


def _variant(variant: int | Variant, variants: Sequence[Variant]) -> Variant:
    return variant if isinstance(variant, Variant) else variants[variant % len(variants)]


def prompt_text(
    variant: int | Variant,
    show_numbers: bool = False,
    detail: str | None = None,
    variants: Sequence[Variant] = VARIANTS,
) -> tuple[str, str]:
    """Title and body of the prompt notification for ``variant``.

    The body holds the three steps in brief. ``detail`` (e.g. the episode's explanation,
    which has figures) is added only when ``show_numbers``; otherwise title and body hold
    no digits at all.
    """
    v = _variant(variant, variants)
    body = f"{v.mindfulness} {v.humanity} {v.gesture} {v.kindness}"
    if show_numbers and detail:
        body = f"{body}\n{detail}"
    return v.title, body


def guided_steps(
    variant: int | Variant, variants: Sequence[Variant] = VARIANTS
) -> list[tuple[float, str, str]]:
    """The break itself, paced over about a minute: ``(seconds_offset, title, body)``.

    Mindfulness, common humanity, self-kindness with the gesture, slow breathing (about six
    breaths a minute), then a thank-you. Offsets are seconds from the start of the break.
    """
    v = _variant(variant, variants)
    index = variants.index(v) if v in variants else 0
    return [
        (0.0, v.title, f"{v.mindfulness} Take a moment to notice how it feels in your body."),
        (15.0, "You are not alone", v.humanity),
        (30.0, "Be kind to yourself", f"{v.gesture} {v.kindness}"),
        (45.0, "Breathe slowly", v.breathing or _DEFAULT_BREATHING),
        (60.0, "Thank you", _THANKS[index % len(_THANKS)]),
    ]


@dataclass(frozen=True, slots=True)
class ButtonLabels:
    """The three buttons of a prompt; ``take_break`` is also the default action."""

    take_break: str
    snooze: str
    okay: str


def button_labels(snooze_min: float = 30.0) -> ButtonLabels:
    """Labels for the prompt's buttons; the snooze one names its minutes (a button may hold
    digits: it states a span, not a score)."""
    return ButtonLabels(BUTTON_TAKE_BREAK, f"Snooze {snooze_min:g} min", BUTTON_OKAY)
