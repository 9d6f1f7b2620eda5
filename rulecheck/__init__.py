"""rulecheck: the rule evaluator shared by the server and the offline field client.

This package must never import `server`: the field client ships it alone and evaluates the same
rule data (checklist items and checks as plain dicts) the server does.
"""

from .evaluator import (
    COMPLIANT,
    FACT_NAMESPACES,
    INCOMPLETE,
    MAX_DEPTH,
    MAX_NODES,
    NOT_APPLICABLE,
    VIOLATION,
    CheckResult,
    ExpressionError,
    MissingValue,
    RuleResult,
    evaluate,
    evaluate_check,
    evaluate_rule,
    validate_expression,
    variables_of,
)
from .explain import FACT_LABELS, explain_check

__all__ = [
    "COMPLIANT", "FACT_LABELS", "FACT_NAMESPACES", "INCOMPLETE", "MAX_DEPTH", "MAX_NODES", "NOT_APPLICABLE",
    "VIOLATION", "CheckResult", "ExpressionError", "MissingValue", "RuleResult", "evaluate",
    "evaluate_check", "evaluate_rule", "explain_check", "validate_expression", "variables_of",
]
