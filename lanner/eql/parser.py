"""Recursive-descent parser for Elasticsearch EQL, following its grammar's precedence exactly.

Precedence, loosest first: `or`, `and`, `not`, comparison (`==` `!=` `<` `<=` `>` `>=`, not
chainable), `+ -`, `* / %`, unary minus, then a primary with at most one predicate (`in`, `:`,
`like`, `regex` and their `~` forms) attached. Constructs Elasticsearch rejects are recognised
and reported by name instead of failing as plain syntax errors.
"""

from __future__ import annotations

import difflib

from lanner.eql import ast
from lanner.eql.errors import EqlSemanticError, EqlSyntaxError, EqlUnsupportedError, Span
from lanner.eql.functions import FOREIGN_FUNCTIONS, FUNCTIONS, lookup
from lanner.eql.tokens import KEYWORDS, Token, TokenKind, tokenize

K = TokenKind

COMPARISON_OPS: dict[TokenKind, ast.ComparisonOp] = {
    K.EQ: ast.ComparisonOp.EQ, K.NEQ: ast.ComparisonOp.NEQ, K.LT: ast.ComparisonOp.LT,
    K.LTE: ast.ComparisonOp.LTE, K.GT: ast.ComparisonOp.GT, K.GTE: ast.ComparisonOp.GTE,
}
ADDITIVE_OPS = {K.PLUS: ast.ArithmeticOp.ADD, K.MINUS: ast.ArithmeticOp.SUB}
MULTIPLICATIVE_OPS = {
    K.STAR: ast.ArithmeticOp.MUL, K.SLASH: ast.ArithmeticOp.DIV, K.PERCENT: ast.ArithmeticOp.MOD,
}
MATCH_KINDS = {
    K.COLON: ast.MatchKind.COLON, K.LIKE: ast.MatchKind.LIKE, K.LIKE_I: ast.MatchKind.LIKE_I,
    K.REGEX: ast.MatchKind.REGEX, K.REGEX_I: ast.MatchKind.REGEX_I,
}
CONSTANTS = frozenset({K.STRING, K.INTEGER, K.DECIMAL, K.TRUE, K.FALSE, K.NULL})
FIELD_STARTS = frozenset({K.IDENT, K.QUOTED_IDENT, K.QUESTION})
PIPES = ("head", "tail")
FOREIGN_PIPES = ("count", "filter", "sort", "unique", "unique_count")
MAX_RUNS = 100
# Levels of nesting (parentheses, calls, `in` lists, `not`, signs) a query may open. The rule
# corpus needs at most 8 (tests/eql/test_limits.py measures it); at this depth the parser, the
# checks and the printer stay well inside Python's stack, so an over-deep query is a typed
# error, not a RecursionError. Flat chains (`a or b or …`, `1 + 1 + …`) do not nest: no limit.
MAX_DEPTH = 64


def parse_expression(text: str) -> ast.Expr:
    """Parse a bare condition, as found inside `where` (used by tools and tests)."""
    parser = Parser(text)
    expr = parser._parse_expression()
    parser._expect(K.EOF, "the end of the expression")
    return expr


def describe(token: Token) -> str:
    """How a token is named in 'found …': its text, quoted, or 'end of query'."""
    if token.kind is K.EOF:
        return "end of query"
    text = token.text if len(token.text) <= 40 else token.text[:37] + "…"
    found = f"'{text}'"
    if token.kind is K.IDENT and token.text.lower() in KEYWORDS:
        found += f" (keywords are lowercase: '{token.text.lower()}')"
    return found


