"""Several commands in flight on one connection (docs/protocol.md §4.2).

Octa 0.2.1 itself sends one ``Execute`` at a time, but the protocol and the Octa SDK allow
many in flight on one connection: the SDK writes ``Started`` at once, in the order the
``Execute`` lines arrived, and runs every command as its own task, so the output of
several commands interleaves and is told apart only by ``id``.

Because the *plugin* chooses the ids, a host can pair an ``Execute`` with its ``Started``
only by order: **the k-th ``Started`` answers the k-th ``Execute``**. So ``Started`` must
come in ``Execute`` order, every output frame must carry the id of the command that printed
it, and an id must never be reused within a session (not even after its command ended:
a late frame would be attributed to the wrong command).

The id checks need no probe: they send the *opaque command* (the ``noop`` probe if
configured, else empty ``params``) and accept any ending for it. A plugin that names every
command with the same constant id fails them whatever its command language.
"""

from __future__ import annotations

import collections
import uuid

from hypothesis import strategies as st

from octa_conformance.checking import check, expect, fail
from octa_conformance.context import CheckContext
from octa_conformance.host import FakeOcta, PluginRefused, Run, RunResult
from octa_conformance.property_checks import PluginProperty
from octa_conformance.protocol import Kind
from octa_conformance.suite_helpers import describe_opaque, opaque_refused
from octa_conformance.wording import describe_ending, short

# --- helpers --------------------------------------------------------------------------


async def _all_results(
    runs: list[Run], octa: CheckContext, opaque: str | None = None
) -> list[RunResult]:
    """Wait for every Started (in order) and then every terminal frame.

    ``opaque``: the runs are opaque commands so described; a refusal of one is judged by
    ``opaque_refused`` (it may only mean that the plugin does not run that command).
    """
    for run in runs:
        try:
            await run.started()
        except PluginRefused as e:
            if opaque is None:
                raise
            opaque_refused(octa, f"{opaque} (Execute #{run.index + 1})", e.error)
    return [await run.result(octa.timeouts.command) for run in runs]


# --- checks ---------------------------------------------------------------------------


@check(
    "concurrency.distinct-ids",
    "MUST",
    section="4.2",
    summary="64 `Execute`s written back to back on one connection get 64 distinct ids",
)
async def test_distinct_ids(octa: CheckContext) -> None:
    """64 ``Execute``s written back to back on one connection get 64 distinct ids.

    The commands are identical on purpose (Octa may well run the same command twice): the
    opaque command, so that this runs on every plugin.
    """
    count = 64
    params = octa.opaque()
    host = await octa.ready()
    runs = [await host.execute(params) for _ in range(count)]  # no waiting in between
    await _all_results(runs, octa, describe_opaque(octa))
    by_id: dict[str, list[int]] = collections.defaultdict(list)
    for run in runs:
        by_id[run.id or ""].append(run.index + 1)
    shared = {ident: ks for ident, ks in by_id.items() if len(ks) > 1 or not ident}
    expect(
        not shared,
        f"{count} distinct, non-empty ids for {count} Executes in flight together",
        lambda: (
            f"{len(by_id)} distinct ids; "
            + "; ".join(
                f"id {ident!r} named Executes #{', #'.join(map(str, ks[:8]))}"
                + (f" and {len(ks) - 8} more" if len(ks) > 8 else "")
                for ident, ks in list(shared.items())[:4]
            )
        ),
        "make ids unique per session (a counter, or a random UUID v4 as the SDK does), never"
        " derived from the command or from what is currently running",
    )


