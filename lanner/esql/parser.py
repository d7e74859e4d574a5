"""A recursive-descent parser for the ES|QL that detection rules use, following
Elasticsearch's grammar (`EsqlBaseParser.g4`):

    booleanExpression: NOT booleanExpression | valueExpression | regex | IN | IS [NOT] NULL
                       | match (`field : query`) | left AND right | left OR right
    valueExpression:   operatorExpression [comparison operatorExpression]
    operatorExpression: primary | -x | x (* / %) y | x (+ -) y
    primaryExpression: constant | qualifiedName | function | ( booleanExpression ) | x::type

So `NOT a IN (…)` is `NOT (a IN (…))`, AND binds tighter than OR, and a comparison cannot chain.
"""

from __future__ import annotations

from typing import Any

from lanner.esql import ast
from lanner.esql.errors import EsqlSyntaxError, Span
from lanner.esql.tokens import Kind, Lexer, Token

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
TIME_UNITS = {
    "millisecond": "millisecond", "milliseconds": "millisecond", "ms": "millisecond",
    "second": "second", "seconds": "second", "sec": "second", "s": "second",
    "minute": "minute", "minutes": "minute", "min": "minute", "m": "minute",
    "hour": "hour", "hours": "hour", "h": "hour",
    "day": "day", "days": "day", "d": "day",
    "week": "week", "weeks": "week", "w": "week",
    "month": "month", "months": "month", "mo": "month",
    "quarter": "quarter", "quarters": "quarter", "q": "quarter",
    "year": "year", "years": "year", "yr": "year", "y": "year",
}
COMMANDS = ("from", "where", "eval", "stats", "inline", "inlinestats", "keep", "drop", "rename",
            "sort", "limit", "mv_expand", "dissect", "grok", "completion")


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lexer = Lexer(text)
        self.token = self.lexer.next()
        self.last_end = 0

    # -- cursor ---------------------------------------------------------------------------

    def advance(self, *, source_mode: bool = False) -> Token:
        token = self.token
        self.last_end = token.span.end
        self.token = self.lexer.next(source_mode=source_mode)
        return token

    def error(self, expected: str, token: Token | None = None) -> EsqlSyntaxError:
        token = token or self.token
        found = "end of input" if token.kind is Kind.EOF else repr(
            self.text[token.span.start:token.span.end])
        return EsqlSyntaxError(f"expected {expected}, found {found}", token.span, text=self.text)

    def expect_op(self, op: str) -> Token:
        if not self.token.is_op(op):
            raise self.error(f"'{op}'")
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.token.is_word(word):
            raise self.error(word.upper())
        return self.advance()

    def accept_word(self, *words: str) -> bool:
        if self.token.is_word(*words):
            self.advance()
            return True
        return False

    def span_from(self, start: Span) -> Span:
        return Span(start.start, self.last_end, start.line, start.col)

    def source_text(self, span: Span) -> str:
        return self.text[span.start:span.end]

    # -- query and commands ---------------------------------------------------------------

    def parse_query(self) -> ast.Query:
        start = self.token.span
        if not self.token.is_word("from"):
            raise self.error("FROM (the source command)")
        commands: list[ast.Command] = [self.parse_from()]
        while self.token.kind is Kind.PIPE:
            self.advance()
            commands.append(self.parse_command())
        if self.token.kind is not Kind.EOF:
            raise self.error("'|' or end of input")
        return ast.Query(tuple(commands), self.span_from(start))

    def parse_from(self) -> ast.From:
        start = self.advance(source_mode=True).span
        indices = [self.parse_source()]
        while self.token.is_op(","):
            self.advance(source_mode=True)
            indices.append(self.parse_source())
        metadata: list[str] = []
        if self.token.kind is Kind.SOURCE and self.token.text.lower() == "metadata":
            self.advance()
            metadata.append(self.parse_name())
            while self.token.is_op(","):
                self.advance()
                metadata.append(self.parse_name())
        return ast.From(tuple(indices), tuple(metadata), self.span_from(start))

    def parse_source(self) -> str:
        token = self.token
        if token.kind not in (Kind.SOURCE, Kind.STRING) or token.text.lower() == "metadata":
            raise self.error("an index pattern")
        # the next token is read in FROM's mode too: another pattern after a comma, or METADATA
        self.advance(source_mode=True)
        return token.text

    def parse_command(self) -> ast.Command:
        token = self.token
        if token.kind is not Kind.IDENT or token.text.lower() not in COMMANDS:
            raise self.error("a processing command (WHERE, EVAL, STATS, KEEP, …)")
        word = token.text.lower()
        self.advance()
        start = token.span
        if word == "from":
            raise self.error("a processing command; FROM comes only first", token)
        if word == "where":
            return ast.Where(self.parse_boolean(), self.span_from(start))
        if word == "eval":
            return ast.Eval(self.parse_assignments(), self.span_from(start))
        if word in ("stats", "inline", "inlinestats"):
            if word == "inline":
                self.expect_word("stats")
            return self.parse_stats(start, inline=word != "stats")
        if word in ("keep", "drop"):
            patterns = [self.parse_pattern()]
            while self.token.is_op(","):
                self.advance()
                patterns.append(self.parse_pattern())
            kind = ast.Keep if word == "keep" else ast.Drop
            return kind(tuple(patterns), self.span_from(start))
        if word == "rename":
            pairs = [self.parse_rename()]
            while self.token.is_op(","):
                self.advance()
                pairs.append(self.parse_rename())
            return ast.Rename(tuple(pairs), self.span_from(start))
        if word == "sort":
            orders = [self.parse_order()]
            while self.token.is_op(","):
                self.advance()
                orders.append(self.parse_order())
            return ast.Sort(tuple(orders), self.span_from(start))
        if word == "limit":
            if self.token.kind is not Kind.INTEGER:
                raise self.error("an integer")
            return ast.Limit(int(self.advance().text), self.span_from(start))
        if word == "mv_expand":
            return ast.MvExpand(self.parse_name(), self.span_from(start))
        if word in ("dissect", "grok"):
            value = self.parse_primary()
            if self.token.kind is not Kind.STRING:
                raise self.error("a pattern string")
            pattern = self.advance().text
            if word == "grok":
                return ast.Grok(value, pattern, self.span_from(start))
            separator = ""
            if self.token.is_word("append_separator"):
                self.advance()
                self.expect_op("=")
                if self.token.kind is not Kind.STRING:
                    raise self.error("a string")
                separator = self.advance().text
            return ast.Dissect(value, pattern, separator, self.span_from(start))
        return self.parse_completion(start)

    def parse_stats(self, start: Span, *, inline: bool) -> ast.Stats:
        aggregates: list[ast.Aggregate] = []
        if not self.token.is_word("by"):
            aggregates.append(self.parse_aggregate())
            while self.token.is_op(","):
                self.advance()
                aggregates.append(self.parse_aggregate())
        groups: tuple[ast.Assignment, ...] = ()
        if self.accept_word("by"):
            groups = self.parse_assignments()
        if not aggregates and not groups:
            raise self.error("an aggregation or BY")
        return ast.Stats(tuple(aggregates), groups, inline, self.span_from(start))

    def parse_aggregate(self) -> ast.Aggregate:
        assignment = self.parse_assignment()
        where = None
        if self.accept_word("where"):
            where = self.parse_boolean()
        return ast.Aggregate(assignment.name, assignment.value, where, self.span_from(
            assignment.span or self.token.span))

    def parse_assignments(self) -> tuple[ast.Assignment, ...]:
        items = [self.parse_assignment()]
        while self.token.is_op(","):
            self.advance()
            items.append(self.parse_assignment())
        return tuple(items)

    def parse_assignment(self) -> ast.Assignment:
        start = self.token.span
        if self.token.kind in (Kind.IDENT, Kind.QUOTED_IDENT) and not self._is_call_start():
            saved = (self.token, self.lexer.pos, self.lexer.line, self.lexer.line_start,
                     self.last_end)
            name = self.parse_name()
            if self.token.is_op("="):
                self.advance()
                value = self.parse_boolean()
                return ast.Assignment(name, value, self.span_from(start))
            self.token, self.lexer.pos, self.lexer.line, self.lexer.line_start, \
                self.last_end = saved
        value = self.parse_boolean()
        span = self.span_from(start)
        name = value.name if isinstance(value, ast.Column) else self.source_text(span)
        return ast.Assignment(name, value, span)

    def _is_call_start(self) -> bool:
        rest = self.text[self.token.span.end:]
        return rest.lstrip(" \t\r\n").startswith("(")

    def parse_rename(self) -> tuple[str, str]:
        old = self.parse_name()
        if self.accept_word("as"):
            return old, self.parse_name()
        self.expect_op("=")  # newer form: RENAME new = old
        return self.parse_name(), old

    def parse_order(self) -> ast.Order:
        start = self.token.span
        value = self.parse_boolean()
        ascending = True
        if self.token.is_word("asc", "desc"):
            ascending = self.advance().text.lower() == "asc"
        nulls_first = None
        if self.accept_word("nulls"):
            if not self.token.is_word("first", "last"):
                raise self.error("FIRST or LAST")
            nulls_first = self.advance().text.lower() == "first"
        return ast.Order(value, ascending, nulls_first, self.span_from(start))

    def parse_completion(self, start: Span) -> ast.Completion:
        name = "completion"
        assignment = self.parse_assignment()
        if assignment.span and self.source_text(assignment.span) != assignment.name:
            name = assignment.name
        options = None
        if self.accept_word("with"):
            options = self.parse_map()
        return ast.Completion(name, assignment.value, options, self.span_from(start))

    # -- names ----------------------------------------------------------------------------

    def parse_name(self) -> str:
        """A qualified name: `host.os.type`, `@timestamp`, `` `weird name` ``, `_id`."""
        parts = [self._name_part()]
        while self.token.is_op(".") and self.token.span.start == self.last_end:
            self.advance()
            parts.append(self._name_part())
        return ".".join(parts)

    def _name_part(self) -> str:
        token = self.token
        if token.kind not in (Kind.IDENT, Kind.QUOTED_IDENT):
            raise self.error("a field name")
        self.advance()
        return token.text

    def parse_pattern(self) -> str:
        """A KEEP/DROP name pattern: `host.name`, `Esql.*`, `*`, `process.*.name`."""
        parts: list[str] = []
        start = self.token.span
        while True:
            token = self.token
            adjacent = not parts or token.span.start == self.last_end
            if not adjacent:
                break
            if token.kind in (Kind.IDENT, Kind.QUOTED_IDENT) or token.is_op("*", "."):
                parts.append(token.text)
                self.advance()
                continue
            break
        if not parts:
            raise self.error("a field name or pattern")
        pattern = "".join(parts)
        if pattern.startswith(".") or pattern.endswith("."):
            raise EsqlSyntaxError(f"invalid name pattern {pattern!r}", self.span_from(start),
                                  text=self.text)
        return pattern

    # -- expressions ----------------------------------------------------------------------

    def parse_boolean(self) -> ast.Expr:
        start = self.token.span
        left = self.parse_and()
        while self.accept_word("or"):
            left = ast.Binary("or", left, self.parse_and(), self.span_from(start))
        return left

    def parse_and(self) -> ast.Expr:
        start = self.token.span
        left = self.parse_not()
        while self.accept_word("and"):
            left = ast.Binary("and", left, self.parse_not(), self.span_from(start))
        return left

    def parse_not(self) -> ast.Expr:
        start = self.token.span
        if self.accept_word("not"):
            return ast.Unary("not", self.parse_not(), self.span_from(start))
        return self.parse_predicate()

    def parse_predicate(self) -> ast.Expr:
        start = self.token.span
        value = self.parse_additive()
        token = self.token
        if token.kind is Kind.OP and token.text in COMPARISONS:
            self.advance()
            return ast.Binary(token.text, value, self.parse_additive(), self.span_from(start))
        if token.is_op(":"):
            self.advance()
            return ast.Match(value, self.parse_additive(), self.span_from(start))
        negated = self.accept_word("not")
        if self.accept_word("in"):
            self.expect_op("(")
            items = [self.parse_boolean()]
            while self.token.is_op(","):
                self.advance()
                items.append(self.parse_boolean())
            self.expect_op(")")
            return ast.In(value, tuple(items), negated, self.span_from(start))
        if self.token.is_word("like", "rlike"):
            regex = self.advance().text.lower() == "rlike"
            patterns = self.parse_patterns()
            return ast.Like(value, patterns, regex, negated, self.span_from(start))
        if negated:
            raise self.error("IN, LIKE or RLIKE after NOT")
        if self.accept_word("is"):
            negated = self.accept_word("not")
            if not self.token.is_word("null"):
                raise self.error("NULL")
            self.advance()
            return ast.IsNull(value, negated, self.span_from(start))
        return value

    def parse_patterns(self) -> tuple[str, ...]:
        if self.token.is_op("("):  # LIKE ("a*", "b*")
            self.advance()
            patterns = [self.parse_string()]
            while self.token.is_op(","):
                self.advance()
                patterns.append(self.parse_string())
            self.expect_op(")")
            return tuple(patterns)
        return (self.parse_string(),)

    def parse_string(self) -> str:
        if self.token.kind is not Kind.STRING:
            raise self.error("a string")
        return self.advance().text

    def parse_additive(self) -> ast.Expr:
        start = self.token.span
        left = self.parse_multiplicative()
        while self.token.is_op("+", "-"):
            op = self.advance().text
            left = ast.Binary(op, left, self.parse_multiplicative(), self.span_from(start))
        return left

    def parse_multiplicative(self) -> ast.Expr:
        start = self.token.span
        left = self.parse_unary()
        while self.token.is_op("*", "/", "%"):
            op = self.advance().text
            left = ast.Binary(op, left, self.parse_unary(), self.span_from(start))
        return left

    def parse_unary(self) -> ast.Expr:
        start = self.token.span
        if self.token.is_op("-", "+"):
            op = self.advance().text
            operand = self.parse_unary()
            if op == "+":
                return operand
            if isinstance(operand, ast.Literal) and isinstance(operand.value, int | float) \
                    and not isinstance(operand.value, bool):
                return ast.Literal(-operand.value, self.span_from(start))
            return ast.Unary("-", operand, self.span_from(start))
        return self.parse_primary()

    def parse_primary(self) -> ast.Expr:
        start = self.token.span
        value = self.parse_atom()
        while self.token.is_op("::"):
            self.advance()
            if self.token.kind is not Kind.IDENT:
                raise self.error("a data type")
            value = ast.Cast(value, self.advance().text.lower(), self.span_from(start))
        return value

    def parse_atom(self) -> ast.Expr:
        token = self.token
        start = token.span
        if token.kind is Kind.STRING:
            self.advance()
            return ast.Literal(token.text, start)
        if token.kind in (Kind.INTEGER, Kind.DECIMAL):
            self.advance()
            number: int | float = int(token.text) if token.kind is Kind.INTEGER \
                else float(token.text)
            unit = self.token
            if unit.kind is Kind.IDENT and unit.text.lower() in TIME_UNITS \
                    and token.kind is Kind.INTEGER:
                self.advance()
                return ast.TimeSpan(int(number), TIME_UNITS[unit.text.lower()],
                                    self.span_from(start))
            return ast.Literal(number, start)
        if token.is_op("("):
            self.advance()
            inner = self.parse_boolean()
            self.expect_op(")")
            return inner
        if token.is_op("["):
            self.advance()
            items = [self._constant()]
            while self.token.is_op(","):
                self.advance()
                items.append(self._constant())
            self.expect_op("]")
            return ast.Literal(tuple(items), self.span_from(start))
        if token.is_op("{"):
            return self.parse_map()
        if token.kind is Kind.IDENT:
            word = token.text.lower()
            if word in ("null", "true", "false") and not self._is_call_start():
                self.advance()
                return ast.Literal(None if word == "null" else word == "true", start)
            if self._is_call_start():
                return self.parse_call()
        if token.kind in (Kind.IDENT, Kind.QUOTED_IDENT):
            return ast.Column(self.parse_name(), self.span_from(start))
        raise self.error("an expression")

    def _constant(self) -> Any:
        value = self.parse_unary()
        if not isinstance(value, ast.Literal):
            raise self.error("a constant")
        return value.value

    def parse_call(self) -> ast.Call:
        start = self.token.span
        name = self.advance().text.upper()
        self.expect_op("(")
        args: list[ast.Expr] = []
        if self.token.is_op("*"):
            args.append(ast.Star(self.advance().span))
        elif not self.token.is_op(")"):
            args.append(self.parse_boolean())
            while self.token.is_op(","):
                self.advance()
                args.append(self.parse_boolean())
        self.expect_op(")")
        return ast.Call(name, tuple(args), self.span_from(start))

    def parse_map(self) -> ast.MapLiteral:
        start = self.expect_op("{").span
        entries: list[tuple[str, Any]] = []
        while not self.token.is_op("}"):
            if entries:
                self.expect_op(",")
            key = self.parse_string()
            self.expect_op(":")
            entries.append((key, self._constant()))
        self.advance()
        return ast.MapLiteral(tuple(entries), self.span_from(start))
