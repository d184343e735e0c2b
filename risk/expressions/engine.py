"""Parse, type-check and compile one expression into a row evaluator and a column evaluator.

``rule-engine``'s own grammar parses the text (its PLY grammar actions, each wrapped only to note
where in the text the node stood) and its type resolution checks it against the schema. The
language on top of that is stricter in two places: a number is never compared with text, and
only the constructs below are accepted. The parsed tree is then compiled twice from the same walk:
into Python closures over one row and into numpy operations over columns, so each operator's
meaning, missing values included, is written side by side once.

Missing values (``None`` in a row, ``NaN`` in a column), the one definition both paths follow:

- arithmetic with a missing operand is missing; so is a division (``/``, ``//``, ``%``) by zero
  and any result that is not finite — never an exception;
- every comparison (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``, ``in``) with a missing operand is
  false; ``x == null`` tests that ``x`` is missing and ``x != null`` that it is present;
- a number used as a condition is true when present and not zero;
- ``x ?? y`` is ``x`` when present, else ``y``; ``c ? a : b`` picks ``a`` or ``b`` by ``c``;
- ``not``, ``and``, ``or`` work on true/false only (a condition is never missing).

Accepted: numbers, ``true``/``false``, ``null``, strings, feature names, ``+ - * / // %``, unary
minus, comparisons, ``and``/``or``/``not``, ``?:``, ``??`` and ``in [literal, …]``. Not accepted
(refused with the position): ``**``, bitwise operators, regular-expression matches, attributes,
indexing, function calls, ``inf``/``nan`` literals (write ``null`` for a missing value).
"""

from __future__ import annotations

import difflib
import functools
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rule_engine
from django.core.exceptions import ValidationError
from rule_engine import ast as re_ast
from rule_engine import errors as re_errors
from rule_engine.parser import Parser, _DeferredAstNode

from risk.expressions.schema import BOOLEAN, NULL, NUMBER, TEXT, TYPE_LABELS, Schema

NAN = float("nan")

# --- errors ------------------------------------------------------------------------------------


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset (what the admin shows)."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


class ExpressionError(ValidationError):
    """A refused expression: ``problem`` in Chinese, ``offset`` into the text (0-based),
    ``line``/``column`` (1-based); raised as a ``ValidationError`` on ``field`` so a form shows
    it beside the field."""

    def __init__(self, problem: str, *, text: str, offset: int, field: str = "expression"):
        self.problem = problem
        self.offset = max(0, min(offset, len(text)))
        self.line, self.column = line_and_column(text, self.offset)
        self.field = field
        self.text = text
        self.message_text = f"第{self.line}行第{self.column}列：{problem}"
        super().__init__({field: [self.message_text]})


class _Refused(Exception):
    def __init__(self, problem: str, offset: int):
        super().__init__(problem)
        self.problem = problem
        self.offset = offset


# --- parsing with positions --------------------------------------------------------------------


def _noting_span(action: Callable) -> Callable:
    @functools.wraps(action)
    def noting(self, p):
        action(self, p)
        start = p.lexspan(1)[0]
        end = p.lexspan(len(p) - 1)[1]
        # A group ``( … )`` hands its inner node up: keep the inner node's own span.
        self.spans.setdefault(id(p[0]), (start, end))

    # PLY orders grammar rules by this attribute (the first is the start symbol).
    noting.co_firstlineno = action.__code__.co_firstlineno
    return noting


class _SpanParser(Parser):
    """rule-engine's grammar unchanged; each action also records the text span of its node."""

    spans: dict[int, tuple[int, int]]


for _name in dir(Parser):
    if _name.startswith("p_") and _name != "p_error":
        setattr(_SpanParser, _name, _noting_span(getattr(Parser, _name)))

_parser_lock = threading.Lock()


@functools.cache
def _span_parser() -> _SpanParser:
    return _SpanParser()


def _parse(text: str, context: rule_engine.Context) -> tuple[Any, dict[int, tuple[int, int]]]:
    """The deferred (unbuilt) tree of rule-engine nodes and the span of every node."""
    parser = _span_parser()
    with _parser_lock:  # PLY parsers keep state on the instance
        parser.spans = {}
        parser.context = context
        try:
            tree = parser._parser.parse(text, lexer=parser._lexer.clone(), tracking=True)
        except re_errors.RuleSyntaxError as exc:
            token = exc.token
            if token is None:
                raise _Refused("表达式不完整(缺少运算对象或右括号)", len(text)) from None
            raise _Refused(f"语法错误：“{str(token.value)[:20]}”处无法解析", token.lexpos) from None
        except re_errors.SyntaxError as exc:
            raise _Refused(f"语法错误：{exc.message}", 0) from None
        finally:
            parser.context = None
        return tree, parser.spans


