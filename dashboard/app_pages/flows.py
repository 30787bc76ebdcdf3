"""Bot flows: pick a flow, edit its states and transitions as YAML, see the machine drawn from
the same data, and import or export documents. Saving validates the flow (unreachable states,
unknown targets, a payload claimed by two flows, Meta's message limits) and shows the error with
the field it names, so staff fix it before any customer meets it."""

from __future__ import annotations

import streamlit as st

from bot.automation.flows import spec, store
from bot.core.errors import Invalid, NotFound
from bot.staff.permissions import Action
from dashboard import state, widgets

PICK = "sd_flow_pick"
LAST = "sd_flow_last"  # the flow last picked or saved: a widget's own state is dropped between pages
TEXT = "sd_flow_yaml"
NEW = "(new flow)"
TEMPLATE = """name: welcome
start: hello
entry:
  payloads: [GET_STARTED]
states:
  hello:
    message:
      text: "Hi {{ first_name or 'there' }}! How can we help?"
      buttons:
        - {title: Prices, payload: PRICES}
        - {title: A person, payload: HUMAN}
    transitions:
      - {postback: PRICES, to: prices}
      - {postback: HUMAN, handover: true}
  prices:
    message: {text: "Everything is on https://shop.example"}
"""


@state.with_db
def flow_names() -> dict[str, int]:
    return {row.name: row.id for row in store.list_flows()}


@state.with_db
def load_text(flow_id: int) -> str:
    return store.export_text(flow_id)


@state.with_db
def save_text(text: str, flow_id: int | None) -> str:
    """Save the edited document; returns the saved flow's name."""
    parsed = spec.from_text(text)
    return store.save(parsed, flow_id).name


def preview(text: str) -> None:
    """The machine as a diagram, drawn from the document being edited (even before saving)."""
    try:
        st.graphviz_chart(spec.to_dot(spec.from_text(text)))
    except Invalid as exc:
        st.caption(f"No diagram yet: {widgets.plain(exc.words)}")


def import_box() -> None:
    upload = st.file_uploader(
        "Import a YAML or JSON flow", type=["yaml", "yml", "json"], key="sd_flow_upload"
    )
    if upload is not None and st.button("Import", key="sd_flow_import"):
        fmt = "json" if upload.name.endswith(".json") else "yaml"
        try:
            name = state.with_db(store.import_text)(upload.getvalue().decode("utf-8"), fmt).name
        except Invalid as exc:
            st.error(f"Not imported: {widgets.plain(exc.words)}")
            return
        state.notice(f"Imported the flow {name}.")
        remember(name)
        st.rerun()


def remember(name: str) -> None:
    """Pick this flow on the next run (after saving a new one too, and when coming back)."""
    st.session_state[LAST] = name
    st.session_state.pop(PICK, None)
    st.session_state.pop(f"{TEXT}_{NEW}", None)  # the next new flow starts from the template


def _picked() -> None:
    st.session_state[LAST] = st.session_state[PICK]


def editor(names: dict[str, int]) -> None:
    if PICK not in st.session_state and st.session_state.get(LAST) in names:
        st.session_state[PICK] = st.session_state[LAST]
    choice = st.selectbox("Flow", [NEW, *names], key=PICK, on_change=_picked)
    flow_id = names.get(choice)
    text = st.text_area(
        "States and transitions (YAML)",
        value=load_text(flow_id) if flow_id else TEMPLATE,
        height=420,
        key=f"{TEXT}_{choice}",
    )
    save, download = st.columns(2)
    if save.button("Validate and save", type="primary", key="sd_flow_save"):
        try:
            name = save_text(text, flow_id)
        except Invalid as exc:
            st.error(f"Not saved: {widgets.plain(exc.words)}")
        except NotFound as exc:
            st.error(f"Not saved: {exc}")
        else:
            state.notice(f"Saved the flow {name}.")
            remember(name)
            st.rerun()
    if flow_id:
        download.download_button(
            "Export YAML", load_text(flow_id), file_name=f"{choice}.yaml", key="sd_flow_export"
        )
    st.subheader("Diagram")
    preview(text)


state.require(state.user_or_stop(), Action.MANAGE_FLOWS)
st.title("Bot flows")
state.show_notice()
editor(flow_names())
import_box()
