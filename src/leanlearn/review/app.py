"""The review app's Streamlit script (run by ``leanlearn review``; tested with ``streamlit.testing.v1.AppTest``).

Every decision goes through :func:`leanlearn.packs.registry.review_rule`; what the page shows is read back from the
registry on every rerun, never kept in the session (only the reviewer's name is). The query parameter
``?version=<model name>/<version>`` opens that version first.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import streamlit as st

from leanlearn.errors import LeanlearnError
from leanlearn.packs.pack import RulePack
from leanlearn.packs.registry import (
    APPROVED_ALIAS,
    ReviewState,
    default_tracking_uri,
    list_versions,
    load_pack,
    promote_approved,
    read_explanation,
    read_explanation_report,
    review_rule,
    review_state,
)

TRACKING_ENV = "LEANLEARN_REVIEW_TRACKING_URI"
BADGES = {"approved": "✅ approved", "rejected": "❌ rejected", "pending": "⏳ pending"}


def _tracking_uri() -> str:
    return os.environ.get(TRACKING_ENV, "").strip() or default_tracking_uri()


@st.cache_resource(show_spinner=False, max_entries=64)
def _pack(version_uri: str, tracking_uri: str) -> RulePack:
    """A version's pack (immutable, so cached); its review state is read fresh on every rerun."""
    return load_pack(version_uri, tracking_uri=tracking_uri)


def _decide(version_uri: str, rule_id: str, decision: str, tracking_uri: str) -> None:
    """Button callback: record the decision, keep a message for the page."""
    reviewer = str(st.session_state.get("reviewer", "")).strip()
    reason = str(st.session_state.get(f"reason-{rule_id}", "") or "")
    try:
        review_rule(version_uri, rule_id, decision, reviewer, reason or None, tracking_uri=tracking_uri)
    except LeanlearnError as exc:
        st.session_state["flash"] = ("error", str(exc))
        return
    st.session_state["flash"] = ("success", f"rule {rule_id}: {decision} recorded by {reviewer}")
    st.session_state[f"reason-{rule_id}"] = ""


def _promote(version_uri: str, tracking_uri: str) -> None:
    reviewer = str(st.session_state.get("reviewer", "")).strip()
    try:
        promote_approved(version_uri, reviewer, tracking_uri=tracking_uri)
    except LeanlearnError as exc:
        st.session_state["flash"] = ("error", str(exc))
        return
    st.session_state["flash"] = ("success", f"{version_uri} is now {APPROVED_ALIAS!r}")


def _record_text(state: ReviewState, rule_id: str) -> str:
    record = state[rule_id]
    text = f"**Review:** {BADGES.get(record.decision, record.decision)}"
    if record.reviewer:
        text += f" by {record.reviewer}"
    if record.at:
        text += f" on {record.at}"
    if record.reason:
        text += f" — reason: {record.reason}"
    if record.comment:
        text += f"  \n**Comment:** {record.comment}"
    return text


def _sentence(rule: Any, pack: RulePack) -> str:
    """The explanation wing's plain-words sentence where it is installed, else the rule's own description."""
    try:
        from leanlearn.explain import sentence
    except ImportError:  # pragma: no cover - the explain wing is part of leanlearn; kept optional for the app
        return str(rule.describe())
    return str(sentence(rule, pack))


def _corroboration(figures: dict[str, Any]) -> str:
    """One line: does the LightGBM surrogate see the rule (SHAP sign agreement and share on the covered rows)?"""
    def share(key: str) -> str:
        value = figures.get(key)
        return f"{value:.0%}" if isinstance(value, (int, float)) else "n/a"

    verdict = "corroborated" if figures.get("corroborated") else "⚠️ **not corroborated**"
    text = (f"**SHAP corroboration:** {verdict} — sign agreement {share('sign_agreement')}, share of |SHAP| "
            f"{share('shap_share')} on {figures.get('covered_rows', 'n/a')} covered rows")
    if figures.get("reason"):
        text += f" ({figures['reason']})"
    return text


def _evidence(rule: Any) -> str:
    lo, hi = rule.ci
    if rule.shift is not None:
        return (f"n = {rule.n:,} covered rows; {rule.confidence:.1%} of them worse than the overall median "
                f"(95 % CI {lo:.1%}–{hi:.1%}); Cliff's delta {rule.shift.effect_size:.2f}; "
                f"adjusted p = {rule.p_value:.2g}")
    return (f"n = {rule.n:,} covered rows, {rule.hits:,} with {rule.target}; confidence {rule.confidence:.1%} "
            f"(95 % CI {lo:.1%}–{hi:.1%}) vs base rate {rule.base_rate:.1%}; lift {rule.lift:.2f}; "
            f"adjusted p = {rule.p_value:.2g}")