# --- the compiled form -------------------------------------------------------------------------

RowFn = Callable[[Mapping[str, Any]], Any]
ColFn = Callable[[Mapping[str, np.ndarray]], Any]


@dataclass(frozen=True)
class _Node:
    type: str
    row: RowFn
    col: ColFn
    const: Any = field(default=None)  # a literal's value, for ``in [..]`` and ``== null``
    is_const: bool = False


@dataclass(frozen=True, eq=False)
class CompiledExpression:
    """One expression, typed and compiled. ``result_type`` is ``boolean`` (a rule's condition)
    or ``number`` (a derived feature); ``features`` the names it reads."""

    text: str
    result_type: str
    features: frozenset[str]
    feature_types: Mapping[str, str]
    _row: RowFn
    _col: ColFn

    def evaluate_row(self, row: Mapping[str, Any]) -> bool | float | str | None:
        """One row: a mapping of feature name → value (``None`` or absent = missing). A condition
        answers ``True``/``False``; a number answers a float or ``None`` when missing."""
        values = {name: _scalar(row.get(name), kind) for name, kind in self.feature_types.items()}
        result = self._row(values)
        if self.result_type == NUMBER:
            return None if result != result else float(result)
        if self.result_type == BOOLEAN:
            return bool(result)
        return result

    def evaluate_columns(
        self, columns: Mapping[str, np.ndarray], *, prepared: bool = False
    ) -> np.ndarray:
        """Columns of equal length (float64 with ``NaN`` for missing; object arrays for text).
        Answers a bool array for a condition, a float64 array (``NaN`` = missing) for a number.
        ``prepared``: the columns already went through :func:`columns_prepare` (a rule set
        prepares them once for all its rules)."""
        size = _column_length(columns, self.features)
        if not prepared:
            columns = columns_prepare(columns, self.feature_types)
        result = self._col(columns)
        if self.result_type == BOOLEAN:
            return np.broadcast_to(np.asarray(result, dtype=bool), (size,)).copy()
        if self.result_type == NUMBER:
            return np.broadcast_to(np.asarray(result, dtype=np.float64), (size,)).copy()
        return np.broadcast_to(np.asarray(result, dtype=object), (size,)).copy()


def _scalar(value: Any, kind: str) -> Any:
    if kind == TEXT:
        return value if isinstance(value, str) else None
    if value is None or isinstance(value, str):
        return NAN
    value = float(value)
    return value if math.isfinite(value) else NAN


def columns_prepare(
    columns: Mapping[str, Any], feature_types: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """The named columns as the compiled code reads them: float64 with every non-finite value
    missing (``NaN``); text as an object array with ``None`` for missing. Others pass through."""
    prepared = dict(columns)
    for name, kind in feature_types.items():
        if name in columns:
            prepared[name] = _column(columns[name], kind)
    return prepared


def _column(values: Any, kind: str) -> np.ndarray:
    if kind == TEXT:
        array = np.asarray(values, dtype=object)
        present = np.fromiter((isinstance(v, str) for v in array), dtype=bool, count=len(array))
        return np.where(present, array, None)
    array = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(array), array, np.nan)


def _column_length(columns: Mapping[str, np.ndarray], names: frozenset[str]) -> int:
    missing = sorted(names - set(columns))
    if missing:
        raise KeyError(f"missing columns: {', '.join(missing)}")
    sizes = {len(columns[name]) for name in names}
    if not names:
        sizes = {len(next(iter(columns.values())))} if columns else {1}
    if len(sizes) != 1:
        raise ValueError(f"columns of different lengths: {sorted(sizes)}")
    return sizes.pop()


# --- scalar and column operations: the semantics, once each, side by side -----------------------


def _finite(value: float) -> float:
    return value if math.isfinite(value) else NAN


def _col_finite(values):
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(values), values, np.nan)


def _row_div(a: float, b: float) -> float:
    return NAN if b == 0 or a != a or b != b else _finite(a / b)


