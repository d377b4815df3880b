"""Which significant rules are reported: near-duplicates merged, then a covering selection of findings.

Significance (:mod:`leanlearn.mining.layers`) says a rule is no accident; it does not say the rule adds anything to
the rules beside it. A broad rule (``i1 → waste``, lift 2.2) is significant *because* it contains the rows of a
sharp one (``i0 ∧ i1 ∧ i2 → waste``); printed side by side, the broad one drags the precision of the union down and
states nothing the sharp one does not. Two steps decide, after the correction:

1. **Near-duplicates** (:func:`merge_near_duplicates`). Two rules whose covered rows overlap by a Jaccard share of
   at least ``duplicate_overlap`` (default 0.9) say the same thing: the more significant one stays (at equal
   evidence the one with fewer conditions, then the one stated with ``==`` rather than ``!=``). Complementary
   levels of a categorical are recognised: on a column with exactly two levels ``{A, B}``, ``x != B`` is
   rewritten ``x == A`` (:func:`canonical_conditions`), so two rules differing only in that are one rule.
2. **Covering** (:func:`cover` for binary outcomes, :func:`cover_shift` for numeric ones). Rules are visited
   surest first (highest lower 95 % bound of the confidence; for numeric outcomes, most significant first), and a
   rule becomes a *finding* only when the rows it adds beyond the findings kept before it — its new rows —

   - hold at least ``min_count`` hits,
   - are significantly enriched in the outcome compared with the rows no kept finding covers (one-sided Fisher
     test at ``alpha``; numeric outcomes: one-sided Mann–Whitney of the new rows against those rows), and
   - are sufficiently precise: their confidence reaches ``cover_precision`` (default 0.5) × the rule's own
     confidence, and ``min_confidence`` (numeric outcomes: their Cliff's delta against those rows reaches
     ``cover_precision`` × the rule's).

   Then a backward check: each finding is judged again on the rows no *other* finding covers (a rule visited early
   can be explained by rules kept after it); one that fails there becomes context too.

   A significant rule that fails is *context*: true as a statement, but explained by sharper findings (its reason
   names them). Context rules are not findings — they are not in ``rules_`` and not in a pack; the miner lists
   them in ``context_rules_`` (a :class:`~leanlearn.mining.rules.RuleSet`, ids ``<target>-c01`` …) with the reason
   of each in ``context_reasons_``.

The covering step only removes rules that passed the correction, so it never makes a false rule more likely to be
reported; the tests on new rows are a filter, not a claim, and need no further correction.

Examples
--------
>>> import numpy as np
>>> from leanlearn.mining.rules import Condition, Rule
>>> y = np.zeros(1000, dtype=bool); y[:60] = True; y[100:112] = True
>>> sharp = np.zeros(1000, dtype=bool); sharp[:64] = True             # 60 of 64 rows bad
>>> broad = np.zeros(1000, dtype=bool); broad[:64] = True; broad[100:300] = True  # adds 12 bad of 200
>>> def scored(name, mask):
...     rule = Rule.from_counts([Condition(name, "==", 1)], "waste", hits=int((mask & y).sum()), n=int(mask.sum()),
...                             positives=int(y.sum()), rows=1000)
...     return Candidate(rule, -50.0, mask, 1e-9)
>>> kept, context = cover([scored("broad", broad), scored("sharp", sharp)], y, min_count=5, alpha=0.05,
...                       precision_share=0.5)
>>> [c.rule.text for c in kept], [c.rule.text for c, _ in context]
(['sharp == 1 → waste'], ['broad == 1 → waste'])
>>> context[0][1]
'adds 12 hits in 200 rows (6.0 %) beyond the findings before it; needs a confidence of at least 14 % there'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from leanlearn.mining.rules import Condition, Rule
from leanlearn.mining.stats import fisher_greater_log


@dataclass(frozen=True, slots=True)
class Candidate:
    """A significant rule on its way to the report: the rule, the log of its raw p-value (for ranking), the rows
    it covers and its adjusted p-value."""

    rule: Rule
    logp: float
    mask: np.ndarray
    p_adjusted: float


def _packed(mask: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(mask, dtype=bool))


def _count(packed: np.ndarray) -> int:
    return int(np.bitwise_count(packed).sum())


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Rows both masks cover / rows either covers (1.0 for two empty masks).

    >>> import numpy as np
    >>> jaccard(np.array([1, 1, 0, 0], bool), np.array([1, 1, 1, 0], bool))
    0.6666666666666666
    """
    either = int((a | b).sum())
    return 1.0 if either == 0 else int((a & b).sum()) / either


