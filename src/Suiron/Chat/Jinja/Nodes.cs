namespace Suiron.Chat.Jinja;

// The syntax tree, shaped after Jinja2's jinja2.nodes. Immutable once parsed, so one parsed
// template renders on many threads at once.

internal abstract record Node(int Line);

// ---- statements ----

internal abstract record Statement(int Line) : Node(Line);

internal sealed record TextStatement(string Text, int Line) : Statement(Line);

internal sealed record PrintStatement(Expression Value, int Line) : Statement(Line);

internal sealed record IfStatement(List<(Expression Test, List<Statement> Body)> Branches, List<Statement> Else, int Line) : Statement(Line);

internal sealed record ForStatement(AssignTarget Target, Expression Iterable, Expression? Filter, bool Recursive, List<Statement> Body, List<Statement> Else, int Line) : Statement(Line);

internal sealed record SetStatement(AssignTarget Target, Expression Value, int Line) : Statement(Line);

/// <summary><c>{% set x | filter %}body{% endset %}</c>: the rendered body, optionally filtered, is assigned.</summary>
internal sealed record SetBlockStatement(AssignTarget Target, FilterExpression? Filter, List<Statement> Body, int Line) : Statement(Line);

internal sealed record MacroNode(string Name, List<string> Parameters, List<Expression> Defaults, List<Statement> Body,
    bool UsesCaller, bool UsesVarargs, bool UsesKwargs, int Line) : Statement(Line);

internal sealed record CallBlockStatement(CallExpression Call, MacroNode Caller, int Line) : Statement(Line);

/// <summary><c>{% filter f %}body{% endfilter %}</c>; <see cref="Filter"/> has a null input that stands for the body.</summary>
internal sealed record FilterBlockStatement(FilterExpression Filter, List<Statement> Body, int Line) : Statement(Line);

internal sealed record WithStatement(List<(AssignTarget Target, Expression Value)> Assignments, List<Statement> Body, int Line) : Statement(Line);

internal sealed record BreakStatement(int Line) : Statement(Line);

internal sealed record ContinueStatement(int Line) : Statement(Line);

// ---- assignment targets ----

internal abstract record AssignTarget(int Line);

internal sealed record NameTarget(string Name, int Line) : AssignTarget(Line);

internal sealed record TupleTarget(List<AssignTarget> Items, int Line) : AssignTarget(Line);

/// <summary><c>{% set ns.attr = … %}</c>.</summary>
internal sealed record NamespaceTarget(string Name, string Attribute, int Line) : AssignTarget(Line);

// ---- expressions ----

internal abstract record Expression(int Line) : Node(Line);

internal sealed record ConstantExpression(object? Value, int Line) : Expression(Line);

internal sealed record NameExpression(string Name, int Line) : Expression(Line);

internal sealed record ListExpression(List<Expression> Items, int Line) : Expression(Line);

internal sealed record TupleExpression(List<Expression> Items, int Line) : Expression(Line);

internal sealed record DictExpression(List<(Expression Key, Expression Value)> Items, int Line) : Expression(Line);

internal sealed record AttributeExpression(Expression Target, string Attribute, int Line) : Expression(Line);

internal sealed record ItemExpression(Expression Target, Expression Key, int Line) : Expression(Line);

internal sealed record SliceExpression(Expression? Start, Expression? Stop, Expression? Step, int Line) : Expression(Line);

internal sealed record CallArguments(List<Expression> Positional, List<(string Name, Expression Value)> Keywords, Expression? DynamicPositional, Expression? DynamicKeywords)
{
    public static readonly CallArguments Empty = new([], [], null, null);
}

internal sealed record CallExpression(Expression Function, CallArguments Arguments, int Line) : Expression(Line);

/// <summary><c>input | name(args)</c>; a null <see cref="Input"/> inside filter blocks and <c>set</c> blocks.</summary>
internal sealed record FilterExpression(Expression? Input, string Name, CallArguments Arguments, int Line) : Expression(Line);

internal sealed record TestExpression(Expression Input, string Name, CallArguments Arguments, int Line) : Expression(Line);

internal sealed record BinaryExpression(string Operator, Expression Left, Expression Right, int Line) : Expression(Line);

internal sealed record UnaryExpression(string Operator, Expression Operand, int Line) : Expression(Line);

/// <summary>Python comparison chain: <c>a &lt; b &lt;= c</c> means <c>a &lt; b and b &lt;= c</c>.</summary>
internal sealed record CompareExpression(Expression First, List<(string Operator, Expression Operand)> Rest, int Line) : Expression(Line);

/// <summary><c>a if test else b</c>; without else, a false test gives Undefined.</summary>
internal sealed record ConditionalExpression(Expression Test, Expression Then, Expression? Else, int Line) : Expression(Line);

internal sealed record AndExpression(Expression Left, Expression Right, int Line) : Expression(Line);

internal sealed record OrExpression(Expression Left, Expression Right, int Line) : Expression(Line);

internal sealed record NotExpression(Expression Operand, int Line) : Expression(Line);

/// <summary><c>a ~ b ~ c</c>: string concatenation of the str() of each part.</summary>
internal sealed record ConcatExpression(List<Expression> Parts, int Line) : Expression(Line);