@check(
    "concurrency.started-in-order",
    "MUST",
    section="4.2",
    probes=("echo",),
    summary=(
        "probe `echo` with a distinct marker per command: the k-th `Started` answers the k-th "
        "`Execute` (its id's output carries the k-th marker)"
    ),
)
async def test_started_in_order(octa: CheckContext) -> None:
    """The k-th ``Started`` answers the k-th ``Execute``.

    Sixteen ``echo`` commands, each printing its own marker, are sent back to back; the
    host pairs them with ``Started`` frames by order, so the id of the k-th ``Started``
    must carry the k-th marker.
    """
    count = 16
    markers = [f"marker-{k:02d}-{uuid.uuid4().hex[:6]}" for k in range(1, count + 1)]
    host = await octa.ready()
    runs = [await host.execute(octa.probe("echo", text=m)) for m in markers]
    results = await _all_results(runs, octa)
    wrong = [
        (k, m, r) for k, (m, r) in enumerate(zip(markers, results, strict=True), 1) if r.stdout != m
    ]
    if wrong:
        k, m, r = wrong[0]
        owner = next((j for j, mm in enumerate(markers, 1) if mm == r.stdout), None)
        fail(
            f"Started #{k} to name the command of Execute #{k} (its output: {m!r})",
            f"Started #{k} named id {r.id!r}, whose output was {short(r.stdout, 60)}"
            + (f", the marker of Execute #{owner}" if owner else "")
            + f" ({len(wrong)} of {count} commands mismatched)",
            "write Started for each Execute at once, in the order the Execute lines arrive",
        )


@check(
    "concurrency.output-attributed",
    "MUST",
    section="4.2",
    probes=("echo",),
    summary=(
        "with 16 commands printing 200 marked lines each, interleaved: every line arrives under "
        "the id of the command that printed it, none lost"
    ),
)
async def test_output_attributed(octa: CheckContext) -> None:
    """With 16 commands printing 200 marked lines each, interleaved, every line arrives
    under the id of the command that printed it, and none is lost."""
    count, lines = 16, 200
    texts = ["\n".join(f"cmd{k:02d}-line{i:03d}" for i in range(lines)) for k in range(count)]
    host = await octa.ready()
    runs = [await host.execute(octa.probe("echo", text=t)) for t in texts]
    results = await _all_results(runs, octa)
    stray = [
        v
        for v in host.violations
        if v.kind in (Kind.UNKNOWN_ID, Kind.FRAME_AFTER_TERMINAL, Kind.DUPLICATE_ID)
    ]
    for k, (text, result) in enumerate(zip(texts, results, strict=True)):
        want = text.split("\n")
        got = result.stdout.split("\n") if result.stdout_lines else []
        if got == want:
            continue
        mine = f"cmd{k:02d}-"
        foreign = [ln for ln in got if not ln.startswith(mine)]
        lost = sorted(set(want) - set(got))
        fail(
            f"the {lines} lines {mine}line000..{lines - 1:03d}, in order, under the id of"
            f" Execute #{k + 1} ({result.id!r})",
            f"{len(got)} lines under that id: {len(foreign)} printed by other commands"
            + (f" (e.g. {foreign[0]!r})" if foreign else "")
            + f", {len(lost)} of its own missing"
            + (f" (e.g. {lost[0]!r})" if lost else "")
            + f"; it ended with {describe_ending(result, 60)}"
            + (f"; {len(stray)} frames with stray ids, e.g. {stray[0]}" if stray else ""),
            "tag every output frame with the id of the command whose pipe it came from",
        )
    expect(
        not stray,
        "no output frame outside its command's Started..terminal span",
        lambda: f"{len(stray)} frame(s) with stray ids, e.g. {stray[0]}",
    )


@check(
    "concurrency.not-serialised",
    "SHOULD",
    section="4.2",
    probes=("echo", "sleep"),
    summary=(
        "probe `sleep` (2 s) then probe `echo`: the echo finishes before the sleep (commands run "
        "concurrently)"
    ),
)
async def test_not_serialised(octa: CheckContext) -> None:
    """Probe ``sleep`` (2 s) then probe ``echo``: the echo finishes first.

    Commands must run concurrently: a plugin that queues them makes a short command wait
    for a long one (and the SDK runs each command as its own task).
    """
    factor = octa.timeouts.factor  # --octa-timeout-scale stretches the 2 s on slow machines
    seconds = 2 if factor == 1 else round(2 * factor, 3)
    host = await octa.ready()
    sleeper = await host.execute(octa.probe("sleep", seconds=seconds))
    echo = await host.execute(octa.probe("echo", text="not serialised"))
    await sleeper.started()
    await echo.started()
    await echo.wait(octa.timeouts.command)
    expect(
        not sleeper.done,
        f"the echo (sent second) to finish while the {seconds} s sleep still runs",
        lambda: f"the sleep ended first ({describe_ending(sleeper.snapshot(), 60)}), then the echo",
        "run every command in its own task/process; do not queue them behind each other",
    )