def canonical_conditions(
    conditions: Sequence[Condition], levels: Mapping[str, frozenset[object]]
) -> tuple[tuple[str, str, str], ...]:
    """Conditions as sorted ``(feature, op, value)`` text, ``x != B`` written ``x == A`` when ``x`` has exactly the
    two levels ``{A, B}`` (missing values satisfy neither form, so both cover the same rows).

    >>> canonical_conditions([Condition("shift", "!=", "late")], {"shift": frozenset({"early", "late"})})
    (('shift', '==', 'early'),)
    """
    out = []
    for c in conditions:
        known = levels.get(c.feature)
        if c.op == "!=" and known is not None and len(known) == 2 and c.value in known:
            (other,) = known - {c.value}
            out.append((c.feature, "==", str(other)))
        else:
            out.append((c.feature, c.op, str(c.value)))
    return tuple(sorted(out))


def _simplicity(rule: Rule) -> tuple[int, int]:
    return len({c.feature for c in rule.conditions}), sum(c.op == "!=" for c in rule.conditions)


def merge_near_duplicates(
    candidates: Sequence[Candidate], threshold: float, levels: Mapping[str, frozenset[object]] | None = None
) -> tuple[list[Candidate], list[tuple[Candidate, Candidate]]]:
    """Keep one rule of each group of near-duplicates; return ``(kept, [(dropped, the rule it duplicates)])``.

    Most significant first (adjusted p, then raw evidence), at equal evidence the simpler rule (fewer conditions,
    then fewer ``!=``); a rule is a duplicate of a kept one when the Jaccard overlap of their covered rows is at
    least ``threshold``, or when both state the same conditions once complementary levels are rewritten
    (:func:`canonical_conditions`).
    """
    levels = levels or {}
    order = sorted(candidates, key=lambda c: (c.p_adjusted, c.logp, *_simplicity(c.rule), -c.rule.hits))
    kept: list[Candidate] = []
    kept_bits: list[np.ndarray] = []
    kept_counts: list[int] = []
    kept_keys: dict[tuple[tuple[str, str, str], ...], Candidate] = {}
    dropped: list[tuple[Candidate, Candidate]] = []
    for cand in order:
        key = canonical_conditions(cand.rule.conditions, levels)
        if key in kept_keys:
            dropped.append((cand, kept_keys[key]))
            continue
        bits = _packed(cand.mask)
        n = _count(bits)
        twin = None
        for other, other_bits, other_n in zip(kept, kept_bits, kept_counts):
            both = _count(bits & other_bits)
            union = n + other_n - both
            if union and both / union >= threshold:
                twin = other
                break
        if twin is not None:
            dropped.append((cand, twin))
            continue
        kept.append(cand)
        kept_bits.append(bits)
        kept_counts.append(n)
        kept_keys[key] = cand
    return kept, dropped


Judge = Callable[[Candidate, np.ndarray, np.ndarray], "str | None"]
Sharper = Callable[[Candidate, np.ndarray], bool]


def _rows(mask: np.ndarray) -> int:
    """Rows set in a boolean mask (``count_nonzero``: no integer copy of a million-row mask, as ``sum`` makes)."""
    return int(np.count_nonzero(mask))


