"""The analyzer's structured outputs: one pydantic model per pass, the original's keys (seed §3.8).

Claude is asked for exactly these JSON shapes and every answer is validated against them, so a
malformed or partial answer is a recorded pass failure, never silently published text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PassOutput(BaseModel):
    """Keys are the site's camelCase; unknown keys from the model are dropped."""

    model_config = ConfigDict(extra="ignore")


class PlanPass(PassOutput):
    technologies: list[str] = Field(default_factory=list)
    isComparison: bool = False
    focusAreas: list[str] = Field(default_factory=list)
    domainContext: str = ""
    domain: str = ""


class TargetAnalysis(PassOutput):
    overview: str
    perTarget: dict[str, str] = Field(default_factory=dict)
    comparisonToBaseline: str | None = None


class PerformanceAnalysis(PassOutput):
    overview: str
    findings: list[str] = Field(default_factory=list)
    bottlenecks: list[str] = Field(default_factory=list)


class GlossaryEntry(PassOutput):
    term: str
    definition: str


class CorePass(PassOutput):
    hypothesisVerdict: Literal["validated", "invalidated", "insufficient"] | None = None
    abstract: str | None = None
    targetAnalysis: TargetAnalysis | None = None
    performanceAnalysis: PerformanceAnalysis | None = None
    metricInsights: dict[str, str] | None = None
    codeInsights: dict[str, str] | list[Any] | None = None
    architectureDiagram: str | None = None
    architectureDiagramFormat: str | None = None
    glossary: list[GlossaryEntry] | None = None


class FinopsAnalysis(PassOutput):
    overview: str
    costDrivers: list[str] = Field(default_factory=list)
    projection: str | None = None
    optimizations: list[str] = Field(default_factory=list)


class SecopsAnalysis(PassOutput):
    overview: str
    findings: list[str] = Field(default_factory=list)
    supplyChain: str | None = None


class OpsPass(PassOutput):
    finopsAnalysis: FinopsAnalysis | None = None
    secopsAnalysis: SecopsAnalysis | None = None


class Capability(PassOutput):
    name: str
    values: dict[str, str]


class CapabilityCategory(PassOutput):
    name: str
    capabilities: list[Capability]


class CapabilitiesMatrix(PassOutput):
    technologies: list[str]
    categories: list[CapabilityCategory]
    summary: str | None = None


class Feedback(PassOutput):
    recommendations: list[str] = Field(default_factory=list)
    experimentDesign: list[str] = Field(default_factory=list)


class CapabilitiesPass(PassOutput):
    capabilitiesMatrix: CapabilitiesMatrix | None = None
    feedback: Feedback | None = None


class BodyBlock(PassOutput):
    model_config = ConfigDict(extra="allow")
    type: Literal[
        "text",
        "topic",
        "metric",
        "comparison",
        "capabilityRow",
        "table",
        "architecture",
        "code",
        "callout",
        "recommendation",
        "row",
    ]


class Body(PassOutput):
    blocks: list[BodyBlock]


class BodyPass(PassOutput):
    body: Body | None = None


SECTION_KEYS = (
    "abstract",
    "targetAnalysis",
    "performanceAnalysis",
    "metricInsights",
    "finopsAnalysis",
    "secopsAnalysis",
    "body",
    "capabilitiesMatrix",
    "feedback",
    "architectureDiagram",
    "glossary",
)