def _row_floordiv(a: float, b: float) -> float:
    return NAN if b == 0 or a != a or b != b else _finite(a // b)


def _row_mod(a: float, b: float) -> float:
    return NAN if b == 0 or a != a or b != b else _finite(a % b)


def _col_by_nonzero(op):
    def apply(a, b):
        with np.errstate(all="ignore"):
            result = op(a, b)
        return np.where(np.asarray(b) == 0, np.nan, _col_finite(result))

    return apply


ARITHMETIC: dict[str, tuple[Callable, Callable]] = {
    "ADD": (lambda a, b: _finite(a + b), lambda a, b: _col_finite(np.add(a, b))),
    "SUB": (lambda a, b: _finite(a - b), lambda a, b: _col_finite(np.subtract(a, b))),
    "MUL": (lambda a, b: _finite(a * b), lambda a, b: _col_finite(np.multiply(a, b))),
    "TDIV": (_row_div, _col_by_nonzero(np.true_divide)),
    "FDIV": (_row_floordiv, _col_by_nonzero(np.floor_divide)),
    "MOD": (_row_mod, _col_by_nonzero(np.remainder)),
}
# NaN already makes ordered comparisons and ``==`` false in both Python and numpy.
ORDERED = {
    "GT": (lambda a, b: a > b, np.greater),
    "GE": (lambda a, b: a >= b, np.greater_equal),
    "LT": (lambda a, b: a < b, np.less),
    "LE": (lambda a, b: a <= b, np.less_equal),
}
OPERATOR_TEXT = {
    "ADD": "+",
    "SUB": "-",
    "MUL": "*",
    "TDIV": "/",
    "FDIV": "//",
    "MOD": "%",
    "GT": ">",
    "GE": ">=",
    "LT": "<",
    "LE": "<=",
    "EQ": "==",
    "NE": "!=",
    "AND": "and",
    "OR": "or",
}


def _row_truth(value: float) -> bool:
    return value == value and value != 0


def _col_truth(values):
    return np.logical_and(values == values, values != 0)


# --- the compiler ------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, text: str, schema: Schema, spans: dict[int, tuple[int, int]]):
        self.text = text
        self.schema = schema
        self.spans = spans
        self.features: dict[str, str] = {}

    def at(self, node) -> int:
        return self.spans.get(id(node), (0, 0))[0]

    def refuse(self, node, problem: str):
        raise _Refused(problem, self.at(node))

    def compile(self, node) -> _Node:
        if not isinstance(node, _DeferredAstNode):
            self.refuse(node, "无法识别的表达式")
        handler = getattr(self, f"_{node.cls.__name__}", None)
        if handler is None:
            self.refuse(node, f"不支持的语法({_construct_name(node.cls)})")
        return handler(node)

    # literals and names

    def _Statement(self, node):
        return self.compile(node.args[1])

    def _SymbolExpression(self, node):
        name = node.args[1]
        if node.kwargs.get("scope"):
            self.refuse(node, f"不支持内置符号“${name}”")
        kind = self.schema.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, list(self.schema), n=1)
            hint = f"，是否应为“{close[0]}”？" if close else ""
            self.refuse(node, f"未知的特征“{name}”{hint}")
        self.features[name] = kind
        return _Node(kind, lambda r: r[name], lambda c: c[name])

    def _FloatExpression(self, node):
        literal = str(node.args[1])
        if literal in ("inf", "nan"):
            self.refuse(node, f"不支持字面量“{literal}”，缺失值请写 null")
        value = float(rule_engine.ast.FloatExpression.from_string(node.args[0], literal).value)
        if not math.isfinite(value):
            self.refuse(node, f"数值“{literal}”超出范围")
        return _Node(NUMBER, lambda r: value, lambda c: value, const=value, is_const=True)

    def _BooleanExpression(self, node):
        value = bool(node.args[1])
        return _Node(BOOLEAN, lambda r: value, lambda c: value, const=value, is_const=True)

    def _NullExpression(self, node):
        return _Node(NULL, lambda r: NAN, lambda c: np.nan, const=None, is_const=True)

    def _StringExpression(self, node):
        value = node.args[1]
        return _Node(TEXT, lambda r: value, lambda c: value, const=value, is_const=True)

    # arithmetic

    def _number(self, node, role: str) -> _Node:
        compiled = self.compile(node)
        if compiled.type == NULL:
            return _Node(NUMBER, compiled.row, compiled.col)
        if compiled.type != NUMBER:
            self.refuse(node, f"{role}必须是数值，这里是{TYPE_LABELS[compiled.type]}")
        return compiled

    def _arithmetic(self, node):
        _, op, left, right = node.args
        if op not in ARITHMETIC:
            self.refuse(node, f"不支持运算符“{'**' if op == 'POW' else op}”")
        symbol = OPERATOR_TEXT[op]
        a = self._number(left, f"“{symbol}”的左边")
        b = self._number(right, f"“{symbol}”的右边")
        row_op, col_op = ARITHMETIC[op]
        ar, br, ac, bc = a.row, b.row, a.col, b.col
        return _Node(NUMBER, lambda r: row_op(ar(r), br(r)), lambda c: col_op(ac(c), bc(c)))

    _ArithmeticExpression = _AddExpression = _SubtractExpression = _arithmetic

    def _UnaryExpression(self, node):
        _, op, operand = node.args
        if op == "UMINUS":
            a = self._number(operand, "负号后")
            ar, ac = a.row, a.col
            return _Node(NUMBER, lambda r: -ar(r), lambda c: np.negative(ac(c)))
        a = self._condition(operand, "“not”之后")
        ar, ac = a.row, a.col
        return _Node(BOOLEAN, lambda r: not ar(r), lambda c: np.logical_not(ac(c)))

    # conditions

    def _condition(self, node, role: str) -> _Node:
        """A condition, or a number read as one (present and not zero)."""
        compiled = self.compile(node)
        if compiled.type == BOOLEAN:
            return compiled
        if compiled.type == NUMBER:
            ar, ac = compiled.row, compiled.col
            return _Node(BOOLEAN, lambda r: _row_truth(ar(r)), lambda c: _col_truth(ac(c)))
        self.refuse(node, f"{role}必须是条件或数值，这里是{TYPE_LABELS[compiled.type]}")

    def _LogicExpression(self, node):
        _, op, left, right = node.args
        a = self._condition(left, f"“{OPERATOR_TEXT[op]}”的左边")
        b = self._condition(right, f"“{OPERATOR_TEXT[op]}”的右边")
        ar, br, ac, bc = a.row, b.row, a.col, b.col
        if op == "AND":
            return _Node(BOOLEAN, lambda r: ar(r) and br(r), lambda c: np.logical_and(ac(c), bc(c)))
        return _Node(BOOLEAN, lambda r: ar(r) or br(r), lambda c: np.logical_or(ac(c), bc(c)))

    def _ArithmeticComparisonExpression(self, node):
        _, op, left, right = node.args
        symbol = OPERATOR_TEXT[op]
        a = self.compile(left)
        b = self.compile(right)
        if TEXT in (a.type, b.type) and NUMBER in (a.type, b.type):
            self.refuse(node, "不能将数值与文本比较")
        for side, compiled in ((left, a), (right, b)):
            if compiled.type == NULL:
                self.refuse(side, f"“{symbol}”不能与 null 比较，判断缺失请用“== null”")
            if compiled.type != NUMBER:
                label = TYPE_LABELS[compiled.type]
                self.refuse(side, f"“{symbol}”只能比较数值，这里是{label}")
        row_op, col_op = ORDERED[op]
        ar, br, ac, bc = a.row, b.row, a.col, b.col
        return _Node(BOOLEAN, lambda r: row_op(ar(r), br(r)), lambda c: col_op(ac(c), bc(c)))

    def _ComparisonExpression(self, node):
        _, op, left, right = node.args
        a = self.compile(left)
        b = self.compile(right)
        negate = op == "NE"
        if a.type == NULL and b.type == NULL:
            return _Node(BOOLEAN, lambda r: not negate, lambda c: not negate)
        if NULL in (a.type, b.type):
            present = b if a.type == NULL else a
            return self._missing_test(present, negate)
        kinds = {a.type, b.type}
        if len(kinds) > 1:
            if kinds == {NUMBER, TEXT}:
                self.refuse(node, "不能将数值与文本比较")
            labels = "与".join(TYPE_LABELS[k] for k in (a.type, b.type))
            self.refuse(node, f"“{OPERATOR_TEXT[op]}”两边类型不同：{labels}")
        ar, br, ac, bc = a.row, b.row, a.col, b.col
        kind = a.type
        if kind == BOOLEAN:
            if negate:
                return _Node(
                    BOOLEAN, lambda r: ar(r) != br(r), lambda c: np.not_equal(ac(c), bc(c))
                )
            return _Node(BOOLEAN, lambda r: ar(r) == br(r), lambda c: np.equal(ac(c), bc(c)))
        if kind == NUMBER:
            if negate:
                return _Node(
                    BOOLEAN,
                    lambda r: (x := ar(r)) == x and (y := br(r)) == y and x != y,
                    lambda c: _col_ne_number(ac(c), bc(c)),
                )
            return _Node(BOOLEAN, lambda r: ar(r) == br(r), lambda c: np.equal(ac(c), bc(c)))
        # text: missing (None) compares false either way
        if negate:
            return _Node(
                BOOLEAN,
                lambda r: (x := ar(r)) is not None and (y := br(r)) is not None and x != y,
                lambda c: _col_ne_text(ac(c), bc(c)),
            )
        return _Node(
            BOOLEAN,
            lambda r: (x := ar(r)) is not None and x == br(r),
            lambda c: _col_eq_text(ac(c), bc(c)),
        )

    def _missing_test(self, value: _Node, negate: bool) -> _Node:
        vr, vc = value.row, value.col
        if value.type == TEXT:
            if negate:
                return _Node(
                    BOOLEAN, lambda r: vr(r) is not None, lambda c: _col_text_present(vc(c))
                )
            return _Node(
                BOOLEAN, lambda r: vr(r) is None, lambda c: np.logical_not(_col_text_present(vc(c)))
            )
        if value.type == BOOLEAN:  # a condition is never missing
            return _Node(BOOLEAN, lambda r: negate, lambda c: negate)
        if negate:
            return _Node(BOOLEAN, lambda r: (x := vr(r)) == x, lambda c: ~np.isnan(vc(c)))
        return _Node(BOOLEAN, lambda r: (x := vr(r)) != x, lambda c: np.isnan(vc(c)))

    def _ContainsExpression(self, node):
        _, container, member = node.args
        if not isinstance(container, _DeferredAstNode) or container.cls not in (
            re_ast.ArrayExpression,
            re_ast.SetExpression,
        ):
            self.refuse(node, "“in”的右边必须是列表，如 [1, 2, 3]")
        m = self.compile(member)
        if m.type not in (NUMBER, TEXT):
            self.refuse(member, f"“in”的左边必须是数值或文本，这里是{TYPE_LABELS[m.type]}")
        values = []
        for item in container.args[1]:
            compiled = self.compile(item)
            if not compiled.is_const or compiled.type != m.type:
                self.refuse(item, f"列表中只能写{TYPE_LABELS[m.type]}常量")
            values.append(compiled.const)
        allowed = frozenset(values)
        choices = np.array(sorted(allowed), dtype=np.float64 if m.type == NUMBER else object)
        mr, mc = m.row, m.col
        if m.type == NUMBER:
            return _Node(
                BOOLEAN, lambda r: (x := mr(r)) in allowed, lambda c: np.isin(mc(c), choices)
            )
        return _Node(
            BOOLEAN,
            lambda r: (x := mr(r)) is not None and x in allowed,
            lambda c: _col_text_in(mc(c), allowed),
        )

    def _TernaryExpression(self, node):
        _, condition, when_true, when_false = node.args
        test = self._condition(condition, "“?”之前")
        a = self.compile(when_true)
        b = self.compile(when_false)
        kind = _common_type(a.type, b.type)
        if kind is None or kind == TEXT:
            self.refuse(node, "“? :”两个分支必须同为数值或同为条件")
        tr, ar, br, tc, ac, bc = test.row, a.row, b.row, test.col, a.col, b.col
        return _Node(
            kind,
            lambda r: ar(r) if tr(r) else br(r),
            lambda c: np.where(tc(c), ac(c), bc(c)),
        )

    def _CoalesceExpression(self, node):
        _, left, right = node.args
        a = self._number(left, "“??”的左边")
        b = self._number(right, "“??”的右边")
        ar, br, ac, bc = a.row, b.row, a.col, b.col
        return _Node(
            NUMBER,
            lambda r: x if (x := ar(r)) == x else br(r),
            lambda c: np.where(np.isnan(x := np.asarray(ac(c), dtype=np.float64)), bc(c), x),
        )