def main() -> None:
    """Draw the page."""
    st.set_page_config(page_title="leanlearn review", layout="wide")
    st.title("leanlearn — rule review")
    tracking_uri = _tracking_uri()
    st.sidebar.text_input("Your name (recorded with every decision)", key="reviewer")
    reviewer = str(st.session_state.get("reviewer", "")).strip()
    flash = st.session_state.pop("flash", None)
    if flash:
        (st.error if flash[0] == "error" else st.success)(flash[1])
    try:
        versions = list_versions(tracking_uri=tracking_uri)
    except LeanlearnError as exc:
        st.error(str(exc))
        return
    if not versions:
        st.info("No leanlearn rule packs are registered in this registry yet: register one with "
                "`leanlearn mine ... --register` or `leanlearn demo`.")
        return
    labels = {f"{name} v{number}" + (f" ({', '.join(aliases)})" if aliases else ""): f"models:/{name}/{number}"
              for name, number, aliases in versions}
    wanted = str(st.query_params.get("version", ""))  # e.g. ?version=leanlearn.ai4i.HDF/2 opens that version
    index = next((i for i, uri in enumerate(labels.values()) if wanted and uri == f"models:/{wanted}"), 0)
    label = st.sidebar.selectbox("Pack version", list(labels), index=index, key="version")
    version_uri = labels[str(label)]
    try:
        pack = _pack(version_uri, tracking_uri)
        state = review_state(version_uri, tracking_uri=tracking_uri)
        explanation = read_explanation(version_uri, tracking_uri=tracking_uri) or {}
    except LeanlearnError as exc:
        st.error(str(exc))
        return
    figures = {str(doc.get("rule_id")): doc for doc in explanation.get("rules", []) if isinstance(doc, dict)}
    if not reviewer:
        st.warning("Enter your name in the sidebar to approve, reject or comment.")
    decided = len(state.rules) - len(state.undecided)
    st.header(f"{state.name} version {state.version}")
    st.markdown(f"Pack **{pack.name}** on line **{pack.line}** · {decided} of {len(state.rules)} rule(s) decided · "
                f"review **{state.summary}** · content hash `{state.content_hash}`")
    st.button(f"Promote to {APPROVED_ALIAS!r}", key="promote", on_click=_promote, args=(version_uri, tracking_uri),
              disabled=not (state.complete and reviewer) or APPROVED_ALIAS in state.aliases,
              help="Possible once every rule is approved or rejected.")
    if explanation:
        with st.expander("Explanation report (dependence plots, what the rules miss)"):
            report = read_explanation_report(version_uri, tracking_uri=tracking_uri)
            if report:
                # a data: URL has an opaque origin: the report's scripts (if any) cannot reach this page's buttons
                data = base64.b64encode(report.encode("utf-8")).decode("ascii")
                st.iframe(f"data:text/html;charset=utf-8;base64,{data}", height=900)
            else:
                st.caption("The figures were logged without the HTML report.")
    for rule in pack.rules:
        rid = str(rule.id)
        with st.container(border=True):
            st.subheader(f"{rid}: {rule.text}")
            st.markdown(_sentence(rule, pack))
            st.caption(_evidence(rule))
            if rid in figures:
                st.markdown(_corroboration(figures[rid]))
                rows = figures[rid].get("counterexamples") or []
                if rows:
                    with st.expander(f"Counterexamples ({len(rows)})"):
                        st.dataframe([{**{k: v for k, v in row.items() if k != "values"},
                                       **(row.get("values") or {})} for row in rows], hide_index=True)
            elif explanation:
                st.caption("No explanation figures for this rule.")
            else:
                st.caption("Not explained yet: run leanlearn explain and log the figures to see SHAP corroboration.")
            st.markdown(_record_text(state, rid))
            st.text_input("Reason or comment", key=f"reason-{rid}")
            left, middle, right = st.columns(3)
            for column, decision, caption in ((left, "approved", "Approve"), (middle, "rejected", "Reject"),
                                              (right, "comment", "Comment")):
                column.button(caption, key=f"{decision}-{rid}", on_click=_decide,
                              args=(version_uri, rid, decision, tracking_uri), disabled=not reviewer)


main()