class Parser:
    """One parser per query text; `_parse_*` methods consume tokens left to right."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.tok = self.tokens[0]
        self.prev = self.tok
        self.depth = 0  # levels of nesting open at the cursor
        self.deepest = 0  # the most levels open at any point so far

    # ------------------------------------------------------------------ cursor helpers

    def _advance(self) -> Token:
        tok = self.tok
        self.prev = tok
        if tok.kind is not K.EOF:
            self.pos += 1
            self.tok = self.tokens[self.pos]
        return tok

    def _peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def _match(self, kind: TokenKind) -> Token | None:
        if self.tok.kind is kind:
            return self._advance()
        return None

    def _expect(self, kind: TokenKind, expected: str) -> Token:
        if self.tok.kind is kind:
            return self._advance()
        raise self._syntax_error(expected)

    def _syntax_error(self, expected: str, token: Token | None = None) -> EqlSyntaxError:
        token = token or self.tok
        return EqlSyntaxError(expected, describe(token), token.span, text=self.text)

    def _unsupported(self, construct: str, hint: str, span: Span) -> EqlUnsupportedError:
        return EqlUnsupportedError(construct, hint, span, text=self.text)

    def _span_from(self, start: Token | Span) -> Span:
        """From the start of `start` to the end of the last consumed token."""
        first = start.span if isinstance(start, Token) else start
        return Span(first.start, max(self.prev.span.end, first.end), first.line, first.col)

    def _source(self, span: Span) -> str:
        return self.text[span.start:span.end]

    # ------------------------------------------------------------------ queries

    def parse_query(self) -> ast.Query:
        start = self.tok
        if start.kind is K.SEQUENCE:
            query: ast.Query = self._parse_sequence()
        elif start.kind is K.SAMPLE:
            query = self._parse_sample()
        elif start.kind is K.JOIN:
            raise self._unsupported("'join'", "use 'sequence', with 'by' for the shared keys",
                                    start.span)
        elif start.kind in (K.ANY, K.IDENT, K.STRING):
            event_filter = self._parse_event_filter()
            query = ast.EventQuery(self._parse_pipes(), event_filter, span=self._span_from(start))
        else:
            raise self._syntax_error(
                "a query: 'sequence', 'sample', 'any where …' or '<category> where …'")
        self._expect(K.EOF, "'|' and a pipe, or the end of the query")
        return query

    def _parse_pipes(self) -> tuple[ast.Pipe, ...]:
        pipes: list[ast.Pipe] = []
        while self.tok.kind is K.PIPE:
            start = self._advance()
            name_tok = self.tok
            if name_tok.kind is not K.IDENT:
                raise self._syntax_error("a pipe name: 'head' or 'tail'")
            name = name_tok.text
            if name in FOREIGN_PIPES:
                raise self._unsupported(f"the '{name}' pipe", "only 'head' and 'tail' are",
                                        name_tok.span)
            if name not in PIPES:
                close = difflib.get_close_matches(name, PIPES + FOREIGN_PIPES, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise EqlSyntaxError(f"a pipe name: 'head' or 'tail'{hint}", describe(name_tok),
                                     name_tok.span, text=self.text)
            self._advance()
            count_tok = self.tok
            if count_tok.kind is not K.INTEGER:
                raise EqlSemanticError(
                    f"pipe [{name}] expects a positive integer, found {describe(count_tok)}",
                    count_tok.span, code="pipe-argument", text=self.text)
            self._advance()
            if self.tok.kind is K.COMMA:
                raise EqlSemanticError(f"pipe [{name}] expects exactly one argument",
                                       self.tok.span, code="pipe-argument", text=self.text)
            pipes.append(ast.Pipe(ast.PipeKind(name), count_tok.value,  # type: ignore[arg-type]
                                  span=self._span_from(start)))
        return tuple(pipes)

    def _parse_event_filter(self) -> ast.EventFilter:
        start = self.tok
        category: str | None
        if start.kind is K.ANY:
            category = None
        elif start.kind is K.IDENT:
            category = start.text
        elif start.kind is K.STRING:
            category = start.value  # type: ignore[assignment]
        else:
            raise self._syntax_error("an event category or 'any'")
        self._advance()
        if self.tok.kind is not K.WHERE:
            if self.tok.kind is K.DOT:
                raise self._syntax_error(
                    "'where' after the event category (write 'any where …' to match every "
                    "category)")
            raise self._syntax_error("'where'")
        self._advance()
        condition = self._parse_expression()
        return ast.EventFilter(category, condition, span=self._span_from(start))

    def _parse_join_keys(self) -> tuple[ast.Field, ...]:
        """`by k1, k2`: every key must be a field, as Elasticsearch requires."""
        self._expect(K.BY, "'by'")
        keys = []
        while True:
            start = self.tok
            expr = self._parse_expression()
            if not isinstance(expr, ast.Field):
                span = self._span_from(start)
                raise self._unsupported(
                    f"the join key '{self._source(span)}'", "join keys must be plain fields",
                    span)
            keys.append(expr)
            if not self._match(K.COMMA):
                return tuple(keys)

    def _parse_maxspan(self) -> ast.TimeSpan:
        self._expect(K.WITH, "'with'")
        if self.tok.kind is K.IDENT and self.tok.text == "runs":
            raise self._syntax_error("'maxspan=' ('with runs=' belongs after a stage)")
        self._expect(K.MAXSPAN, "'maxspan'")
        self._expect(K.ASSIGN, "'=' after maxspan")
        number = self.tok
        if number.kind is K.DECIMAL:
            raise EqlSemanticError(
                f"decimal time interval [{number.text}] is not supported; use a positive "
                "integer and a smaller unit (500ms, not 0.5s)", number.span, code="maxspan",
                text=self.text)
        if number.kind is not K.INTEGER:
            raise self._syntax_error("a time span such as 30s, 5m, 1h or 1d")
        self._advance()
        if number.value <= 0:  # type: ignore[operator]
            raise EqlSemanticError(f"a positive maxspan value is required; found [{number.text}]",
                                   number.span, code="maxspan", text=self.text)
        unit = self.tok
        if unit.kind is not K.IDENT:
            raise EqlSemanticError(
                f"no time unit specified, did you mean [s] as in [{number.text}s]?",
                number.span, code="maxspan", text=self.text)
        if unit.text not in ast.TimeSpan.UNITS_MS:
            raise EqlSemanticError(
                f"unrecognized time unit [{unit.text}] in [{number.text}{unit.text}], "
                "please specify one of [ms, s, m, h, d]", unit.span, code="maxspan",
                text=self.text)
        self._advance()
        return ast.TimeSpan(number.value, unit.text,  # type: ignore[arg-type]
                            span=self._span_from(number))

    def _parse_stage(self, *, allow_missing: bool, allow_runs: bool) -> ast.Stage:
        start = self.tok
        missing = start.kind is K.MISSING_OPEN
        if missing and not allow_missing:
            raise self._unsupported("a missing-event stage '![…]' here",
                                    "'![…]' stages belong in a sequence, before 'until'",
                                    start.span)
        if not missing and start.kind is not K.LBRACKET:
            raise self._syntax_error("'[' to open a stage")
        self._advance()
        event_filter = self._parse_event_filter()
        self._expect(K.RBRACKET, "']' to close the stage")
        if self.tok.kind is K.IDENT and self.tok.text == "fork":
            raise self._unsupported("'fork'", "remove it", self.tok.span)
        keys = self._parse_join_keys() if self.tok.kind is K.BY else ()
        runs = 1
        if self.tok.kind is K.WITH:
            with_tok = self._advance()
            key = self.tok
            if key.kind is K.MAXSPAN:
                raise self._syntax_error(
                    "'runs=' ('with maxspan=' belongs right after 'sequence [by …]')")
            if key.kind is not K.IDENT or key.text != "runs":
                raise self._syntax_error("'runs=' after 'with'")
            if not allow_runs:
                raise self._unsupported("'with runs' here", "it applies to sequence stages only",
                                        with_tok.span)
            self._advance()
            self._expect(K.ASSIGN, "'=' after runs")
            value = self.tok
            if value.kind is not K.INTEGER:
                raise self._syntax_error("a whole number of runs (1 to 100)")
            self._advance()
            runs = value.value  # type: ignore[assignment]
            if not 1 <= runs <= MAX_RUNS:
                raise EqlSemanticError(
                    f"runs must be between 1 and {MAX_RUNS}; found [{value.text}]", value.span,
                    code="runs", text=self.text)
        return ast.Stage(event_filter, keys, runs, missing, span=self._span_from(start))

    def _check_key_counts(self, stages: list[ast.Stage], shared: int) -> None:
        expected = len(stages[0].keys)
        for stage in stages[1:]:
            if len(stage.keys) != expected:
                raise EqlSemanticError(
                    "inconsistent number of join keys specified; expected "
                    f"[{expected}] but found [{len(stage.keys)}]", stage.span,
                    code="join-keys", text=self.text)
        del shared  # the shared keys are the same for every stage by construction

    def _parse_sequence(self) -> ast.Sequence:
        start = self._advance()
        keys: tuple[ast.Field, ...] = ()
        maxspan = None
        if self.tok.kind is K.BY:
            keys = self._parse_join_keys()
        if self.tok.kind is K.WITH:
            maxspan = self._parse_maxspan()
            if self.tok.kind is K.BY:
                raise EqlSemanticError("please specify sequence [by] before [with] not after",
                                       self.tok.span, code="syntax", text=self.text)
        stages: list[ast.Stage] = []
        while self.tok.kind in (K.LBRACKET, K.MISSING_OPEN):
            stages.append(self._parse_stage(allow_missing=True, allow_runs=True))
        until = None
        if self.tok.kind is K.UNTIL:
            self._advance()
            until = self._parse_stage(allow_missing=False, allow_runs=False)
        if not stages:
            raise self._syntax_error("'[' to open the first stage of the sequence")
        self._check_key_counts([*stages, *([until] if until else [])], len(keys))
        span = self._span_from(start)
        if sum(stage.runs for stage in stages) < 2:
            raise EqlSemanticError(
                "a sequence needs at least two stages (counting 'with runs')", span,
                code="sequence", text=self.text)
        if any(stage.missing for stage in stages):
            first_missing = next(stage for stage in stages if stage.missing)
            if maxspan is None:
                raise EqlSemanticError(
                    "a sequence with missing-event stages '![…]' needs 'with maxspan=…'",
                    first_missing.span, code="sequence", text=self.text)
            if all(stage.missing for stage in stages):
                raise EqlSemanticError(
                    "a sequence needs at least one stage that is not a missing event",
                    first_missing.span, code="sequence", text=self.text)
        pipes = self._parse_pipes()
        return ast.Sequence(pipes, keys, maxspan, tuple(stages), until,
                            span=self._span_from(start))

    def _parse_sample(self) -> ast.Sample:
        start = self._advance()
        keys: tuple[ast.Field, ...] = ()
        if self.tok.kind is K.BY:
            keys = self._parse_join_keys()
        if self.tok.kind is K.WITH:
            raise self._unsupported("'with maxspan' on a sample",
                                    "samples have no time constraint", self.tok.span)
        stages: list[ast.Stage] = []
        while self.tok.kind in (K.LBRACKET, K.MISSING_OPEN):
            stages.append(self._parse_stage(allow_missing=False, allow_runs=False))
        if not stages:
            raise self._syntax_error("'[' to open the first filter of the sample")
        if self.tok.kind is K.UNTIL:
            raise self._unsupported("'until' in a sample", "only sequences have it",
                                    self.tok.span)
        self._check_key_counts(stages, len(keys))
        if self.tok.kind is K.PIPE:
            raise self._unsupported("a pipe after a sample",
                                    "limit samples with the request's size instead",
                                    self.tok.span)
        return ast.Sample((), keys, tuple(stages), span=self._span_from(start))

    # ------------------------------------------------------------------ expressions

    def _enter(self, token: Token) -> None:
        """One level deeper (a group, call, `in` list, `not` or sign); too deep is an error."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise EqlSemanticError(
                f"the query nests more than {MAX_DEPTH} levels deep (parentheses, function "
                "calls, 'in' lists, 'not' and signs); Elasticsearch also rejects over-deep "
                "expressions", token.span, code="too-deep", text=self.text)
        if self.depth > self.deepest:
            self.deepest = self.depth

    def _parse_expression(self) -> ast.Expr:
        """`or` of `and`s of terms, each flattened: parentheses do not change the meaning.

        Both chains are loops, so `a or b or …` of any length takes no extra stack.
        """
        start = self.tok
        or_terms: list[ast.Expr] = []
        while True:
            term_start = self.tok
            term = self._parse_not()
            if self.tok.kind is K.AND:
                and_terms = list(term.terms) if isinstance(term, ast.And) else [term]
                while self._match(K.AND):
                    right = self._parse_not()
                    and_terms.extend(right.terms if isinstance(right, ast.And) else (right,))
                term = ast.And(tuple(and_terms), span=self._span_from(term_start))
            if not or_terms and self.tok.kind is not K.OR:
                return term
            or_terms.extend(term.terms if isinstance(term, ast.Or) else (term,))
            if not self._match(K.OR):
                return ast.Or(tuple(or_terms), span=self._span_from(start))

    def _parse_not(self) -> ast.Expr:
        nots: list[Token] = []
        while self.tok.kind is K.NOT:
            self._enter(self.tok)
            nots.append(self._advance())
        start = self.tok
        if start.kind is K.IDENT and self._peek().kind is K.OF:
            raise self._unsupported(
                f"the lineage test '{start.text} of'",
                "correlate processes with a sequence by process.entity_id instead",
                start.span)
        expr = self._parse_comparison()
        for token in reversed(nots):
            expr = ast.Not(expr, span=self._span_from(token))
        self.depth -= len(nots)
        return expr

    def _parse_comparison(self) -> ast.Expr:
        start = self.tok
        left = self._parse_additive()
        op_tok = self.tok
        op = COMPARISON_OPS.get(op_tok.kind)
        if op is None:
            if op_tok.kind is K.ASSIGN:
                raise self._unsupported("'=' as a comparison", "use '=='", op_tok.span)
            return left
        self._advance()
        right = self._parse_additive()
        if self.tok.kind in COMPARISON_OPS:
            raise EqlSemanticError(
                "chained comparisons are not supported; combine them with 'and' "
                "(a < b and b <= c)", self.tok.span, code="syntax", text=self.text)
        return ast.Comparison(op, left, right, span=self._span_from(start))

    def _parse_additive(self) -> ast.Expr:
        """`+ -` over `* / %`, both left-associative loops (a long chain takes no stack)."""
        start = self.tok
        left: ast.Expr | None = None
        op: ast.ArithmeticOp | None = None
        while True:
            term_start = self.tok
            term = self._parse_unary()
            while (mul := MULTIPLICATIVE_OPS.get(self.tok.kind)) is not None:
                self._advance()
                right = self._parse_unary()
                term = ast.Arithmetic(mul, term, right, span=self._span_from(term_start))
            if left is None or op is None:
                left = term
            else:
                left = ast.Arithmetic(op, left, term, span=self._span_from(start))
            op = ADDITIVE_OPS.get(self.tok.kind)
            if op is None:
                return left
            self._advance()

    def _parse_unary(self) -> ast.Expr:
        """Signs, read in a loop; `-` of a number folds into the number."""
        signs: list[Token] = []
        while self.tok.kind is K.MINUS or self.tok.kind is K.PLUS:
            self._enter(self.tok)
            signs.append(self._advance())
        expr = self._parse_predicate()
        for sign in reversed(signs):
            if sign.kind is K.PLUS:
                continue
            span = self._span_from(sign)
            if type(expr) is ast.Number:
                expr = ast.Number(-expr.value, span=span)
            else:
                expr = ast.Negate(expr, span=span)
        self.depth -= len(signs)
        return expr

    def _parse_predicate(self) -> ast.Expr:
        start = self.tok
        expr = self._parse_primary()
        kind = self.tok.kind
        if kind is K.NOT and self._peek().kind in (K.IN, K.IN_I):
            self._advance()
            return self._parse_in(expr, start, negated=True)
        if kind is K.IN or kind is K.IN_I:
            return self._parse_in(expr, start, negated=False)
        match_kind = MATCH_KINDS.get(kind)
        if match_kind is not None:
            self._advance()
            patterns = self._parse_patterns(match_kind)
            return ast.Match(match_kind, expr, patterns, span=self._span_from(start))
        return expr

    def _parse_in(self, expr: ast.Expr, start: Token, *, negated: bool) -> ast.Expr:
        self._enter(self.tok)
        insensitive = self._advance().kind is K.IN_I
        self._expect(K.LPAREN, "'(' and a list of values after 'in'")
        values: list[ast.Literal] = []
        while True:
            value_start = self.tok
            value = self._parse_expression()
            if not isinstance(value, ast.Literal):
                span = self._span_from(value_start)
                if any(isinstance(node, ast.Field) for node in value.walk()):
                    raise self._unsupported(
                        f"comparing to a field in a list ('{self._source(span)}')",
                        "the values of 'in' must be literals", span)
                raise EqlSemanticError(
                    f"the values of 'in' must be literals, found '{self._source(span)}'", span,
                    code="in-literal", text=self.text)
            values.append(value)
            if not self._match(K.COMMA):
                break
        self._expect(K.RPAREN, "',' or ')' to close the list")
        self.depth -= 1
        return ast.In(expr, tuple(values), insensitive, negated, span=self._span_from(start))

    def _parse_patterns(self, kind: ast.MatchKind) -> tuple[ast.Literal, ...]:
        if self._match(K.LPAREN):
            patterns = [self._parse_constant(kind)]
            while self._match(K.COMMA):
                patterns.append(self._parse_constant(kind))
            self._expect(K.RPAREN, "',' or ')' to close the list of patterns")
            return tuple(patterns)
        return (self._parse_constant(kind),)

    def _parse_constant(self, kind: ast.MatchKind) -> ast.Literal:
        tok = self.tok
        if tok.kind in CONSTANTS:
            self._advance()
            return self._literal(tok)
        if tok.kind in FIELD_STARTS or tok.kind is K.TILDE_IDENT:
            raise self._unsupported(
                f"comparing to a field or function with '{kind.value}'",
                "the right-hand side must be a literal pattern", tok.span)
        raise self._syntax_error(f"a string pattern after '{kind.value}'")

    def _literal(self, tok: Token) -> ast.Literal:
        kind = tok.kind
        if kind is K.STRING:
            return ast.String(tok.value, span=tok.span)  # type: ignore[arg-type]
        if kind is K.INTEGER or kind is K.DECIMAL:
            return ast.Number(tok.value, span=tok.span)  # type: ignore[arg-type]
        if kind is K.NULL:
            return ast.Null(span=tok.span)
        return ast.Boolean(kind is K.TRUE, span=tok.span)

    def _parse_primary(self) -> ast.Expr:
        tok = self.tok
        kind = tok.kind
        if kind in CONSTANTS:
            self._advance()
            return self._literal(tok)
        if kind is K.IDENT:
            if self._peek().kind is K.LPAREN:
                return self._parse_call()
            return self._parse_field()
        if kind is K.QUOTED_IDENT:
            return self._parse_field()
        if kind is K.QUESTION:
            self._advance()
            if self.tok.kind not in (K.IDENT, K.QUOTED_IDENT):
                raise self._syntax_error("a field name after '?'")
            return self._parse_field(optional_start=tok)
        if kind is K.TILDE_IDENT:
            if self._peek().kind is not K.LPAREN:
                raise self._syntax_error("'(' after a function name", self._peek())
            return self._parse_call()
        if kind is K.LPAREN:
            self._enter(tok)
            self._advance()
            expr = self._parse_expression()
            self._expect(K.RPAREN, "')'")
            self.depth -= 1
            return expr
        raise self._syntax_error(
            "a value: a field, a string, a number, true, false, null, a function call or '('")

    def _parse_field(self, optional_start: Token | None = None) -> ast.Field:
        start = optional_start or self.tok
        parts = [self._advance().value]
        while True:
            kind = self.tok.kind
            if kind is K.DOT:
                self._advance()
                segment = self.tok
                if segment.kind is K.IDENT or segment.kind is K.QUOTED_IDENT:
                    parts.append(segment.value)
                elif segment.text in KEYWORDS or segment.kind is K.INTEGER:
                    parts.append(segment.text)  # keywords are fine after a dot: event.sequence
                else:
                    raise self._syntax_error("a field name after '.'")
                self._advance()
            elif kind is K.LBRACKET and self._peek().kind is K.INTEGER:
                bracket = self._advance()
                raise self._unsupported(
                    "array indexing ('[n]' after a field)",
                    "a condition on an array field matches when any element matches",
                    bracket.span)
            else:
                break
        return ast.Field(".".join(parts), optional_start is not None,  # type: ignore[arg-type]
                         span=self._span_from(start))

    def _parse_call(self) -> ast.FunctionCall:
        name_tok = self._advance()
        insensitive = name_tok.kind is K.TILDE_IDENT
        name = name_tok.value
        spec = lookup(name)  # type: ignore[arg-type]
        if spec is None:
            lowered = name.lower()  # type: ignore[union-attr]
            if lowered in FOREIGN_FUNCTIONS:
                raise self._unsupported(
                    f"the function '{FOREIGN_FUNCTIONS[lowered]}'",
                    "see the Elasticsearch EQL function reference for what is", name_tok.span)
            names = [spec.name for spec in FUNCTIONS.values()]
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)  # type: ignore[arg-type]
            hint = f", did you mean [{close[0]}]?" if close else ""
            raise EqlSemanticError(f"unknown function [{name_tok.text.rstrip('~')}]{hint}",
                                   name_tok.span, code="unknown-function", text=self.text)
        self._expect(K.LPAREN, "'('")
        self._enter(name_tok)
        args: list[ast.Expr] = []
        if self.tok.kind is not K.RPAREN:
            args.append(self._parse_expression())
            while self._match(K.COMMA):
                args.append(self._parse_expression())
        self._expect(K.RPAREN, "',' or ')' to close the arguments")
        self.depth -= 1
        return ast.FunctionCall(spec.name, tuple(args), insensitive,
                                span=self._span_from(name_tok))