def _common_type(a: str, b: str) -> str | None:
    if a == b:
        return NUMBER if a == NULL else a
    if NULL in (a, b):
        other = b if a == NULL else a
        return NUMBER if other == NUMBER else None
    return None


def _col_ne_number(a, b):
    return np.logical_and(np.logical_and(a == a, b == b), np.not_equal(a, b))


def _col_text_present(values) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return np.not_equal(values, None)
    return np.bool_(values is not None)


def _col_eq_text(a, b):
    return np.logical_and(_col_text_present(a), np.equal(a, b).astype(bool))


def _col_ne_text(a, b):
    present = np.logical_and(_col_text_present(a), _col_text_present(b))
    return np.logical_and(present, np.not_equal(a, b).astype(bool))


def _col_text_in(values, allowed: frozenset) -> np.ndarray:
    if not isinstance(values, np.ndarray):
        return np.bool_(values in allowed)
    return np.fromiter((v in allowed for v in values), dtype=bool, count=len(values))


_CONSTRUCT_NAMES = {
    "BitwiseExpression": "位运算",
    "BitwiseShiftExpression": "位移运算",
    "FuzzyComparisonExpression": "正则匹配",
    "GetAttributeExpression": "属性访问",
    "GetItemExpression": "下标访问",
    "GetSliceExpression": "切片",
    "FunctionCallExpression": "函数调用",
    "ArrayExpression": "列表",
    "SetExpression": "集合",
    "MappingExpression": "映射",
    "BytesExpression": "字节串",
    "DatetimeExpression": "日期时间",
    "TimedeltaExpression": "时间间隔",
    "ComprehensionExpression": "推导式",
}


