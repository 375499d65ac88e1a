"""The self-compassion break's words: enough variants, rotation, no figures, no grading."""

from __future__ import annotations

import re

import pytest

from kindpulse.breaks import (
    VARIANTS,
    Variant,
    build_variants,
    button_labels,
    choose_variant,
    guided_steps,
    prompt_text,
)

GRADING = ("bad", "poor", "fail", "wrong", "should", "must")
DIGIT = re.compile(r"\d")


def all_texts() -> list[str]:
    texts: list[str] = []
    for i, v in enumerate(VARIANTS):
        texts.extend(s for s in (v.title, v.mindfulness, v.humanity, v.kindness, v.gesture) if s)
        if v.breathing:
            texts.append(v.breathing)
        texts.extend(prompt_text(i))
        for _, title, body in guided_steps(i):
            texts += [title, body]
    labels = button_labels()
    return [*texts, labels.take_break, labels.snooze, labels.okay]


def test_at_least_twelve_distinct_variants() -> None:
    assert len(VARIANTS) >= 12
    assert len(set(VARIANTS)) == len(VARIANTS)
    for step in ("title", "mindfulness", "humanity", "kindness"):
        values = [getattr(v, step) for v in VARIANTS]
        assert len(set(values)) == len(values), step
    assert len({prompt_text(i) for i in range(len(VARIANTS))}) == len(VARIANTS)


def test_every_variant_has_the_three_steps_and_a_soothing_gesture() -> None:
    for v in VARIANTS:
        assert v.mindfulness and v.humanity and v.kindness
        assert "heart" in v.gesture.lower()
        assert v.kindness.startswith("May I")
    assert sum(v.breathing is not None for v in VARIANTS) >= len(VARIANTS) // 2
    assert any("six breaths a minute" in (v.breathing or "") for v in VARIANTS)


def test_words_describe_never_grade() -> None:
    # Plain substrings, stricter than words: "shoulders" is out too.
    for text in all_texts():
        for word in GRADING:
            assert word not in text.lower(), (word, text)


@pytest.mark.parametrize("i", range(len(VARIANTS)))
def test_no_digits_without_show_numbers(i: int) -> None:
    title, body = prompt_text(i, detail="HR 92 bpm, 7 min")
    assert not DIGIT.search(title + body)
    for _, step_title, step_body in guided_steps(i):
        assert not DIGIT.search(step_title + step_body)


def test_show_numbers_adds_the_detail() -> None:
    _, body = prompt_text(0, show_numbers=True, detail="heart rate 12 bpm above usual")
    assert body.endswith("heart rate 12 bpm above usual")
    assert not DIGIT.search(prompt_text(0, show_numbers=True)[1])


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize("day", [0, 1, 20_000])
def test_no_repeats_within_a_day(seed: int, day: int) -> None:
    used: set[int] = set()
    for _ in range(len(VARIANTS)):
        v = choose_variant(day, used, seed)
        assert 0 <= v < len(VARIANTS)
        assert v not in used
        used.add(v)
    assert used == set(range(len(VARIANTS)))
    # Past every variant, it starts over rather than failing.
    assert 0 <= choose_variant(day, used, seed) < len(VARIANTS)


def test_rotation_is_deterministic_and_differs_between_days() -> None:
    assert choose_variant(5, set(), 7) == choose_variant(5, set(), 7)
    firsts = {choose_variant(day, set(), 7) for day in range(30)}
    assert len(firsts) > 1


def test_choose_variant_respects_a_custom_count() -> None:
    used: set[int] = set()
    for _ in range(3):
        used.add(choose_variant(0, used, 1, count=3))
    assert used == {0, 1, 2}
    with pytest.raises(ValueError):
        choose_variant(0, set(), 1, count=0)


def test_user_phrases_are_added() -> None:
    vs = build_variants(["This is tough."], ["Others know this too."], [], replace_builtin=False)
    assert len(vs) == len(VARIANTS) + 1
    own = vs[-1]
    assert (own.mindfulness, own.humanity) == ("This is tough.", "Others know this too.")
    assert own.kindness == VARIANTS[0].kindness  # borrowed where the user gave none
    assert "This is tough." in prompt_text(len(vs) - 1, variants=vs)[1]


def test_user_phrases_replace_builtin() -> None:
    vs = build_variants(
        ["This is tough.", "Here it is again."],
        ["Others know this too."],
        ["May I go easy on myself."],
        replace_builtin=True,
    )
    assert len(vs) == 2
    assert {v.mindfulness for v in vs} == {"This is tough.", "Here it is again."}
    assert all(v.humanity == "Others know this too." for v in vs)
    assert all(v.kindness == "May I go easy on myself." for v in vs)
    used: set[int] = set()
    used.add(choose_variant(3, used, 9, count=len(vs)))
    assert choose_variant(3, used, 9, count=len(vs)) not in used


def test_user_phrases_with_digits_or_blank_are_left_out() -> None:
    vs = build_variants(["Heart at 120 again", "  "], [], [], replace_builtin=True)
    assert vs == VARIANTS
    for i in range(len(vs)):
        assert not DIGIT.search("".join(prompt_text(i, variants=vs)))


def test_guided_steps_take_about_a_minute_and_end_with_thanks() -> None:
    for i in range(len(VARIANTS)):
        steps = guided_steps(i)
        offsets = [s[0] for s in steps]
        assert offsets[0] == 0
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
        assert 45 <= offsets[-1] <= 90
        assert steps[-1][1] == "Thank you"
        bodies = " ".join(s[2] for s in steps)
        v = VARIANTS[i]
        for part in (v.mindfulness, v.humanity, v.kindness, v.gesture):
            assert part in bodies


def test_guided_steps_accept_a_variant_object() -> None:
    v = Variant("T", "M.", "H.", "May I rest.", "Hand on heart.")
    steps = guided_steps(v)
    assert steps[3][2]  # a breathing step even without the variant's own pacing
    assert steps[1][2] == "H."


@pytest.mark.parametrize(
    ("minutes", "label"), [(30.0, "Snooze 30 min"), (15, "Snooze 15 min"), (7.5, "Snooze 7.5 min")]
)
def test_button_labels(minutes: float, label: str) -> None:
    labels = button_labels(minutes)
    assert (labels.take_break, labels.snooze, labels.okay) == ("Take a break", label, "I'm okay")
