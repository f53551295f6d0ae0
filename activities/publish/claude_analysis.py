"""RUN_ANALYSIS: Claude writes the report's prose in passes; without a key, a computed summary does.

Passes and sections are the original analyzer's (seed §3.8): plan, core (abstract, target/performance
analysis, metric insights, diagram, glossary), finops/secops, capabilities/feedback, body. Each answer
must be JSON matching ``analysis_models``. Each pass is one streamed Messages call that heartbeats while
it runs: a pass takes minutes, the activity's heartbeat timeout is 30 s, and a timed-out attempt would
pay for the call again. 429 (after its ``retry-after``), 529 and overloads are retried with back-off.
Artifacts go to ``<results prefix>analysis/``; the result is merged into summary.json, the report is re-rendered
and the PR's data file refreshed. Unlike the original (bug 26), a pass that failed makes the outcome
unsuccessful with a message naming it. The activity never raises for analysis failures: they are
recorded in the outcome, and nothing here can stop cleanup.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import anthropic
from pydantic import ValidationError
from temporalio import activity

from activities.errors import ResultsStorageFailed
from activities.heartbeating import heartbeating
from activities.publish import github
from activities.publish.analysis_passes import (
    SECTION_KEYS,
    BodyPass,
    CapabilitiesPass,
    CorePass,
    OpsPass,
    PassOutput,
    PlanPass,
)
from activities.publish.computed_analysis import computed_analysis
from activities.publish.contracts import RUN_ANALYSIS, AnalysisOutcome, RunAnalysisInput
from activities.results.pipeline import write_summary_and_report
from activities.results.s3_store import ObjectMissing, ResultsStore
from activities.settings import ResultsSettings
from activities.tls import default_tls
from api import names

RETRY_STATUSES = frozenset({429, 500, 502, 503, 529})
TRANSIENT_ERROR_TYPES = frozenset({"rate_limit_error", "overloaded_error", "api_error"})
PASSES: tuple[tuple[str, type[PassOutput], frozenset[str]], ...] = (
    ("pass_1_plan", PlanPass, frozenset(SECTION_KEYS)),
    (
        "pass_2_core",
        CorePass,
        frozenset(
            {"abstract", "targetAnalysis", "performanceAnalysis", "metricInsights", "architectureDiagram", "glossary"}
        ),
    ),
    ("pass_3_finops_secops", OpsPass, frozenset({"finopsAnalysis", "secopsAnalysis"})),
    ("pass_4_capabilities", CapabilitiesPass, frozenset({"capabilitiesMatrix", "feedback"})),
    ("pass_5_body_synthesis", BodyPass, frozenset({"body"})),
)
INSTRUCTIONS = (
    "You analyse a Kubernetes benchmark experiment. Answer with ONE JSON object and nothing else, matching this "
    "JSON schema:\n{schema}\nRequested sections: {sections}. Base every statement on the numbers given; say so "
    "when data is missing. A machine verdict, if present, was computed from the success criteria."
)


class PassFailed(Exception):
    pass


def analysis_context(summary: dict[str, Any]) -> dict[str, Any]:
    """What Claude sees: summary without raw series (statistics instead), hypothesis, cost, snippets."""
    keep = ("name", "title", "description", "targets", "hypothesis", "costEstimate", "metricStatistics", "tags")
    context = {k: summary[k] for k in keep if k in summary}
    queries = (summary.get("metrics") or {}).get("queries") or {}
    context["metrics"] = {
        name: {k: q.get(k) for k in ("query", "type", "unit", "description", "error", "source") if q.get(k)}
        for name, q in queries.items()
    }
    context["codeSnippets"] = {
        key: {k: s.get(k) for k in ("description", "language", "path", "startLine", "content") if s.get(k)}
        for key, s in (summary.get("codeSnippets") or {}).items()
    }
    if (summary.get("iterationStatus") or {}).get("currentIteration"):
        context["qualityGateNote"] = "metrics were re-collected with shorter windows by the quality gate"
    return context


def extract_json(text: str) -> Any:
    """The first JSON object in the answer, tolerating markdown fences or a preamble."""
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    candidate = fenced.group(1) if fenced else text[text.find("{") : text.rfind("}") + 1]
    return json.loads(candidate)


class Analyzer:
    def __init__(self, settings: ResultsSettings, client: anthropic.AsyncAnthropic) -> None:
        self.settings = settings
        self.client = client
        self.trace: list[dict[str, Any]] = []

    async def run_pass(self, name: str, model: type[PassOutput], sections: list[str], context: str) -> PassOutput:
        prompt = INSTRUCTIONS.format(schema=json.dumps(model.model_json_schema()), sections=", ".join(sections))
        content = f"PASS: {name}\n{prompt}\n\nEXPERIMENT:\n{context}"
        delay = self.settings.analyzer_retry_initial_seconds
        for attempt in range(1, self.settings.analyzer_attempts + 1):
            try:
                message = await self.ask(f"{name} attempt {attempt}", content)
                text = "".join(getattr(block, "text", "") for block in message.content)
                parsed = model.model_validate(extract_json(text))
                self.trace.append({"pass": name, "attempt": attempt, "ok": True, "usage": message.usage.model_dump()})
                return parsed
            except anthropic.APIStatusError as err:
                error, retry = f"HTTP {err.status_code}: {err.message}", _transient(err)
                delay = max(delay, _retry_after(err))
            except anthropic.APIConnectionError as err:
                error, retry = f"connection: {err}", True
            except (ValueError, ValidationError) as err:
                error, retry = f"invalid JSON answer: {str(err)[:500]}", attempt < 2
            self.trace.append({"pass": name, "attempt": attempt, "ok": False, "error": error})
            if not retry or attempt == self.settings.analyzer_attempts:
                raise PassFailed(f"{name}: {error}")
            await heartbeating(asyncio.sleep(delay), f"{name}: {error}; retrying")
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def ask(self, what: str, content: str) -> anthropic.types.Message:
        """One streamed Messages call, heartbeating with the text received so far until the message is complete.

        Streaming, as the SDK recommends for long requests: the connection carries events (and pings)
        the whole time instead of idling for minutes, and a cancelled activity closes it at once.
        """
        received = [0]

        async def stream() -> anthropic.types.Message:
            async with self.client.messages.stream(
                model=self.settings.analyzer_model,
                max_tokens=self.settings.analyzer_max_tokens,
                messages=[{"role": "user", "content": content}],
            ) as events:
                async for text in events.text_stream:
                    received[0] += len(text)
                return await events.get_final_message()

        return await heartbeating(stream(), lambda: f"{what}: {received[0]} characters received")


def _transient(err: anthropic.APIStatusError) -> bool:
    """429/5xx/529 answers, and rate-limit or overload errors sent inside a stream (whose HTTP status is 200)."""
    error = err.body.get("error") if isinstance(err.body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return err.status_code in RETRY_STATUSES or kind in TRANSIENT_ERROR_TYPES


def _retry_after(err: anthropic.APIStatusError) -> float:
    """The ``retry-after`` seconds a 429 names (0 when absent or not a number)."""
    try:
        return max(0.0, float(err.response.headers.get("retry-after", 0)))
    except ValueError:
        return 0.0


def assemble(outputs: dict[str, PassOutput], sections: list[str], model: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name, output in outputs.items():
        if name != "pass_1_plan":
            merged.update(output.model_dump(mode="json", exclude_none=True))
    for key in SECTION_KEYS:
        if key not in sections:
            merged.pop(key, None)
    if merged.get("architectureDiagram", "").lstrip().startswith(("flowchart", "graph")):
        merged["architectureDiagramFormat"] = "mermaid"
    merged["summary"] = merged.get("abstract") or "Analysis incomplete"
    return merged | {"generatedAt": datetime.now(UTC).isoformat(), "model": model, "aiGenerated": True}


def claude_client(settings: ResultsSettings) -> anthropic.AsyncAnthropic:
    """An Anthropic client on the process's shared TLS context (building one loads a CA bundle)."""
    return anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url or None,
        max_retries=0,  # our loop retries, with heartbeats and a bounded count
        timeout=settings.analyzer_timeout_seconds,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=default_tls()),
    )