def _construct_name(cls) -> str:
    return _CONSTRUCT_NAMES.get(cls.__name__, cls.__name__)


# --- the entry point ---------------------------------------------------------------------------

_RULE_ENGINE_TYPES = {NUMBER: rule_engine.DataType.FLOAT, TEXT: rule_engine.DataType.STRING}


@functools.lru_cache(maxsize=64)
def _context_for(items: tuple[tuple[str, str], ...]) -> rule_engine.Context:
    resolver = rule_engine.type_resolver_from_dict(
        {name: _RULE_ENGINE_TYPES[kind] for name, kind in items}
    )
    return rule_engine.Context(type_resolver=resolver)


def expression_compile(
    text: str,
    *,
    schema: Schema,
    result: str | None = None,
    field: str = "expression",
) -> CompiledExpression:
    """Parse ``text``, check it against ``schema`` and compile it for rows and columns.

    ``result`` asks for a ``"boolean"`` (a rule) or a ``"number"`` (a derived feature). Anything
    refused raises :class:`ExpressionError` (a ``ValidationError`` on ``field``) naming the
    problem and its line and column.
    """
    text = text if isinstance(text, str) else ""
    # A browser's textarea sends CRLF line ends, which the grammar does not take as space; lines
    # and columns are the same without the CR.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ExpressionError("请填写表达式", text=text, offset=0, field=field)
    context = _context_for(tuple(sorted(schema.items())))
    try:
        tree, spans = _parse(text, context)
        compiler = _Compiler(text, schema, spans)
        node = compiler.compile(tree)
    except _Refused as exc:
        raise ExpressionError(exc.problem, text=text, offset=exc.offset, field=field) from None
    except RecursionError:
        raise ExpressionError("表达式嵌套过深", text=text, offset=0, field=field) from None
    # The library's own type resolution has the last word on what it parsed.
    try:
        tree.build()
    except re_errors.EngineError as exc:
        raise ExpressionError(
            f"类型检查未通过：{exc.message}", text=text, offset=0, field=field
        ) from None
    if node.type == NULL:
        raise ExpressionError("表达式不能只是 null", text=text, offset=0, field=field)
    if result is not None and node.type != result:
        if result == BOOLEAN and node.type == NUMBER:
            problem = "规则表达式的结果必须是条件(真/假)，例如“net_income < 10000”"
        else:
            problem = f"表达式的结果必须是{TYPE_LABELS[result]}，这里是{TYPE_LABELS[node.type]}"
        raise ExpressionError(problem, text=text, offset=0, field=field)
    return CompiledExpression(
        text=text,
        result_type=node.type,
        features=frozenset(compiler.features),
        feature_types=dict(compiler.features),
        _row=node.row,
        _col=node.col,
    )
