"""Writes rulecheck/conformance_vectors.json: cases with the outcomes `rulecheck` gives them.

The phone app's evaluator (field_app/src/evaluator.js) must agree with rulecheck on every case
(field_app/test/evaluator.test.js), and rulecheck must still agree with the file
(tests/evaluator/test_conformance_vectors.py). After an intended change of rulecheck or of
rules.yaml, regenerate and commit the file:

    .venv/bin/python -m rulecheck.make_conformance_vectors

Each case: {name, rule, venue, observations, [extra_facts], then either verdict and checks
[{code, outcome, description, missing, shown}] or error {type, message}} — `error` when
rulecheck raises for the case (a malformed expression: ExpressionError, with its Chinese
message). `shown` is `explain_check` for the check with the rule's items.

The output is deterministic (no time, no randomness, stable key order) so that regenerating
without a change gives the same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from rulecheck import ExpressionError, evaluate_rule, explain_check

ROOT = Path(__file__).resolve().parents[1]
RULES_FILE = ROOT / "server" / "reference" / "rules.yaml"
VECTORS_FILE = Path(__file__).resolve().parent / "conformance_vectors.json"


def load_rules() -> dict[str, dict]:
    """The rules of rules.yaml as the bundles the evaluator reads: {code, items, checks}."""
    return {rule["code"]: bundle(rule) for rule in yaml.safe_load(RULES_FILE.read_text("utf-8"))["rules"]}


def bundle(rule: dict) -> dict:
    # Titles and source text do not affect an outcome; leaving them out keeps the file readable.
    return {"code": rule["code"], "items": rule.get("items", []), "checks": rule.get("checks", [])}


def rule_context(venue, observations, extra_facts) -> dict:
    """The facts exactly as `evaluate_rule` assembles them (explain_check needs the same)."""
    context = {"venue": venue or {}, "obs": observations or {}}
    context.update(extra_facts or {})
    return context


def expected(case: dict) -> dict:
    """`case` completed with what rulecheck answers for it."""
    rule, venue, observations = case["rule"], case["venue"], case["observations"]
    extra_facts = case.get("extra_facts")
    try:
        result = evaluate_rule(rule, venue=venue, observations=observations, extra_facts=extra_facts)
    except (ExpressionError, KeyError) as error:
        return {**case, "error": {"type": type(error).__name__, "message": str(error)}}
    context = rule_context(venue, observations, extra_facts)
    checks = []
    for check, check_result in zip(rule.get("checks", ()), result.checks):
        checks.append({**check_result.as_dict(), "shown": explain_check(check, context, rule.get("items"))})
    return {**case, "verdict": result.verdict, "checks": checks}


# ---------------------------------------------------------------- the cases


def _case(name, rule, venue=None, observations=None, extra_facts=None) -> dict:
    case = {"name": name, "rule": rule, "venue": venue or {}, "observations": observations or {}}
    if extra_facts is not None:
        case["extra_facts"] = extra_facts
    return case


def _synthetic(code, expression, *, applies_when=None, items=None, description="测试检查") -> dict:
    check = {"code": f"{code.lower()}_check", "description": description}
    if applies_when is not None:
        check["applies_when"] = applies_when
    check["expression"] = expression
    return {"code": code, "title": "一致性测试规则", "items": items or [], "checks": [check]}


def _var(name, *default):
    return {"var": [name, *default]} if default else {"var": name}


def rule_cases(rules: dict[str, dict]) -> list[dict]:
    """Every rule of rules.yaml: compliant, violation, incomplete and (where it can be) not applicable."""
    k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11 = (rules[f"K{n}"] for n in range(1, 12))
    cases = [
        _case("K1 KTV 已关停", k1, {"category": "ktv"}, {"k1_operating": False}),
        _case("K1 KTV 仍营业", k1, {"category": "ktv"}, {"k1_operating": True}),
        _case("K1 培训机构已停课", k1, {"category": "training_institution"}, {"k1_operating": False}),
        _case("K1 培训机构仍上课", k1, {"category": "training_institution"}, {"k1_operating": True}),
        _case("K1 未记录营业情况", k1, {"category": "ktv"}, {}),
        _case("K1 场所类别也缺", k1, {}, {}),
        _case("K2 半封闭且无探访", k2, {"category": "school"}, {"k2_semi_closed": True, "k2_nonessential_visits": False}),
        _case("K2 未半封闭", k2, {"category": "school"}, {"k2_semi_closed": False, "k2_nonessential_visits": False}),
        _case("K2 有非必要探访", k2, {"category": "school"}, {"k2_semi_closed": True, "k2_nonessential_visits": True}),
        _case("K2 违规与缺项并存", k2, {"category": "elderly_care"}, {"k2_semi_closed": False}),
        _case("K2 缺一项", k2, {"category": "elderly_care"}, {"k2_semi_closed": True}),
        _case("K2 全未记录", k2, {"category": "child_welfare"}, {}),
        _case("K2 记录为空值", k2, {"category": "child_welfare"}, {"k2_semi_closed": None, "k2_nonessential_visits": None}),
    ]
    capacity = [
        (12, 5), (12, 6), (12, 7), (13, 6), (13, 7), (11, 5), (11, 6), (800, 400), (800, 401),
        (1, 0), (1, 1), (0, 0), (0, 1), (12, -1),
    ]
    for approved, visitors in capacity:
        cases.append(_case(f"K3 核定 {approved} 人，接待 {visitors} 人", k3,
                           {"category": "museum", "approved_capacity": approved}, {"k3_visitors": visitors}))
    cases += [
        _case("K3 接待人数为小数 6.5（核定 13）", k3, {"category": "museum", "approved_capacity": 13}, {"k3_visitors": 6.5}),
        _case("K3 接待人数为小数 6.6（核定 13）", k3, {"category": "museum", "approved_capacity": 13}, {"k3_visitors": 6.6}),
        _case("K3 接待人数为文字 \"7\"", k3, {"category": "museum", "approved_capacity": 12}, {"k3_visitors": "7"}),
        _case("K3 接待人数为分数文字 \"13/2\"", k3, {"category": "museum", "approved_capacity": 13}, {"k3_visitors": "13/2"}),
        _case("K3 接待人数为全角数字", k3, {"category": "museum", "approved_capacity": 12}, {"k3_visitors": "７"}),
        _case("K3 核定人数为分数文字", k3, {"category": "museum", "approved_capacity": "25/2"}, {"k3_visitors": 6}),
        _case("K3 缺核定人数", k3, {"category": "museum"}, {"k3_visitors": 7}),
        _case("K3 核定人数为空", k3, {"category": "museum", "approved_capacity": None}, {"k3_visitors": 7}),
        _case("K3 全缺", k3, {}, {}),
        _case("K3 未记录接待人数", k3, {"category": "gymnasium", "approved_capacity": 1000}, {}),
        _case("K4 参加 50 人（容纳 100）", k4, {"category": "religious_site", "approved_capacity": 100}, {"k4_participants": 50}),
        _case("K4 参加 51 人（容纳 100）", k4, {"category": "religious_site", "approved_capacity": 100}, {"k4_participants": 51}),
        _case("K4 容纳 99，参加 49", k4, {"category": "folk_belief_site", "approved_capacity": 99}, {"k4_participants": 49}),
        _case("K4 容纳 99，参加 50", k4, {"category": "folk_belief_site", "approved_capacity": 99}, {"k4_participants": 50}),
        _case("K4 未记录人数", k4, {"category": "religious_site", "approved_capacity": 100}, {}),
        _case("K5 无包厢聚餐", k5, {"category": "restaurant"}, {"k5_private_room_in_use": False}),
        _case("K5 包厢 8 座 4 人", k5, {"category": "restaurant"},
              {"k5_private_room_in_use": True, "k5_private_room_seats": 8, "k5_private_room_diners": 4}),
        _case("K5 包厢 8 座 5 人", k5, {"category": "restaurant"},
              {"k5_private_room_in_use": True, "k5_private_room_seats": 8, "k5_private_room_diners": 5}),
        _case("K5 包厢 7 座 3 人", k5, {"category": "restaurant"},
              {"k5_private_room_in_use": True, "k5_private_room_seats": 7, "k5_private_room_diners": 3}),
        _case("K5 包厢 7 座 4 人", k5, {"category": "restaurant"},
              {"k5_private_room_in_use": True, "k5_private_room_seats": 7, "k5_private_room_diners": 4}),
        _case("K5 包厢在用但未记录人数", k5, {"category": "restaurant"},
              {"k5_private_room_in_use": True, "k5_private_room_seats": 10}),
        _case("K5 包厢在用但全未记录", k5, {"category": "restaurant"}, {"k5_private_room_in_use": True}),
        _case("K5 未记录是否有包厢", k5, {"category": "restaurant"}, {"k5_takeaway_promoted": True}),
        _case("K6 无红白事", k6, {"category": "wedding_banquet"}, {"k6_event_in_progress": False}),
        _case("K6 已报备审批", k6, {"category": "wedding_banquet"},
              {"k6_event_in_progress": True, "k6_reported_approved": True, "k6_attendees": 30}),
        _case("K6 未报备审批", k6, {"category": "funeral_event"},
              {"k6_event_in_progress": True, "k6_reported_approved": False}),
        _case("K6 未记录审批", k6, {"category": "funeral_home"}, {"k6_event_in_progress": True}),
        _case("K6 全未记录", k6, {"category": "funeral_home"}, {}),
        _case("K7 会议已审批", k7, {"category": "meeting_event"},
              {"k7_event_in_progress": True, "k7_event_approved": True}),
        _case("K7 会议未审批", k7, {"category": "meeting_event"},
              {"k7_event_in_progress": True, "k7_event_approved": False}),
        _case("K7 酒店会议已审批未报属地", k7, {"category": "hotel"},
              {"k7_event_in_progress": True, "k7_event_approved": True, "k7_hotel_reported": False}),
        _case("K7 酒店会议均已报备", k7, {"category": "hotel"},
              {"k7_event_in_progress": True, "k7_event_approved": True, "k7_hotel_reported": True}),
        _case("K7 酒店无会议", k7, {"category": "hotel"}, {"k7_event_in_progress": False}),
        _case("K7 酒店会议未记录报备", k7, {"category": "hotel"}, {"k7_event_in_progress": True}),
        _case("K7 类别与记录均缺", k7, {}, {"k7_event_in_progress": True}),
        _case("K8 未遇到带星号人员", k8, {"category": "hotel"},
              {"k8_codes_checked": True, "k8_starred_person_present": False}),
        _case("K8 绿码无风险，核验报告并签承诺书后入住", k8, {"category": "hotel"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "green",
               "k8_starred_admitted": True, "k8_starred_risk_history": False, "k8_nat_report_verified": True,
               "k8_commitment_signed": True}),
        _case("K8 仅签承诺书、未核验核酸报告即入住", k8, {"category": "hotel"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "green",
               "k8_starred_admitted": True, "k8_starred_risk_history": False, "k8_nat_report_verified": False,
               "k8_commitment_signed": True}),
        _case("K8 核验报告但未签承诺书即进站", k8, {"category": "station"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "green",
               "k8_starred_admitted": True, "k8_starred_risk_history": False, "k8_nat_report_verified": True,
               "k8_commitment_signed": False}),
        _case("K8 黄码人员被放行", k8, {"category": "hotel"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "yellow",
               "k8_starred_admitted": True, "k8_nat_report_verified": True, "k8_commitment_signed": True}),
        _case("K8 红码人员未放行", k8, {"category": "airport"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "red",
               "k8_starred_admitted": False}),
        _case("K8 有中高风险地区旅居史人员凭报告和承诺书进入", k8, {"category": "hotel"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "green",
               "k8_starred_admitted": True, "k8_starred_risk_history": True, "k8_nat_report_verified": True,
               "k8_commitment_signed": True}),
        _case("K8 带星号人员未放行、未记录健康码", k8, {"category": "station"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_admitted": False}),
        _case("K8 放行但未记录健康码", k8, {"category": "station"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_admitted": True}),
        _case("K8 绿码放行但未记录旅居史和核验情况", k8, {"category": "hotel"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "green",
               "k8_starred_admitted": True}),
        _case("K8 入口未查验", k8, {"category": "station"},
              {"k8_codes_checked": False, "k8_starred_person_present": False}),
        _case("K8 未知的健康码颜色", k8, {"category": "station"},
              {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "蓝码",
               "k8_starred_admitted": True}),
        _case("K8 未记录任何一项", k8, {"category": "airport"}, {}),
        _case("K8 未记录是否遇到带星号人员", k8, {"category": "station"}, {"k8_codes_checked": True}),
        _case("K9 不列入场所检查表", k9, {}, {}),
        _case("K10 入口措施齐全", k10, {"category": "shopping_mall"},
              {"k10_temperature_checked": True, "k10_health_code_checked": True, "k10_travel_card_checked": True,
               "k10_masks_worn": True, "k10_staff_screened": True}),
        _case("K10 未查行程卡", k10, {"category": "hospital"},
              {"k10_temperature_checked": True, "k10_health_code_checked": True, "k10_travel_card_checked": False,
               "k10_masks_worn": True, "k10_staff_screened": True}),
        _case("K10 入口措施全缺", k10, {"category": "construction_site"},
              {"k10_temperature_checked": False, "k10_health_code_checked": False, "k10_travel_card_checked": False,
               "k10_masks_worn": False, "k10_staff_screened": False}),
        _case("K10 全未记录", k10, {"category": "clinic"}, {}),
        _case("K10 部分未记录", k10, {"category": "pharmacy"},
              {"k10_temperature_checked": True, "k10_masks_worn": True}),
        _case("K10 部分未记录且有违规", k10, {"category": "pharmacy"},
              {"k10_temperature_checked": False, "k10_masks_worn": True}),
        _case("K11 开展排查、未抽查", k11, {"category": "community"}, {"k11_dragnet_screening": True}),
        _case("K11 抽查 5 人均三码联查", k11, {"category": "village"},
              {"k11_dragnet_screening": True, "k11_arrivals_sampled": 5, "k11_arrivals_unchecked": 0}),
        _case("K11 抽查 5 人 2 人未查", k11, {"category": "village"},
              {"k11_dragnet_screening": True, "k11_arrivals_sampled": 5, "k11_arrivals_unchecked": 2}),
        _case("K11 抽查 0 人", k11, {"category": "village"},
              {"k11_dragnet_screening": True, "k11_arrivals_sampled": 0}),
        _case("K11 抽查但未记录未查人数", k11, {"category": "community"},
              {"k11_dragnet_screening": True, "k11_arrivals_sampled": 5}),
        _case("K11 未开展排查", k11, {"category": "community"}, {"k11_dragnet_screening": False}),
        _case("K11 全未记录", k11, {"category": "community"}, {}),
    ]
    return cases


ITEMS = [
    {"code": "count", "prompt": "人数（人）", "value_type": "integer"},
    {"code": "seats", "prompt": "座位数（座）", "value_type": "integer"},
    {"code": "length", "prompt": "排队长度（米）", "value_type": "integer"},
    {"code": "choice", "prompt": "处理方式", "value_type": "choice"},
    {"code": "flag", "prompt": "是否？", "value_type": "boolean"},
]


def operator_cases() -> list[dict]:
    """Each operator, exact arithmetic, defaults, strings and the text of the numbers shown."""
    def t(name, expression, observations=None, venue=None, applies_when=None, extra_facts=None):
        rule = _synthetic("T", expression, applies_when=applies_when, items=ITEMS)
        return _case(name, rule, venue or {}, observations or {}, extra_facts)

    count, seats = _var("obs.count"), _var("obs.seats")
    cases = []
    for operator in ("<", "<=", ">", ">=", "==", "!="):
        for value in (3, 4, 5):
            cases.append(t(f"{operator} 人数 {value} 与 4", {operator: [count, 4]}, {"count": value}))
    cases += [
        t("between < < 在范围内", {"<": [1, count, 10]}, {"count": 5}),
        t("between < < 触及上限", {"<": [1, count, 10]}, {"count": 10}),
        t("between <= <= 触及上限", {"<=": [1, count, 10]}, {"count": 10}),
        t("between <= <= 低于下限", {"<=": [1, count, 10]}, {"count": 0}),
        t("+ 求和", {"<=": [{"+": [count, seats, 1]}, 10]}, {"count": 4, "seats": 5}),
        t("+ 单参数", {"==": [{"+": count}, 4]}, {"count": 4}),
        t("- 减法", {">=": [{"-": [seats, count]}, 0]}, {"count": 4, "seats": 3}),
        t("- 取负", {"<": [{"-": count}, -3]}, {"count": 4}),
        t("- 负数字面量", {">": [count, "-3"]}, {"count": -2}),
        t("- 负数观测值", {">": [count, -3]}, {"count": -4}),
        t("* 乘以小数文字", {"<=": [count, {"*": [seats, "0.75"]}]}, {"count": 6, "seats": 8}),
        t("* 乘以三分之一", {"<=": [count, {"*": [seats, "1/3"]}]}, {"count": 3, "seats": 10}),
        t("* 乘以三分之一（超出）", {"<=": [count, {"*": [seats, "1/3"]}]}, {"count": 4, "seats": 10}),
        t("* 字面量在前", {"<=": [count, {"*": ["1/2", seats]}]}, {"count": 5, "seats": 9}),
        t("* 多个系数", {"<=": [count, {"*": [seats, "1/2", "1/2"]}]}, {"count": 2, "seats": 9}),
        t("* 两个变量相乘", {"<=": [count, {"*": [seats, seats]}]}, {"count": 10, "seats": 3}),
        t("* 数值系数 2", {">=": [{"*": [count, 2]}, seats]}, {"count": 3, "seats": 7}),
        t("* 浮点系数 0.5", {"<=": [count, {"*": [seats, 0.5]}]}, {"count": 4, "seats": 7}),
        t("/ 除法精确", {"==": [{"/": [count, 3]}, "1/3"]}, {"count": 1}),
        t("/ 除法比较", {"<=": [{"/": [count, seats]}, "1/2"]}, {"count": 7, "seats": 13}),
        t("/ 除以零", {"<=": [{"/": [count, seats]}, 1]}, {"count": 1, "seats": 0}),
        t("0.1 + 0.2 == 0.3 精确", {"==": [{"+": [0.1, 0.2]}, 0.3]}),
        t("浮点观测值精确", {"==": [{"+": [count, seats]}, "3/10"]}, {"count": 0.1, "seats": 0.2}),
        t("数值与数值文字相等", {"==": ["1/2", 0.5]}),
        t("两个数值文字按文字比较", {"==": ["1/2", "0.5"]}),
        t("数值与非数值文字不等", {"==": [count, "四"]}, {"count": 4}),
        t("布尔与数值不等", {"==": [_var("obs.flag"), 1]}, {"flag": True}),
        t("布尔相等", {"==": [_var("obs.flag"), True]}, {"flag": True}),
        t("空值相等", {"==": [None, None]}),
        t("列表按元素相等", {"==": [[1, "2"], [1, 2]]}),
        t("列表长度不同", {"!=": [[1, 2], [1, 2, 3]]}),
        t("选项 in 列表", {"in": [_var("obs.choice"), ["a", "b"]]}, {"choice": "b"}),
        t("选项不在列表", {"in": [_var("obs.choice"), ["a", "b"]]}, {"choice": "c"}),
        t("数值 in 列表（按值）", {"in": [count, ["1/2", 4]]}, {"count": 0.5}),
        t("文字 in 文字", {"in": ["检查", _var("obs.choice")]}, {"choice": "现场检查完毕"}),
        t("文字不在文字", {"in": ["整改", _var("obs.choice")]}, {"choice": "现场检查完毕"}),
        t("and 全真", {"and": [{">": [count, 0]}, {"==": [_var("obs.flag"), True]}]}, {"count": 1, "flag": True}),
        t("and 短路（后者缺失）", {"and": [{">": [count, 0]}, {"==": [_var("obs.flag"), True]}]}, {"count": 0}),
        t("or 短路（后者缺失）", {"or": [{">": [count, 0]}, {"==": [_var("obs.flag"), True]}]}, {"count": 1}),
        t("or 全假", {"or": [{">": [count, 5]}, {"==": [_var("obs.flag"), True]}]}, {"count": 1, "flag": False}),
        t("! 取反", {"!": {"==": [_var("obs.flag"), True]}}, {"flag": False}),
        t("not 取反", {"not": [{"==": [_var("obs.flag"), True]}]}, {"flag": True}),
        t("if 嵌套：第一分支", {"<=": [count, {"if": [{"==": [_var("obs.choice"), "small"]}, 5,
                                                      {"==": [_var("obs.choice"), "medium"]}, {"if": [{">": [seats, 100]}, 50, 20]},
                                                      {"*": [seats, "1/2"]}]}]},
          {"choice": "small", "count": 5}),
        t("if 嵌套：内层分支", {"<=": [count, {"if": [{"==": [_var("obs.choice"), "small"]}, 5,
                                                      {"==": [_var("obs.choice"), "medium"]}, {"if": [{">": [seats, 100]}, 50, 20]},
                                                      {"*": [seats, "1/2"]}]}]},
          {"choice": "medium", "count": 21, "seats": 100}),
        t("if 嵌套：否则分支", {"<=": [count, {"if": [{"==": [_var("obs.choice"), "small"]}, 5,
                                                      {"==": [_var("obs.choice"), "medium"]}, {"if": [{">": [seats, 100]}, 50, 20]},
                                                      {"*": [seats, "1/2"]}]}]},
          {"choice": "large", "count": 21, "seats": 41}),
        t("if 未选分支中的缺项不影响", {"if": [{"==": [_var("obs.choice"), "a"]}, {">": [count, 0]}, True]},
          {"choice": "b"}),
        t("if 所选分支缺项", {"if": [{"==": [_var("obs.choice"), "a"]}, {">": [count, 0]}, True]},
          {"choice": "a"}),
        t("var 默认值", {"==": [_var("obs.count", 0), 0]}),
        t("var 默认值不计入缺项", {"==": [{"+": [_var("obs.count", 0), seats]}, 0]}),
        t("missing 列出缺项", {"==": [{"missing": ["obs.count", "obs.seats", "obs.flag"]}, ["obs.seats"]]},
          {"count": 1, "flag": False}),
        t("present 全部有值", {"present": ["obs.count", "obs.seats"]}, {"count": 1, "seats": 2}),
        t("present 有缺项", {"present": ["obs.count", "obs.seats"]}, {"count": 1}),
        t("场所事实与观测比较", {">=": [_var("venue.approved_capacity"), count]}, {"count": 30},
          {"approved_capacity": 25}),
        t("无单位的观测", {"<=": [_var("obs.choice"), 3]}, {"choice": "5/2"}),
        t("未知观测项无单位", {"<=": [_var("obs.other"), 3]}, {"other": 7}),
        t("数值比较约等（三分之二）", {"<": [count, {"*": [seats, "2/3"]}]}, {"count": 1, "seats": 1}),
        t("小于 1 的约数", {"<": [{"/": [count, 300]}, 1]}, {"count": 1}),
        t("短小数精确", {"<": [{"/": [count, 16]}, 1]}, {"count": 1}),
        t("负的约数", {"<": [{"/": [count, -3]}, 0]}, {"count": 1}),
        t("全角数字文字", {"<": ["３", count]}, {"count": "４"}),
        t("多位小数文字", {"==": ["0.125", {"/": [1, 8]}]}),
        t("相同变量出现两次仍列一次", {"<=": [count, {"+": [count, 1]}]}),
        t("适用条件为假", {"<=": [count, 4]}, {"count": 9, "flag": False},
          applies_when={"==": [_var("obs.flag"), True]}),
        t("适用条件为真", {"<=": [count, 4]}, {"count": 9, "flag": True},
          applies_when={"==": [_var("obs.flag"), True]}),
        t("适用条件与表达式用同一变量且缺失", {"<=": [count, 4]}, {},
          applies_when={">": [count, 0]}),
        t("额外事实命名空间", {"<=": [_var("period.count"), _var("venue.approved_capacity")]},
          {}, {"approved_capacity": 3}, extra_facts={"period": {"count": 4}}),
        t("额外事实覆盖观测", {"==": [count, 1]}, {"count": 2}, extra_facts={"obs": {"count": 1}}),
        t("嵌套事实缺中间层", {"==": [_var("obs.a.b"), 1]}, {"a": 5}),
        t("嵌套事实", {"==": [_var("obs.a.b"), 1]}, {"a": {"b": 1}}),
        t("原型属性名不是事实", {"==": [_var("obs.constructor"), 1]}, {}),
    ]
    # Two checks, one of each outcome, and a rule with no checks at all.
    two = {"code": "T2", "items": ITEMS, "checks": [
        {"code": "a", "description": "甲", "expression": {"<=": [count, 4]}},
        {"code": "b", "description": "乙", "applies_when": {"==": [_var("obs.flag"), True]},
         "expression": {"<=": [seats, 4]}},
        {"code": "c", "expression": {">": [count, 0]}},
    ]}
    cases += [
        _case("两项：违规与不适用", two, {}, {"count": 5, "flag": False}),
        _case("两项：缺项与合规", two, {}, {"count": 3, "flag": True}),
        _case("无检查项的规则", {"code": "T0", "items": [], "checks": []}),
        _case("没有 checks 键的规则", {"code": "T0"}),
    ]
    return cases


def error_cases() -> list[dict]:
    """Malformed expressions and ill-typed values: rulecheck refuses them, with these messages."""
    def t(name, expression, observations=None, applies_when=None, venue=None):
        return _case(name, _synthetic("E", expression, applies_when=applies_when, items=ITEMS), venue or {},
                     observations or {})

    count = _var("obs.count")
    deep = True
    for _ in range(40):
        deep = {"!": [deep]}
    wide = {"and": [True] * 1001}
    return [
        t("未知运算符", {"~": [1, 2]}),
        t("未知运算符（长名）", {"x" * 60: [1]}),
        t("两个键的运算节点", {"<": [1, 2], ">": [2, 1]}),
        t("空运算节点", {}),
        t("参数过少", {"<": [1]}),
        t("参数过多", {">": [1, 2, 3]}),
        t("if 参数为偶数", {"if": [True, 1, False, 2]}),
        t("变量名含大写", {"==": [_var("obs.Count"), 1]}),
        t("变量名为数值", {"==": [{"var": 5}, 1]}),
        t("变量名为空值", {"==": [{"var": None}, 1]}),
        t("变量名为布尔", {"==": [{"var": [True]}, 1]}),
        t("变量名为对象", {"==": [{"var": [{"a": 1}]}, 1]}),
        t("变量名过长", {"==": [_var("obs." + "a" * 130), 1]}),
        t("变量默认值为列表", {"==": [{"var": ["obs.count", [1]]}, 1]}),
        t("变量默认值为对象", {"==": [{"var": ["obs.count", {"a": 1}]}, 1]}),
        t("数值运算的文字参数", {"<": [count, "abc"]}, {"count": 1}),
        t("数值运算的布尔参数", {"<": [True, 1]}),
        t("数值运算的空值参数", {"+": [None, 1]}),
        t("布尔运算的数值参数", {"and": [1]}),
        t("布尔运算的小数参数", {"or": [1.5]}),
        t("布尔运算的文字参数", {"!": ["真"]}),
        t("嵌套过深", deep),
        t("节点过多", wide),
        t("字符串过长", {"==": ["长" * 257, "x"]}),
        t("数值位数过多", {"<": [count, "1" + "0" * 30]}, {"count": 1}),
        t("分母为零的分数文字", {"<": [count, "1/0"]}, {"count": 1}),
        t("观测值位数过多", {"<": [count, 1]}, {"count": 10**30}),
        t("观测分数文字分母为零", {"<": [count, 1]}, {"count": "1/0"}),
        t("观测值为对象", {"<": [count, 1]}, {"count": {"a": 1}}),
        t("观测值列表过长", {"in": [1, count]}, {"count": list(range(1001))}),
        t("观测值字符串过长", {"==": [count, "x"]}, {"count": "长" * 257}),
        t("比较文字观测值", {"<": [count, 1]}, {"count": "很多"}),
        t("比较带引号的文字", {"<": [count, 1]}, {"count": "it's"}),
        t("比较含两种引号的文字", {"<": [count, 1]}, {"count": "it's \"x\""}),
        t("比较含换行的文字", {"<": [count, 1]}, {"count": "第一行\n第二行\t\\"}),
        t("比较含零宽字符的文字", {"<": [count, 1]}, {"count": "a\u200bb\u00a0c\x7f"}),
        t("比较长中文文字（截断）", {"<": [count, 1]}, {"count": "这是一段很长的现场记录文字，" * 5}),
        t("比较布尔观测值", {"<": [count, 1]}, {"count": True}),
        t("比较列表观测值", {"+": [count, 1]}, {"count": [1, "a", True, None, 0.5, [2]]}),
        t("in 的对象不是列表或文字", {"in": ["a", count]}, {"count": 5}),
        t("in 文字中找数值", {"in": [5, "12345"]}),
        t("and 的值不是布尔", {"and": [{"var": "obs.count"}]}, {"count": 1}),
        t("if 条件不是布尔", {"if": [count, True, False]}, {"count": 1}),
        t("! 的值不是布尔", {"not": [count]}, {"count": "否"}),
        t("检查结果不是布尔", {"+": [count, 1]}, {"count": 1}),
        t("检查结果为空值", None),
        t("检查结果为文字", "合规"),
        t("适用条件结果不是布尔", {"==": [count, 1]}, {"count": 1}, applies_when=count),
        t("除以零", {"<": [{"/": [1, {"-": [count, count]}]}, 1]}, {"count": 3}),
        t("错误先于缺项：参数个数不对", {"<": [_var("obs.absent")]}),
        _case("检查缺少表达式", {"code": "E", "items": [], "checks": [{"code": "e", "description": "无表达式"}]}),
        _case("不适用时不看缺少的表达式",
              {"code": "E", "items": [], "checks": [{"code": "e", "applies_when": False}]}),
        _case("错误在第二项", {"code": "E", "items": ITEMS, "checks": [
            {"code": "ok", "expression": {"<=": [count, 4]}},
            {"code": "bad", "expression": {"<=": [count, "四"]}},
        ]}, {}, {"count": 1}),
    ]


def build() -> list[dict]:
    rules = load_rules()
    return [expected(case) for case in rule_cases(rules) + operator_cases() + error_cases()]


def render(vectors: list[dict]) -> str:
    # One case per line: a regenerated file's diff names exactly the cases that changed.
    lines = (json.dumps(vector, ensure_ascii=False, separators=(",", ":")) for vector in vectors)
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main() -> int:
    vectors = build()
    VECTORS_FILE.write_text(render(vectors), "utf-8")
    print(f"{len(vectors)} 个用例已写入 {VECTORS_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