async def analyse(settings: ResultsSettings, store: ResultsStore, inp: RunAnalysisInput) -> AnalysisOutcome:
    job = names.analysis_job_name(inp.experiment)
    prefix = f"{names.results_prefix(inp.experiment)}analysis/"
    summary: dict[str, Any] = await heartbeating(
        asyncio.to_thread(store.get_json, inp.summary_key), f"reading {inp.summary_key}"
    )
    sections = [str(s) for s in inp.sections]
    summary.setdefault("analyzerConfig", {"sections": sections})
    failures: list[str] = []
    if not settings.claude_enabled:
        analysis = computed_analysis(summary)
        message = "computed summary (ANTHROPIC_API_KEY not set): not AI-written"
    else:
        analyzer = Analyzer(settings, claude_client(settings))
        context = json.dumps(analysis_context(summary), indent=1)
        outputs: dict[str, PassOutput] = {}
        async with analyzer.client:  # its connections are closed when the passes are done
            for name, model, covers in PASSES:
                if name != "pass_1_plan" and not covers.intersection(sections):
                    continue
                try:
                    outputs[name] = await analyzer.run_pass(name, model, sections, context)
                except PassFailed as err:
                    failures.append(str(err))
                    continue
                document = outputs[name].model_dump(mode="json")
                await heartbeating(
                    asyncio.to_thread(store.put_json, f"{prefix}{name}.json", document), f"storing {name}"
                )
        analysis = assemble(outputs, sections, settings.analyzer_model)
        if failures:
            analysis["failedPasses"] = failures
        await heartbeating(asyncio.to_thread(store.put_json, f"{prefix}trace.json", analyzer.trace), "storing trace")
        message = f"{len(outputs)} passes by {settings.analyzer_model}" + (
            f"; failed: {'; '.join(failures)}" if failures else ""
        )
    final_key = f"{prefix}analysis_final.json"
    await heartbeating(asyncio.to_thread(store.put_json, final_key, analysis), f"storing {final_key}")
    summary["analysis"] = analysis
    await heartbeating(asyncio.to_thread(write_summary_and_report, store, settings, summary), "storing the report")
    await heartbeating(asyncio.to_thread(github.update_published_file, settings, summary), "updating the PR data file")
    return AnalysisOutcome(job_name=job, succeeded=not failures, message=message, analysis_key=final_key)


class AnalysisActivities:
    def __init__(self, settings: ResultsSettings, store: ResultsStore | None = None) -> None:
        self.settings = settings
        self._store = store

    @activity.defn(name=RUN_ANALYSIS)
    async def run_analysis(self, inp: RunAnalysisInput) -> AnalysisOutcome:
        """Never raises for an analysis problem: the outcome carries it (analysisPhase Failed + condition)."""
        if self._store is None:  # once: a boto3 client costs tens of milliseconds of CPU to build
            self._store = ResultsStore.from_settings(self.settings)
        store = self._store
        try:
            return await analyse(self.settings, store, inp)
        except (ResultsStorageFailed, ObjectMissing) as err:
            job = names.analysis_job_name(inp.experiment)
            return AnalysisOutcome(job_name=job, succeeded=False, message=f"summary not readable: {err}")