# --- the property test ------------------------------------------------------------------

MAX_EXAMPLES = 15
MAX_COMMANDS = 220  # per session: keeps the check bounded whatever hypothesis draws
TEXTS = ("a", "b", "same text", "x y")  # few texts: the same command often runs again

# A schedule is a list of batches of echo commands, run "one by one" (each awaited before
# the next is sent), or sent back to back and then awaited ("together"), or sent back to
# back and left running while the next batch is sent ("overlap").
SCHEDULES = st.lists(
    st.tuples(
        st.lists(st.sampled_from(TEXTS), min_size=1, max_size=8),
        st.sampled_from(("one by one", "together", "overlap")),
    ),
    min_size=1,
    max_size=4,
)


class _IdsSeen:
    """The ids the session has named so far, and by which Execute of which schedule."""

    def __init__(self, octa: CheckContext) -> None:
        self.octa = octa
        self.echo = octa.has_probe("echo")
        self.opaque = None if self.echo else describe_opaque(octa)
        self.first_seen: dict[str, tuple[int, int]] = {}  # id -> (Execute #, schedule #)
        self.schedules = 0

    def params(self, text: str) -> str:
        """The echo probe of ``text`` if configured, else the opaque command."""
        return self.octa.probe("echo", text=text) if self.echo else self.octa.opaque()

    async def run(self, host: FakeOcta, schedule: list[tuple[list[str], str]]) -> None:
        """Run one schedule on the shared session; fail if an id is ever reused."""
        if len(host.runs) + sum(len(t) for t, _ in schedule) > MAX_COMMANDS:
            return  # the session's command budget is spent
        self.schedules += 1
        runs: list[Run] = []
        inflight: list[Run] = []
        for texts, mode in schedule:
            for text in texts:
                run = await host.execute(self.params(text))
                runs.append(run)
                inflight.append(run)
                if mode == "one by one":
                    await _all_results(inflight, self.octa, self.opaque)
                    inflight = []
            if mode == "together":
                await _all_results(inflight, self.octa, self.opaque)
                inflight = []
        await _all_results(inflight, self.octa, self.opaque)
        for run in runs:
            n = run.index + 1
            if not run.id:
                fail(
                    f"a non-empty id for Execute #{n} of the session",
                    f"Started{{id: {run.id!r}}}",
                )
            if run.id in self.first_seen:
                m, schedule_no = self.first_seen[run.id]
                fail(
                    f"a fresh id for Execute #{n} of the session (schedule #{self.schedules})",
                    f"id {run.id!r}, already named by Execute #{m} (schedule #{schedule_no})",
                    "never reuse an id within a session, not even after its command ended",
                )
            self.first_seen[run.id] = (n, self.schedules)
        dup = [v for v in host.violations if v.kind is Kind.DUPLICATE_ID]
        expect(not dup, "no Started reusing an id", lambda: str(dup[0]))


@check(
    "concurrency.ids-unique-session",
    "MUST",
    section="4.2",
    summary=(
        "property test (hypothesis): across a session of many sequential and overlapping commands, "
        "no id is ever reused"
    ),
)
async def test_ids_unique_session(octa: CheckContext) -> None:
    """Property test: across a session of many sequential and overlapping commands, no id
    is ever reused.

    Hypothesis draws schedules (batches of 1-8 commands, run one by one, together, or left
    running while the next batch is sent); all of them run in ONE session of one plugin
    process, at most 220 commands in all (no shrinking: the session has a history). The
    commands are ``echo`` probes of a few texts if that probe is configured, else the opaque
    command. The failure names the schedule that was running and the earlier command that
    first had the id.
    """
    ids = _IdsSeen(octa)
    prop: PluginProperty[list[tuple[list[str], str]]] = PluginProperty(
        octa,
        expected="every Execute of the session named by an id not used before in it",
        max_examples=MAX_EXAMPLES,
        respawn=False,
        example_timeout=octa.timeouts.command,
    )
    await prop.run(SCHEDULES, ids.run)
    if prop.host is not None:
        octa.note(f"{len(prop.host.runs)} commands in {ids.schedules} schedules")