def _greedy(
    ordered: Sequence[Candidate], judge: Judge, sharper: Sharper
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """Visit ``ordered``; ``judge(candidate, new_rows, rest_rows)`` returns ``None`` (a finding) or the reason it is
    context. ``new_rows``: rows the candidate covers that no finding before it covers; ``rest_rows``: rows no
    finding before it covers.

    Then one backward check: a finding kept early can be explained by findings kept after it (a sharp rule
    visited first, ``i1 ∧ i10 ∧ i11`` at 26 %, whose rows all lie in ``i10 ∧ i11`` and ``i0 ∧ i1 ∧ i2``, kept later).
    Each finding, the last kept first, is judged again on the rows no *other* finding covers; one that fails there
    becomes context — unless it is *sharper* than the other findings on its own rows (``sharper(candidate,
    others_rows)``: its rows significantly worse than the rest of the rows the other findings cover, as
    ``tool wear >= 232`` at 20 % inside ``tool wear >= 203`` at 6.5 %) —, and the check repeats on the findings left
    until none fails.
    """
    kept: list[Candidate] = []
    context: list[tuple[Candidate, str]] = []
    union = np.zeros(len(ordered[0].mask), dtype=bool) if ordered else np.zeros(0, dtype=bool)
    for cand in ordered:
        rest = ~union
        new = cand.mask & rest
        reason = judge(cand, new, rest)
        if reason is None:
            kept.append(cand)
            union |= cand.mask
        else:
            context.append((cand, reason))
    # how many findings cover each row: the rows the others cover are those where the count exceeds this one's mask
    # (one pass per finding judged, so the whole check is O(findings² × rows), not cubic)
    covering = np.zeros(union.shape, dtype=np.int32)
    for cand in kept:
        covering += cand.mask
    changed = len(kept) > 1
    while changed:
        changed = False
        for i in range(len(kept) - 1, -1, -1):
            others = covering > kept[i].mask
            rest = ~others
            reason = judge(kept[i], kept[i].mask & rest, rest)
            if reason is not None and not sharper(kept[i], others):
                dropped = kept.pop(i)
                covering -= dropped.mask
                context.append((dropped, reason.replace("the findings before it", "the other findings")))
                changed = len(kept) > 1
                break
    return kept, context


def _percent(x: float) -> str:
    return f"{100 * x:.1f} %" if x < 0.1 else f"{100 * x:.0f} %"


def cover(
    candidates: Sequence[Candidate],
    outcome: np.ndarray,
    *,
    min_count: int,
    alpha: float,
    precision_share: float,
    min_confidence: float = 0.0,
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """Covering selection for a binary outcome: ``(findings, [(context rule, reason)])``.

    Surest first (lower Wilson bound of the confidence, then raw evidence, then fewer conditions). A rule is a
    finding when its new rows hold at least ``min_count`` hits, are enriched in the outcome over the rows no finding
    before it covers (one-sided Fisher, ``p <= alpha``), and reach a confidence of ``max(min_confidence,
    precision_share × rule confidence)``. Findings come back in the order they were kept.
    """
    outcome = np.asarray(outcome, dtype=bool)
    log_alpha = math.log(alpha)
    order = sorted(candidates, key=lambda c: (-c.rule.ci[0], c.logp, *_simplicity(c.rule), -c.rule.hits))

    def judge(cand: Candidate, new: np.ndarray, rest: np.ndarray) -> str | None:
        n_new, h_new = _rows(new), _rows(new & outcome)
        needed = max(min_confidence, precision_share * cand.rule.confidence)
        added = f"adds {h_new:,} hits in {n_new:,} rows"
        if h_new < min_count:
            return f"{added} beyond the findings before it; needs at least {min_count:,} hits"
        confidence = h_new / n_new
        if confidence < needed:
            return (f"{added} ({_percent(confidence)}) beyond the findings before it; needs a confidence of at least "
                    f"{_percent(needed)} there")
        logp = float(fisher_greater_log(np.array([h_new]), np.array([n_new]), _rows(rest & outcome),
                                        _rows(rest))[0])
        if logp > log_alpha:
            return (f"{added} ({_percent(confidence)}) beyond the findings before it: not significantly more than "
                    f"the other rows (p = {math.exp(logp):.2g})")
        return None

    def sharper(cand: Candidate, others: np.ndarray) -> bool:
        inside, outside = cand.mask & others, others & ~cand.mask
        n_in, h_in = _rows(inside), _rows(inside & outcome)
        if n_in == 0 or not outside.any():
            return False
        logp = float(fisher_greater_log(np.array([h_in]), np.array([n_in]), _rows(others & outcome),
                                        _rows(others))[0])
        return logp <= log_alpha

    return _greedy(order, judge, sharper)


def cover_shift(
    candidates: Sequence[Candidate],
    worse_values: np.ndarray,
    *,
    min_count: int,
    alpha: float,
    precision_share: float,
    greater_p: Callable[[np.ndarray, np.ndarray], tuple[float, float]],
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """Covering selection for a numeric outcome (``worse_values``: larger is worse).

    Most significant first (adjusted p, then larger effect). A rule is a finding when its new rows number at least
    ``min_count``, run significantly worse than the rows neither it nor a finding before it covers (``greater_p``:
    one-sided Mann–Whitney p-value and Cliff's delta, ``p <= alpha``), and their effect reaches
    ``precision_share`` × the rule's own Cliff's delta.
    """
    values = np.asarray(worse_values, dtype=float)

    def effect(c: Candidate) -> float:
        return c.rule.shift.effect_size if c.rule.shift is not None else 0.0

    order = sorted(candidates, key=lambda c: (c.p_adjusted, -effect(c), *_simplicity(c.rule)))

    def judge(cand: Candidate, new: np.ndarray, rest: np.ndarray) -> str | None:
        n_new = _rows(new)
        if n_new < min_count:
            return f"adds {n_new:,} rows beyond the findings before it; needs at least {min_count:,}"
        others = rest & ~cand.mask
        p, delta = greater_p(values[new], values[others])
        needed = precision_share * effect(cand)
        if delta < needed:
            return (f"its {n_new:,} rows beyond the findings before it shift the outcome by a Cliff's delta of "
                    f"{delta:.2f}; needs at least {needed:.2f}")
        if p > alpha:
            return (f"its {n_new:,} rows beyond the findings before it are not significantly worse than the other "
                    f"rows (p = {p:.2g})")
        return None

    def sharper(cand: Candidate, others: np.ndarray) -> bool:
        inside, outside = cand.mask & others, others & ~cand.mask
        if _rows(inside) < min_count or not outside.any():
            return False
        return greater_p(values[inside], values[outside])[0] <= alpha

    return _greedy(order, judge, sharper)
