/* A recursive-descent evaluator for the calculator tool:
 *   expr   = term { ("+" | "-") term }
 *   term   = unary { ("*" | "/" | "%") unary }
 *   unary  = ("-" | "+") unary | power
 *   power  = atom [ ("^" | "**") unary ]        (right-associative)
 *   atom   = number | "(" expr ")"                                                        */
#include "calc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct calc {
    const char *p;
    int depth;
    ipw_errbuf *eb;
    ipw_err err;
};

static void skip(struct calc *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
        c->p++;
}

static double fail(struct calc *c, const char *what)
{
    if (c->err == IPW_OK)
        c->err = ipw_fail(c->eb, IPW_E_INVALID, "calculator: %s at \"%.20s\"", what, c->p);
    return 0;
}

static double expr(struct calc *c);
static double unary(struct calc *c);

static double atom(struct calc *c)
{
    skip(c);
    if (*c->p == '(') {
        c->p++;
        double v = expr(c);
        skip(c);
        if (*c->p != ')')
            return fail(c, "missing ')'");
        c->p++;
        return v;
    }
    if ((*c->p >= '0' && *c->p <= '9') || *c->p == '.') {
        char *end;
        double v = strtod(c->p, &end);
        if (end == c->p)
            return fail(c, "bad number");
        c->p = end;
        return v;
    }
    return fail(c, *c->p ? "expected a number or '('" : "unexpected end");
}

static double power(struct calc *c)
{
    double b = atom(c);
    skip(c);
    if (*c->p == '^' || (c->p[0] == '*' && c->p[1] == '*')) {
        c->p += *c->p == '^' ? 1 : 2;
        double e = unary(c);
        return pow(b, e);
    }
    return b;
}

static double unary(struct calc *c)
{
    if (++c->depth > IPW_CALC_MAX_DEPTH) {
        c->depth--;
        return fail(c, "expression nested too deeply");
    }
    skip(c);
    double v;
    if (*c->p == '-') {
        c->p++;
        v = -unary(c);
    } else if (*c->p == '+') {
        c->p++;
        v = unary(c);
    } else {
        v = power(c);
    }
    c->depth--;
    return v;
}

static double term(struct calc *c)
{
    double v = unary(c);
    for (;;) {
        skip(c);
        char op = *c->p;
        if ((op != '*' && op != '/' && op != '%') || (op == '*' && c->p[1] == '*') ||
            c->err != IPW_OK)
            return v;
        c->p++;
        double r = unary(c);
        if (op == '*')
            v *= r;
        else if (r == 0)
            return fail(c, "division by zero");
        else
            v = op == '/' ? v / r : fmod(v, r);
    }
}

static double expr(struct calc *c)
{
    if (++c->depth > IPW_CALC_MAX_DEPTH) {
        c->depth--;
        return fail(c, "expression nested too deeply");
    }
    double v = term(c);
    for (;;) {
        skip(c);
        char op = *c->p;
        if ((op != '+' && op != '-') || c->err != IPW_OK)
            break;
        c->p++;
        double r = term(c);
        v = op == '+' ? v + r : v - r;
    }
    c->depth--;
    return v;
}

ipw_err ipw_calc_eval(const char *s, double *out, ipw_errbuf *eb)
{
    *out = 0;
    if (strlen(s) > IPW_CALC_MAX_LEN)
        return ipw_fail(eb, IPW_E_RANGE, "calculator: the expression is longer than %d bytes",
                        IPW_CALC_MAX_LEN);
    struct calc c = {s, 0, eb, IPW_OK};
    double v = expr(&c);
    skip(&c);
    if (c.err == IPW_OK && *c.p)
        fail(&c, "unexpected text");
    if (c.err == IPW_OK && !isfinite(v))
        c.err = ipw_fail(eb, IPW_E_RANGE, "calculator: the result is not a finite number");
    if (c.err == IPW_OK)
        *out = v;
    return c.err;
}
